"""API keys for the public API at /api/v1: issued once, stored as a digest, scoped, expiring, revocable."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import or_, update

from models import ApiKey, Tenant, User, db, utcnow
from services import bearer_secrets
from services.errors import InvalidInput

TOKEN_PREFIX = "ms_api_"  # noqa: S105 - a public prefix, not a secret
# The one scope today. A scope is a word in ApiKey.scopes; the API names the scope each endpoint needs.
READ_REQUEST_LOG = "scim-requests:read"
SCOPES = {READ_REQUEST_LOG: "read the SCIM request log and the SCIM credentials it names"}
DEFAULT_SCOPES = (READ_REQUEST_LOG,)
# Last-used is kept to the minute: a SIEM polling every few seconds must not turn each read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def issue(
    tenant: Tenant,
    name: str,
    expires_on: date | None = None,
    created_by: User | None = None,
    scopes: tuple[str, ...] = DEFAULT_SCOPES,
) -> tuple[ApiKey, str]:
    """Create a key and return `(key, token)`; the token exists only in this return value.

    A key with `expires_on` is refused from 00:00 UTC that day, so the date must lie in the future.
    """
    name = bearer_secrets.checked_name(name)
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown or not scopes:
        raise InvalidInput(f"scopes must be among: {', '.join(SCOPES)}")
    expires_at = None
    if expires_on is not None:
        expires_at = datetime.combine(expires_on, time.min)
        if expires_at <= utcnow():
            raise InvalidInput("the expiry date must be after today (UTC)")
    token, stored = bearer_secrets.new_secret(TOKEN_PREFIX)
    key = ApiKey(
        tenant_id=tenant.id,
        name=name,
        **stored,
        scopes=" ".join(dict.fromkeys(scopes)),
        created_by_id=created_by.id if created_by else None,
        expires_at=expires_at,
    )
    db.session.add(key)
    db.session.commit()
    return key, token


def find(tenant: Tenant, token: str) -> ApiKey | None:
    """Return the tenant's key for this token in whatever state, or None.

    Only `ms_api_` tokens are looked up, so a SCIM credential never opens the API (nor a key SCIM,
    whose lookup reads scim_credentials alone). A key of another tenant is not valid here (R12).
    """
    if not token or not token.startswith(TOKEN_PREFIX):
        return None
    return bearer_secrets.find(ApiKey, tenant, token)


def note_use(key: ApiKey) -> None:
    """Record that the key was used now, at most once a minute, in one conditional UPDATE."""
    now = utcnow()
    if key.last_used_at is not None and key.last_used_at >= now - LAST_USED_RESOLUTION:
        return  # recent enough: no write at all (the WHERE below settles races between workers)
    db.session.execute(
        update(ApiKey)
        .where(ApiKey.id == key.id)
        .where(or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - LAST_USED_RESOLUTION))
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def for_tenant(tenant: Tenant) -> list[ApiKey]:
    """Return the tenant's keys, newest first."""
    return bearer_secrets.for_tenant(ApiKey, tenant)


def get(tenant: Tenant | None, key_id: int) -> ApiKey:
    """Return one key (of `tenant`, when given) or raise NotFound."""
    return bearer_secrets.get(ApiKey, tenant, key_id, "no such API key")


def revoke(key: ApiKey) -> ApiKey:
    """Revoke a key for good; its next request answers 401."""
    key.revoked_at = key.revoked_at or utcnow()
    db.session.commit()
    return key
