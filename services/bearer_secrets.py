"""What SCIM credentials and API keys share: a named bearer secret of a tenant, shown once, stored as a digest.

Both kinds are rows with `tenant_id`, `name`, `token_hash` and `token_hint` (docs/design.md §9); they differ
in their prefix, their states and what they open, which stays in services/credentials.py and services/api_keys.py.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select

from models import ApiKey, ScimCredential, Tenant, db
from services import tokens
from services.errors import InvalidInput, NotFound
from services.validation import LINE_BREAKING

TOKEN_BYTES = 32
# Longer than any token we issue: a longer one is not looked up at all.
MAX_TOKEN_LENGTH = 200

Secret = TypeVar("Secret", ScimCredential, ApiKey)


def checked_name(name: str | None) -> str:
    """Return the secret's name, stripped, or raise InvalidInput: required, one line, at most 100 characters."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("name is required")
    if len(name) > 100:
        raise InvalidInput("name must be at most 100 characters")
    if LINE_BREAKING.search(name):
        raise InvalidInput("name must not contain tabs, newlines or other control characters")
    return name


def new_secret(prefix: str) -> tuple[str, dict[str, str]]:
    """Return a fresh token with this prefix, and the columns that store it: its digest and last four characters."""
    token = prefix + tokens.new_token(TOKEN_BYTES)
    return token, {"token_hash": tokens.digest(token), "token_hint": token[-4:]}


def presented_digest(token: str | None) -> str | None:
    """Return the digest to look a presented token up by, or None when it cannot be one of ours."""
    return tokens.digest(token) if token and len(token) <= MAX_TOKEN_LENGTH else None


def find(model: type[Secret], tenant: Tenant, token: str | None) -> Secret | None:
    """Return the tenant's secret for this token in whatever state, or None (R12).

    Found through the unique index on the digest. The token is a 256-bit random secret, so what the lookup's
    timing could reveal (about a digest, never the token) helps no one guess a valid token.
    """
    digest = presented_digest(token)
    if digest is None:
        return None
    secret = db.session.scalar(select(model).where(model.token_hash == digest))
    # A token of another tenant is simply not valid here, whatever the Host says (R12).
    return secret if secret is not None and secret.tenant_id == tenant.id else None


def for_tenant(model: type[Secret], tenant: Tenant) -> list[Secret]:
    """Return the tenant's secrets of this kind, newest first."""
    return list(db.session.scalars(select(model).where(model.tenant_id == tenant.id).order_by(model.id.desc())))


def get(model: type[Secret], tenant: Tenant | None, secret_id: int, missing: str) -> Secret:
    """Return one secret (of `tenant`, when given) or raise NotFound with the message `missing`."""
    query = select(model).where(model.id == secret_id)
    if tenant is not None:
        query = query.where(model.tenant_id == tenant.id)
    secret: Secret | None = db.session.scalar(query)
    if secret is None:
        raise NotFound(missing)
    return secret
