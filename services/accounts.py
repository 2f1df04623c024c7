"""Local accounts (dashboard and CLI): creating and finding them, passwords, email verification, sessions (R4)."""

from __future__ import annotations

import bcrypt
from flask import current_app
from sqlalchemy import select, update

from models import Role, Tenant, User, db, utcnow
from services.errors import Conflict, EmailNotVerified, InvalidInput, NotFound
from services.identifiers import check_identifier, fold
from services.roles import lock_accounts
from services.transactions import for_write, write_transaction
from services.validation import EMAIL_MAX_LENGTH, is_email


def hash_password(password: str) -> str:
    """Hash a human password with bcrypt, which reads (and since bcrypt 5 accepts) at most 72 bytes."""
    if len(password.encode("utf-8")) > 72:
        raise InvalidInput("password must be at most 72 bytes")
    rounds = current_app.config["BCRYPT_ROUNDS"]
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds)).decode("ascii")


def check_password(user: User, password: str) -> bool:
    """Check a password against the stored bcrypt hash."""
    if not user.password_hash or not password:
        return False
    return bcrypt.checkpw(password.encode("utf-8"), user.password_hash.encode("ascii"))


def find_by_email(tenant: Tenant, email: str) -> User | None:
    """Return the tenant's live account with this email, local accounts first."""
    return _by_email(tenant.id, email)


def _by_email(tenant_id: int, email: str) -> User | None:
    return db.session.scalar(
        select(User)
        .where(User.tenant_id == tenant_id, User.email_ci == fold(email.strip()), User.deprovisioned_at.is_(None))
        .order_by(User.scim_managed, User.id)
        .limit(1)
    )


def create_local_user(
    tenant: Tenant,
    email: str,
    role: int,
    *,
    password: str | None = None,
    verified: bool = False,
    display_name: str | None = None,
) -> User:
    """Create a local account; R4 holds: an unverified one cannot be above role 2."""
    email = (email or "").strip()
    if len(email) > EMAIL_MAX_LENGTH or not is_email(email):
        raise InvalidInput("a valid email address is required")
    if not Role.known(role):
        raise InvalidInput("role must be 1 to 5")
    if role > Role.MEMBER and not verified:
        raise EmailNotVerified("an unverified user cannot have a role above 2; verify the email first")
    check_identifier("display name", display_name, display=True)
    tenant_id = tenant.id
    password_hash = hash_password(password) if password else None  # bcrypt's work before any lock is taken
    # No unique index can say "one local account per email" (SCIM members may share an address), so
    # two invitations of one address queue up on the tenant's lock and the second finds the first.
    with write_transaction():
        lock_accounts(tenant_id)
        if _by_email(tenant_id, email):
            raise Conflict("an account with this email already exists", "email")
        user = User(
            tenant_id=tenant_id,
            email=email,
            role=role,
            scim_managed=False,
            display_name=display_name,
            password_hash=password_hash,
            email_verified_at=utcnow() if verified else None,
            profile={},
        )
        db.session.add(user)
    return user


def mark_verified(user: User) -> User:
    """Record that the user proved ownership of their current email."""
    user_id = user.id
    with write_transaction():
        user = db.session.execute(for_write(select(User).where(User.id == user_id))).scalar_one()
        user.email_verified_at = utcnow()
    return user


def get_user(tenant: Tenant, user_id: int) -> User:
    """Return any user of the tenant by database id (dashboard use), or NotFound."""
    user = db.session.scalar(select(User).where(User.tenant_id == tenant.id, User.id == user_id))
    if user is None:
        raise NotFound("no such user")
    return user


def end_sessions(user: User) -> None:
    """End every dashboard session of the user (sign-out): cookies carrying the old epoch stop working.

    One UPDATE in the database, so two simultaneous sign-outs both count, and the version that
    guards the SCIM profile is left alone (the epoch is not part of it).
    """
    db.session.execute(update(User).where(User.id == user.id).values(session_epoch=User.session_epoch + 1))
    db.session.commit()
