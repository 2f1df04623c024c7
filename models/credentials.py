"""What a tenant admin issues: SCIM bearer credentials (with their first successes) and keys to the public API."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Model, utcnow

if TYPE_CHECKING:
    from models.accounts import Tenant, User


def credential_state(revoked_at: datetime | None, disabled_at: datetime | None) -> str:
    """Name a SCIM credential's state: the one definition of active, disabled and revoked (revoked wins)."""
    if revoked_at:
        return "revoked"
    if disabled_at:
        return "disabled"
    return "active"


class ScimCredential(Model):
    __tablename__ = "scim_credentials"
    __table_args__ = (Index("uq_scim_credentials_tenant_slug", "tenant_id", "slug", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    slug: Mapped[str | None] = mapped_column(String(63))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_hint: Mapped[str] = mapped_column(String(20))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)

    tenant: Mapped[Tenant] = relationship()
    created_by: Mapped[User | None] = relationship()

    @property
    def state(self) -> str:
        return credential_state(self.revoked_at, self.disabled_at)


class ScimCredentialOperation(Model):
    """When a credential first succeeded at one kind of operation: the first-sync checklist reads these few rows."""

    __tablename__ = "scim_credential_operations"

    credential_id: Mapped[int] = mapped_column(
        ForeignKey("scim_credentials.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    operation: Mapped[str] = mapped_column(String(40), primary_key=True)
    first_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ApiKey(Model):
    """A tenant admin's key to the public API at /api/v1: shown once, stored as a digest, limited to its scopes."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_hint: Mapped[str] = mapped_column(String(20))
    # Space-separated, as OAuth writes scopes: a new scope is a new word, not a schema change.
    scopes: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)

    tenant: Mapped[Tenant] = relationship()
    created_by: Mapped[User | None] = relationship()

    @property
    def state(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= utcnow():
            return "expired"
        return "active"

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()
