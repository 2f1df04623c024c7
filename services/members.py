"""Members: SCIM provisioning use-cases (docs/design.md R1-R5, R8) and the local-account rules they share (R4)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import bcrypt
from flask import current_app
from sqlalchemy import ColumnElement, and_, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from models import Cohort, CohortMember, Role, Tenant, User, UserEmail, db, utcnow
from services.errors import ConcurrentChange, Conflict, EmailNotVerified, InvalidInput, NotFound


@dataclass(frozen=True)
class ScimProfile:
    """A member as the IdP describes it; `attributes` holds the rest of the profile, kept as sent."""

    user_name: str
    external_id: str | None = None
    active: bool | None = None  # None leaves the current state alone
    emails: Sequence[dict] = ()
    attributes: dict = field(default_factory=dict)


def scim_visible(tenant_id: int) -> ColumnElement[bool]:
    """Return the clause for users SCIM may see: its own members on the member rung (R1, R3, R8)."""
    return and_(
        User.tenant_id == tenant_id,
        User.scim_managed.is_(True),
        User.role.in_(Role.SCIM_RUNG),
        User.deprovisioned_at.is_(None),
    )


def get_scim_user(tenant: Tenant, scim_id: str) -> User:
    """Return the SCIM-visible user with this id; anyone else is NotFound, alike (R3).

    The reason says "not_visible" for a live account of the tenant that SCIM may not touch (local, or promoted
    past member), and "not_found" otherwise, deprovisioned ones included (R8): the IdP may create those again.
    """
    user = db.session.scalar(select(User).where(scim_visible(tenant.id), User.scim_id == scim_id))
    if user is None:
        hidden = db.session.scalar(
            select(User.id).where(User.tenant_id == tenant.id, User.scim_id == scim_id, User.deprovisioned_at.is_(None))
        )
        raise NotFound("user not found", reason="not_visible" if hidden is not None else "not_found")
    return user


def create_scim_user(tenant: Tenant, profile: ScimProfile) -> User:
    """Provision a member: role 2 (or 1 if sent inactive), unverified email (R1, R2, R4)."""
    user = User(tenant_id=tenant.id, scim_managed=True, role=Role.MEMBER)
    _apply_profile(user, profile, creating=True)
    db.session.add(user)
    return _commit_unique(user)


def replace_scim_user(user: User, profile: ScimProfile) -> User:
    """Replace a member's IdP-owned profile (PUT, and PATCH after it is applied)."""
    return _write_scim_user(user, lambda row: _apply_profile(row, profile, creating=False))


def deprovision(user: User) -> None:
    """DELETE over SCIM (R8): ban, leave SCIM cohorts, vanish from SCIM; the account stays."""

    def change(row: User) -> None:
        row.role = Role.BANNED
        row.deprovisioned_at = utcnow()
        db.session.flush()  # the version check happens here, before memberships are touched
        scim_cohorts = select(Cohort.id).where(Cohort.scim_managed.is_(True), Cohort.scim_deleted_at.is_(None))
        db.session.execute(
            delete(CohortMember).where(CohortMember.user_id == row.id, CohortMember.cohort_id.in_(scim_cohorts))
        )

    _write_scim_user(user, change)


def _write_scim_user(user: User, change: Callable[[User], None]) -> User:
    """Apply a SCIM change and commit; if a concurrent write to the row won, apply it once more.

    The version column makes the losing UPDATE match no row instead of silently undoing the other
    write, e.g. an admin's promotion made while the IdP's PATCH was in flight. Re-read, the user
    may no longer be SCIM's to change (R3): then it is the same NotFound as any hidden user.
    """
    for attempt in (1, 2):
        try:
            change(user)
            return _commit_unique(user)
        except StaleDataError:
            db.session.rollback()
            if attempt == 2:
                raise ConcurrentChange("the user changed during this request; retry it") from None
            user = db.session.scalar(
                select(User)
                .where(scim_visible(user.tenant_id), User.id == user.id)
                .execution_options(populate_existing=True)
            )
            if user is None:
                raise NotFound("user not found") from None
    raise AssertionError("unreachable")


