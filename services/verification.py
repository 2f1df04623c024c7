"""Single-use, expiring links sent by mail: email verification, set-password (docs/design.md R4), and sign-in.

Only a SHA-256 of each token is stored. A link is bound to the address it was mailed to: once the
user's email changes (for instance over SCIM), every earlier link for them is dead.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update

from models import EmailToken, Role, Tenant, User, db, utcnow
from services import tokens
from services.database import rows_affected
from services.errors import DomainError, InvalidInput
from services.transactions import for_write, write_transaction

VERIFY = "verify"
SET_PASSWORD = "set_password"  # noqa: S105 - a link purpose, not a secret
# Mailed to an admin whose password sign-in is paused after too many failed attempts on the account.
SIGN_IN = "sign_in"
PURPOSES = (VERIFY, SET_PASSWORD, SIGN_IN)

# A public "send me a new link" form must not turn into a way to flood someone's inbox.
RESEND_INTERVAL = timedelta(minutes=1)
# Superseded links are kept (dead) this long, so the links of the last day can be counted.
KEPT_FOR_COUNTING = timedelta(days=1)
TOKEN_BYTES = 32


class InvalidLink(DomainError):
    """The link is unknown, expired, already used, replaced, or for an address the user no longer has."""


def issue(user: User, purpose: str, hours: float) -> str:
    """Create a link token for the user's current email and return it; earlier unused ones die."""
    if purpose not in PURPOSES:
        raise InvalidInput(f"unknown link purpose {purpose!r}")
    user_id = user.id
    with write_transaction():
        # Two requests for a link at once must not both leave theirs alive: they queue up on the user's row,
        # and the link is bound to the address the row has now.
        user = db.session.scalars(for_write(select(User).where(User.id == user_id))).one()
        if not user.email_ci:
            raise InvalidInput("this user has no email address to send a link to")
        if user.deprovisioned_at is not None:
            raise InvalidInput("this account was deprovisioned")
        now = utcnow()
        unused = (EmailToken.user_id == user_id, EmailToken.used_at.is_(None))
        # Only the newest link works, so an old mail lying in an inbox cannot be used later. Earlier links
        # expire now rather than vanish, so `issued_since` still counts them; a day later they go.
        db.session.execute(
            update(EmailToken)
            .where(*unused, EmailToken.purpose == purpose, EmailToken.expires_at > now)
            .values(expires_at=now)
        )
        db.session.execute(
            delete(EmailToken).where(
                *unused, EmailToken.expires_at <= now, EmailToken.created_at < now - KEPT_FOR_COUNTING
            )
        )
        token = tokens.new_token(TOKEN_BYTES)
        db.session.add(
            EmailToken(
                user_id=user_id,
                purpose=purpose,
                token_hash=tokens.digest(token),
                email=user.email_ci,
                expires_at=now + timedelta(hours=hours),
                created_at=now,
            )
        )
    return token


def link_purpose(user: User) -> str | None:
    """Return which link would help this user now: set a password, verify the email, or none."""
    if user.deprovisioned_at is not None or user.role == Role.BANNED or not user.email_ci:
        return None
    # Invited local accounts (and promoted SCIM ones) sign in with a password they have not chosen yet.
    if user.password_hash is None and (not user.scim_managed or user.role > Role.MEMBER):
        return SET_PASSWORD
    return None if user.email_verified else VERIFY


def recently_issued(user: User, purpose: str, within: timedelta = RESEND_INTERVAL) -> bool:
    """Tell whether a link of this purpose was issued to the user within `within` (RESEND_INTERVAL)."""
    since = utcnow() - within
    return (
        db.session.scalar(
            select(EmailToken.id)
            .where(EmailToken.user_id == user.id, EmailToken.purpose == purpose, EmailToken.created_at >= since)
            .limit(1)
        )
        is not None
    )


def issued_since(user: User, since: datetime) -> int:
    """Count the links (of any purpose) issued to the user since `since`; at most a day back is kept."""
    return db.session.execute(
        select(func.count(EmailToken.id)).where(EmailToken.user_id == user.id, EmailToken.created_at >= since)
    ).scalar_one()


def peek(tenant: Tenant, token: str, purpose: str) -> User:
    """Return the user a still-valid link belongs to, without using it up (for the GET page)."""
    return _valid(tenant, token, purpose)[1]


def verify_email(tenant: Tenant, token: str) -> User:
    """Use up a verification link and mark the user's current email verified."""
    with write_transaction():
        user = _consume(tenant, token, VERIFY)
        user.email_verified_at = utcnow()
    return user


def set_password(tenant: Tenant, token: str, password_hash: str) -> User:
    """Use up a set-password link, store the new password hash, and mark the email verified.

    The link reached the mailbox, which proves ownership of the address just as a verification link does.
    A new password ends every dashboard session the account had (its session epoch moves on).
    """
    with write_transaction():
        user = _consume(tenant, token, SET_PASSWORD)
        user.password_hash = password_hash
        user.email_verified_at = utcnow()
        user.session_epoch = User.session_epoch + 1
    return user


def sign_in(tenant: Tenant, token: str) -> User:
    """Use up a sign-in link and return the admin it signs in (still a verified admin of this tenant)."""
    with write_transaction():
        user = _consume(tenant, token, SIGN_IN)
    return user


def _valid(tenant: Tenant, token: str, purpose: str, *, lock: bool = False) -> tuple[EmailToken, User]:
    if not token or len(token) > 200:
        raise InvalidLink("invalid link")
    query = (
        select(EmailToken, User)
        .join(User, User.id == EmailToken.user_id)
        .where(EmailToken.token_hash == tokens.digest(token), EmailToken.purpose == purpose)
    )
    row = db.session.execute(for_write(query, User) if lock else query).first()
    if row is None:
        raise InvalidLink("invalid link")
    link, user = row
    if (
        link.used_at is not None
        or link.expires_at <= utcnow()
        or user.tenant_id != tenant.id
        or user.email_ci != link.email
        or user.deprovisioned_at is not None
        or (purpose == SET_PASSWORD and user.role == Role.BANNED)
        # A sign-in link is worth something only to whom the dashboard would let in anyway.
        or (purpose == SIGN_IN and (user.role < Role.ADMIN or not user.email_verified))
    ):
        raise InvalidLink("invalid link")
    return link, user


def _consume(tenant: Tenant, token: str, purpose: str) -> User:
    """Mark the link used, inside the caller's write transaction; two simultaneous clicks count once.

    The user's row is locked while the link is checked, so an email change over SCIM lands either before
    (the link no longer matches the address) or after (and unverifies the new address again), never between.
    """
    link, user = _valid(tenant, token, purpose, lock=True)
    claimed = db.session.execute(
        update(EmailToken).where(EmailToken.id == link.id, EmailToken.used_at.is_(None)).values(used_at=utcnow())
    )
    if rows_affected(claimed) != 1:
        raise InvalidLink("invalid link")
    return user
