"""SCIM bearer credentials (docs/design.md R9): issued once, stored as a hash, rotated by issuing another."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from models import ScimCredential, Tenant, User, db, utcnow
from models.credentials import credential_state
from services import bearer_secrets, driver_reads
from services.errors import Conflict, InvalidInput
from services.transactions import for_write, write_transaction
from services.validation import SLUG

TOKEN_PREFIX = "ms_scim_"  # noqa: S105 - a public prefix, not a secret


def issue(
    tenant: Tenant, name: str, slug: str | None = None, created_by: User | None = None
) -> tuple[ScimCredential, str]:
    """Create a credential and return `(credential, token)`; the token exists only in this return value."""
    name = bearer_secrets.checked_name(name)
    slug = (slug or "").strip().lower() or None
    if slug is not None and not SLUG.match(slug):
        raise InvalidInput("slug must be lowercase letters, digits or hyphens (at most 63)")
    if slug is not None and db.session.scalar(
        select(ScimCredential.id).where(ScimCredential.tenant_id == tenant.id, ScimCredential.slug == slug)
    ):
        raise Conflict("a credential with this slug already exists", "slug")
    token, stored = bearer_secrets.new_secret(TOKEN_PREFIX)
    credential = ScimCredential(
        tenant_id=tenant.id, name=name, slug=slug, created_by_id=created_by.id if created_by else None, **stored
    )
    db.session.add(credential)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("a credential with this slug already exists", "slug") from None
    return credential, token


def find(tenant: Tenant, token: str) -> ScimCredential | None:
    """Return the tenant's credential for this token in whatever state, or None (R12)."""
    return bearer_secrets.find(ScimCredential, tenant, token)


@dataclass(frozen=True, slots=True)
class HostTenant:
    """The tenant a SCIM request is for, as authentication reads it: what the SCIM interface needs of it."""

    id: int
    slug: str
    learn_scim: bool


@dataclass(frozen=True, slots=True)
class PresentedCredential:
    """The credential a SCIM request presented, with its tenant: plain values, read afresh per request."""

    id: int
    tenant_id: int
    disabled_at: datetime | None
    revoked_at: datetime | None
    tenant: HostTenant

    @property
    def state(self) -> str:
        return credential_state(self.revoked_at, self.disabled_at)  # the definition ScimCredential.state uses


_CREDENTIALS = ScimCredential.__table__
_TENANTS = Tenant.__table__
# The credential and its tenant in one indexed lookup: the hot path of every SCIM request. Built once, of plain
# columns (no ORM entities to load or track), and run on the driver (services/driver_reads.py); the values travel
# as bound parameters, so each request pays neither for building the statement nor compiling it.
_BY_DIGEST_AND_SLUG = (
    select(
        _CREDENTIALS.c.id,
        _CREDENTIALS.c.tenant_id,
        _CREDENTIALS.c.disabled_at,
        _CREDENTIALS.c.revoked_at,
        _TENANTS.c.slug,
        _TENANTS.c.learn_scim,
    )
    .join_from(_CREDENTIALS, _TENANTS, _TENANTS.c.id == _CREDENTIALS.c.tenant_id)
    .where(_CREDENTIALS.c.token_hash == bindparam("digest"), _TENANTS.c.slug == bindparam("slug"))
)


def find_on_host(slug: str, digest: str | None) -> PresentedCredential | None:
    """Return the credential with this token digest if it belongs to the tenant `slug`, with its tenant.

    Read afresh on every request, never cached: a revoked or disabled credential and a tenant whose SCIM
    was switched off are refused from the very next request, on every worker and host (R9, R10).
    """
    if digest is None:
        return None
    found = driver_reads.rows(_BY_DIGEST_AND_SLUG, {"digest": digest, "slug": slug})  # the digest is unique
    if not found:
        return None
    credential_id, tenant_id, disabled_at, revoked_at, tenant_slug, learn_scim = found[0]
    return PresentedCredential(
        credential_id, tenant_id, disabled_at, revoked_at, HostTenant(tenant_id, tenant_slug, learn_scim)
    )


# The digest find_on_host looks a presented token up by (None when it cannot be one of ours).
token_digest = bearer_secrets.presented_digest


def for_tenant(tenant: Tenant) -> list[ScimCredential]:
    """Return the tenant's credentials, newest first."""
    return bearer_secrets.for_tenant(ScimCredential, tenant)


def get(tenant: Tenant | None, credential_id: int) -> ScimCredential:
    """Return one credential (of `tenant`, when given) or raise NotFound."""
    return bearer_secrets.get(ScimCredential, tenant, credential_id, "no such credential")


def disable(credential: ScimCredential) -> ScimCredential:
    """Stop a credential from authenticating until it is enabled again."""

    def change(row: ScimCredential) -> None:
        if row.revoked_at:
            raise InvalidInput("a revoked credential cannot be disabled")
        row.disabled_at = row.disabled_at or utcnow()

    return _change_state(credential, change)


def enable(credential: ScimCredential) -> ScimCredential:
    """Let a disabled credential authenticate again; revocation is final."""

    def change(row: ScimCredential) -> None:
        if row.revoked_at:
            raise InvalidInput("a revoked credential cannot be enabled")
        row.disabled_at = None

    return _change_state(credential, change)


def revoke(credential: ScimCredential) -> ScimCredential:
    """Revoke a credential for good; its next request answers 401."""

    def change(row: ScimCredential) -> None:
        row.revoked_at = row.revoked_at or utcnow()

    return _change_state(credential, change)


def _change_state(credential: ScimCredential, change: Callable[[ScimCredential], None]) -> ScimCredential:
    """Apply a state change to the credential as it is now, its row locked: "revoked is final" holds under races."""
    credential_id = credential.id
    with write_transaction():
        locked = for_write(select(ScimCredential).where(ScimCredential.id == credential_id))
        change(db.session.execute(locked).scalar_one())
    return credential