def _apply_profile(user: User, profile: ScimProfile, *, creating: bool) -> None:
    user_name = (profile.user_name or "").strip()
    if not user_name:
        raise InvalidInput("userName is required")
    _check_unique(user, user_name, profile.external_id)
    user.user_name = user_name
    user.user_name_ci = user_name.lower()
    user.external_id = profile.external_id or None
    attributes = dict(profile.attributes)
    name = attributes.get("name") or {}
    user.display_name = attributes.get("displayName")
    user.given_name = name.get("givenName")
    user.family_name = name.get("familyName")
    user.profile = attributes
    if profile.active is not None:
        user.role = Role.MEMBER if profile.active else Role.BANNED
    elif creating:
        user.role = Role.MEMBER

    old_email = user.email_ci
    user.emails = [
        UserEmail(
            position=i,
            value=e.get("value"),
            value_ci=(e.get("value") or "").lower() or None,
            type=e.get("type"),
            primary=e.get("primary"),
            display=e.get("display"),
        )
        for i, e in enumerate(profile.emails)
    ]
    email = _main_email(profile.emails)
    user.email = email
    user.email_ci = email.lower() if email else None
    # R4: the IdP controls the account, never the ownership claim on an address.
    if creating or user.email_ci != old_email:
        user.email_verified_at = None


def _main_email(emails: Sequence[dict]) -> str | None:
    values = [e for e in emails if e.get("value")]
    chosen = (
        next((e for e in values if e.get("primary") is True), None)
        or next((e for e in values if (e.get("type") or "").lower() == "work"), None)
        or (values[0] if values else None)
    )
    return chosen["value"] if chosen else None


def _check_unique(user: User, user_name: str, external_id: str | None) -> None:
    """R5: userName (case-insensitive) and externalId are unique among live accounts of a tenant."""
    live = and_(User.tenant_id == user.tenant_id, User.deprovisioned_at.is_(None))
    if user.id is not None:
        live = and_(live, User.id != user.id)
    if db.session.scalar(select(User.id).where(live, User.user_name_ci == user_name.lower()).limit(1)):
        raise Conflict("userName is already in use in this tenant", "userName")
    if external_id and db.session.scalar(select(User.id).where(live, User.external_id == external_id).limit(1)):
        raise Conflict("externalId is already in use in this tenant", "externalId")


def _commit_unique(user: User) -> User:
    """Commit, turning a race lost on the unique indexes into the same Conflict as the pre-check."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("userName or externalId is already in use in this tenant", "userName") from None
    return user


# --- Local accounts and roles (dashboard and CLI) -------------------------------------------


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
    return db.session.scalar(
        select(User)
        .where(User.tenant_id == tenant.id, User.email_ci == email.strip().lower(), User.deprovisioned_at.is_(None))
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
    if "@" not in email or len(email) > 320:
        raise InvalidInput("a valid email address is required")
    if role not in Role.NAMES:
        raise InvalidInput("role must be 1 to 5")
    if role > Role.MEMBER and not verified:
        raise EmailNotVerified("an unverified user cannot have a role above 2; verify the email first")
    if find_by_email(tenant, email):
        raise Conflict("an account with this email already exists", "email")
    user = User(
        tenant_id=tenant.id,
        email=email,
        email_ci=email.lower(),
        role=role,
        scim_managed=False,
        display_name=display_name,
        password_hash=hash_password(password) if password else None,
        email_verified_at=utcnow() if verified else None,
        profile={},
    )
    db.session.add(user)
    db.session.commit()
    return user


def set_role(user: User, role: int) -> User:
    """Change a user's role; promotion past role 2 needs a verified email (R4)."""
    if role not in Role.NAMES:
        raise InvalidInput("role must be 1 to 5")
    if role > Role.MEMBER and not user.email_verified:
        raise EmailNotVerified("verify this user's email before promoting them past member")
    if user.deprovisioned_at is not None and role > Role.BANNED:
        raise InvalidInput("a deprovisioned account cannot be given a role again")
    user.role = role
    try:
        db.session.commit()
    except StaleDataError:
        # The identity provider (or another admin) changed this user meanwhile; nothing is lost.
        db.session.rollback()
        raise ConcurrentChange("this user changed meanwhile; reload and try again") from None
    return user


def mark_verified(user: User) -> User:
    """Record that the user proved ownership of their current email."""
    user.email_verified_at = utcnow()
    db.session.commit()
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
    from sqlalchemy import update

    db.session.execute(update(User).where(User.id == user.id).values(session_epoch=User.session_epoch + 1))
    db.session.commit()
