"""First run: a one-time link, printed on the operator's console, that creates a tenant's first super-admin.

Only whoever can read the console gets the link, so a stranger on the network cannot claim the new
install first. The link is single-use, expires, is stored only as a hash, and stops working as soon
as the tenant has an admin. It lives in a small file beside the database (instance/ by default): the
operator who runs `flask bootstrap` and the server that answers the link share that folder.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from models import Role, Tenant, User, db, utcnow
from services import accounts, tokens
from services.errors import NotFound

TOKEN_BYTES = 32
DEFAULT_MINUTES = 60
FILE_NAME = "setup-token.json"


def token_file(configured: str | None, instance_path: str) -> Path:
    """Return where the hashed setup token lives: SETUP_TOKEN_FILE, else instance/setup-token.json."""
    return Path(configured) if configured else Path(instance_path) / FILE_NAME


def has_admin(tenant: Tenant) -> bool:
    """Tell whether the tenant already has a live admin or super-admin."""
    return (
        db.session.scalar(
            select(User.id)
            .where(User.tenant_id == tenant.id, User.role >= Role.ADMIN, User.deprovisioned_at.is_(None))
            .limit(1)
        )
        is not None
    )


def issue_link_token(tenant: Tenant, store: Path, minutes: int = DEFAULT_MINUTES) -> str:
    """Create a fresh setup token for the tenant, replacing any earlier one, and return it.

    Only its SHA-256 is written (with an owner-only file mode); the token itself exists only in
    the return value, to be printed once.
    """
    token = tokens.new_token(TOKEN_BYTES)
    record = {
        "tenant_id": tenant.id,
        "token_sha256": tokens.digest(token),
        "expires_at": (utcnow() + timedelta(minutes=minutes)).isoformat(),
    }
    store.parent.mkdir(parents=True, exist_ok=True)
    partial = store.with_name(f"{store.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(record, handle)
    os.replace(partial, store)  # atomic: a reader sees the old record or the new one, never half
    return token


def is_valid(tenant: Tenant, token: str, store: Path) -> bool:
    """Tell whether this link may still create the tenant's first admin."""
    return _matches(_read(store), tenant, token) and not has_admin(tenant)


def create_first_admin(tenant: Tenant, token: str, store: Path, email: str, password: str) -> User:
    """Spend the link: create a verified super-admin, or raise NotFound when the link is not valid.

    Renaming the file claims the link, so of two simultaneous submissions only one gets through.
    A rule the new account breaks (a domain error) puts the link back for another try.
    """
    if not is_valid(tenant, token, store):
        raise NotFound("this setup link is not valid")
    claimed = store.with_name(f"{store.name}.{secrets.token_hex(4)}.claimed")
    try:
        os.replace(store, claimed)
    except FileNotFoundError:
        raise NotFound("this setup link is not valid") from None
    # Re-read what was claimed: a new `flask bootstrap` may have replaced the file meanwhile.
    if not _matches(_read(claimed), tenant, token):
        _restore(claimed, store)
        raise NotFound("this setup link is not valid")
    try:
        # Holding the console link is the operator's proof of ownership, so the address counts as verified.
        user = accounts.create_local_user(tenant, email, Role.SUPER_ADMIN, password=password, verified=True)
    except Exception:
        _restore(claimed, store)
        raise
    claimed.unlink(missing_ok=True)
    return user


def _read(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _matches(record: dict[str, Any] | None, tenant: Tenant, token: str) -> bool:
    if not record or not token or len(token) > 200 or record.get("tenant_id") != tenant.id:
        return False
    try:
        expires_at = datetime.fromisoformat(str(record.get("expires_at")))
    except ValueError:
        return False
    return hmac.compare_digest(str(record.get("token_sha256", "")), tokens.digest(token)) and utcnow() < expires_at


def _restore(claimed: Path, store: Path) -> None:
    """Put a claimed link back unless a newer one was issued meanwhile."""
    if store.exists():
        claimed.unlink(missing_ok=True)
    else:
        os.replace(claimed, store)
