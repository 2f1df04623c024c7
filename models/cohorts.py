"""Cohorts, the groups of a tenant (SCIM's Groups, R6), and their memberships."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from models.base import db, folded, new_scim_id, utcnow

if TYPE_CHECKING:
    from models.accounts import User


class Cohort(db.Model):
    __tablename__ = "cohorts"
    __table_args__ = (
        # Unique among cohorts SCIM still sees, so a deleted group's name can be reused.
        Index(
            "uq_cohorts_tenant_scim_name",
            "tenant_id",
            "name_ci",
            "name_clash",  # as users.user_name_clash: nonzero only for names that collided under the new fold
            unique=True,
            sqlite_where=db.text("scim_managed AND scim_deleted_at IS NULL"),
            postgresql_where=db.text("scim_managed AND scim_deleted_at IS NULL"),
        ),
        Index("ix_cohorts_tenant_external_id", "tenant_id", "external_id"),
        # R6 ties a group to its externalId, so no two groups SCIM sees share one; a deleted group's is free again.
        Index(
            "uq_cohorts_tenant_scim_external_id",
            "tenant_id",
            "external_id",
            unique=True,
            sqlite_where=db.text("scim_managed AND scim_deleted_at IS NULL"),
            postgresql_where=db.text("scim_managed AND scim_deleted_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    scim_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_scim_id)
    external_id: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    name_ci: Mapped[str] = mapped_column(String(255))
    name_clash: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    scim_managed: Mapped[bool] = mapped_column(Boolean, default=False)
    scim_deleted_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    owner: Mapped[User | None] = relationship()

    @validates("name")
    def _fill_folded(self, key: str, value: str) -> str:
        name_ci = folded(self, "name_ci", "displayName", value)
        if name_ci != self.name_ci:
            self.name_clash = 0
        self.name_ci = name_ci
        return value


class CohortMember(db.Model):
    __tablename__ = "cohort_members"
    __table_args__ = (Index("ix_cohort_members_user", "user_id"),)

    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
