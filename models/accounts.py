"""Tenants and their accounts: users with their SCIM emails, mailed link tokens and failed sign-ins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from models.base import Model, db, folded, new_scim_id, utcnow
from models.member_counts import visible_sql
from models.roles import Role, RoleType
from services.identifiers import fold_profile

# The predicate of ix_users_scim_visible, as each database's planner must find it in a query's WHERE.
SCIM_VISIBLE_SQLITE = visible_sql("", "1")
SCIM_VISIBLE_POSTGRESQL = visible_sql("", "true")


class Tenant(Model):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    learn_scim: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class User(Model):
    __tablename__ = "users"
    __table_args__ = (
        # R5: unique among live accounts only, so a deprovisioned userName can be used again (R8).
        # user_name_clash is 0 except for accounts that only collided when the Unicode fold replaced lower():
        # they keep their own id there, so both stay live (see README, "userName and Unicode").
        Index(
            "uq_users_tenant_user_name",
            "tenant_id",
            "user_name_ci",
            "user_name_clash",
            unique=True,
            sqlite_where=db.text("deprovisioned_at IS NULL"),
            postgresql_where=db.text("deprovisioned_at IS NULL"),
        ),
        Index(
            "uq_users_tenant_external_id",
            "tenant_id",
            "external_id",
            unique=True,
            sqlite_where=db.text("deprovisioned_at IS NULL"),
            postgresql_where=db.text("deprovisioned_at IS NULL"),
        ),
        Index("ix_users_tenant_email_ci", "tenant_id", "email_ci"),
        Index("ix_users_tenant_scim", "tenant_id", "scim_managed", "role"),
        # The members SCIM lists (services.visibility.scim_visible, with the rung as constants: scim.paging), in id
        # order. It carries the columns of its WHERE so that SQLite counts and skips through it alone.
        Index(
            "ix_users_scim_visible",
            "tenant_id",
            "id",
            "scim_managed",
            "role",
            "deprovisioned_at",
            sqlite_where=db.text(SCIM_VISIBLE_SQLITE),
            postgresql_where=db.text(SCIM_VISIBLE_POSTGRESQL),
        ),
        # IdPs match people on their employee number (Entra's matching attribute): an index lookup. It carries the
        # SCIM-visibility columns too, so SQLite (without statistics) prefers it to ix_users_tenant_scim.
        Index("ix_users_tenant_employee_number_ci", "tenant_id", "employee_number_ci", "scim_managed", "role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    scim_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_scim_id)
    user_name: Mapped[str | None] = mapped_column(String(255))
    user_name_ci: Mapped[str | None] = mapped_column(String(255))
    user_name_clash: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    external_id: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    email_ci: Mapped[str | None] = mapped_column(String(320))
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime)
    password_hash: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[Role] = mapped_column(RoleType, default=Role.MEMBER)
    scim_managed: Mapped[bool] = mapped_column(Boolean, default=False)

    display_name: Mapped[str | None] = mapped_column(String(255))
    display_name_ci: Mapped[str | None] = mapped_column(String(255))
    given_name: Mapped[str | None] = mapped_column(String(255))
    given_name_ci: Mapped[str | None] = mapped_column(String(255))
    family_name: Mapped[str | None] = mapped_column(String(255))
    family_name_ci: Mapped[str | None] = mapped_column(String(255))
    # The rest of the SCIM profile (name parts, nickName, locale, phoneNumbers, addresses,
    # enterprise fields ...) is kept as sent; only what we filter or sort on has a column.
    profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # What the filters compare the profile's case-insensitive strings with: the fold cannot run inside SQL, so
    # `profile_ci` holds fold() of every singular string in `profile` by lowercased dotted path (read with the
    # database's JSON operators), and the enterprise employeeNumber, which IdPs match on, has an indexed column.
    profile_ci: Mapped[dict[str, str] | None] = mapped_column(JSON)
    employee_number_ci: Mapped[str | None] = mapped_column(String(255))

    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    deprovisioned_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Optimistic locking: a SCIM write and a dashboard role change that race cannot silently
    # overwrite each other (the loser's UPDATE matches no row and is retried or refused).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Bumped on sign-out and password change; dashboard sessions carry it, so old cookies die.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __mapper_args__ = {"version_id_col": version}

    tenant: Mapped[Tenant] = relationship()
    emails: Mapped[list[UserEmail]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="UserEmail.position"
    )

    # Every `*_ci` column is the fold of its source, set here and nowhere else (SCIM filters compare against it).
    _FOLDED = {
        "user_name": ("user_name_ci", "userName"),
        "email": ("email_ci", "email"),
        "display_name": ("display_name_ci", "displayName"),
        "given_name": ("given_name_ci", "name.givenName"),
        "family_name": ("family_name_ci", "name.familyName"),
    }

    @validates(*_FOLDED)
    def _fill_folded(self, key: str, value: str | None) -> str | None:
        column, label = self._FOLDED[key]
        key_value = folded(self, column, label, value)
        if key == "user_name" and key_value != self.user_name_ci:
            self.user_name_clash = 0  # a new userName is unique like any other; only an old clash is tolerated
        setattr(self, column, key_value)
        return value

    @validates("role")
    def _as_role(self, key: str, value: int | None) -> Role | None:
        """Keep a role set from a number (a form, the CLI) a `Role`, as one read from the database is."""
        return None if value is None else Role(value)

    @validates("profile")
    def _fold_profile(self, key: str, value: dict[str, Any] | None) -> dict[str, Any] | None:
        enterprise = (value or {}).get("enterprise") or {}
        number = enterprise.get("employeeNumber") if isinstance(enterprise, dict) else None
        number = number if isinstance(number, str) else None
        self.employee_number_ci = folded(self, "employee_number_ci", "employeeNumber", number)
        self.profile_ci = fold_profile(value)
        return value

    @property
    def active(self) -> bool:
        """SCIM's `active` is the member rung (R1)."""
        return self.role == Role.MEMBER

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def label(self) -> str:
        """Return a human name for the dashboard."""
        names = " ".join(n for n in (self.given_name, self.family_name) if n)
        return self.display_name or names or self.user_name or self.email or self.scim_id


class UserEmail(Model):
    """One of a user's SCIM emails, kept as sent and indexed for filters."""

    __tablename__ = "user_emails"
    __table_args__ = (Index("ix_user_emails_value_ci", "value_ci"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    value: Mapped[str | None] = mapped_column(String(320))
    value_ci: Mapped[str | None] = mapped_column(String(320))
    type: Mapped[str | None] = mapped_column(String(40))
    type_ci: Mapped[str | None] = mapped_column(String(40))
    primary: Mapped[bool | None] = mapped_column(Boolean)
    display: Mapped[str | None] = mapped_column(String(320))

    user: Mapped[User] = relationship(back_populates="emails")

    @validates("value", "type")
    def _fill_folded(self, key: str, value: str | None) -> str | None:
        column = f"{key}_ci"
        setattr(self, column, folded(self, column, f"emails.{key}", value))
        return value


class EmailToken(Model):
    """A single-use, expiring link token (email verification, set password); stored hashed."""

    __tablename__ = "email_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    user: Mapped[User] = relationship()


class SignInFailure(Model):
    """A failed dashboard sign-in on an admin account, for the notice mailed when the account is paused.

    Kept only as long as the per-account limit counts it; `client` is the address's throttle key
    (IPv4 as is, IPv6 by /64).
    """

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_user_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
