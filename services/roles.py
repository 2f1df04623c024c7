"""Roles on a tenant (dashboard and CLI): every change keeps R4 and leaves the tenant a super-admin.

A tenant needs a live super-admin to manage its admins and to own SCIM cohorts (R6). Whether one is left
after a demotion is a fact about the other rows of the tenant, so role changes run in a write transaction
that holds the tenant's lock: two super-admins demoting or banning each other at the same moment queue up,
and the second finds it would remove the last one.

An admin in the dashboard changes roles under further rules (`change_role`, `ban`, `unban`): nobody changes
their own role, nobody acts above their rank, SCIM-managed members are (de)activated only by the IdP,
deprovisioned accounts stay as they are. All of them are checked on the rows as they are, in one write transaction.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from models import Role, Tenant, User, db
from services import offboarding
from services.errors import ConcurrentChange, DomainError, EmailNotVerified, InvalidInput, LastSuperAdmin
from services.transactions import for_write, lock_row, write_transaction

LAST_SUPER_ADMIN = (
    "The last super-admin cannot be demoted: the tenant needs one to manage admins and to own SCIM cohorts. "
    "Promote someone else first."
)


class NotAllowed(DomainError):
    """The signed-in admin may not make this change; the message says why."""


def lock_accounts(tenant_id: int) -> None:
    """Make the tenant's role changes and new local accounts wait for this write transaction.

    Checking "another super-admin is left" or "no account has this email" and then writing is only sound while
    nobody else of the tenant can do the same in between: they all lock the tenant's row first (PostgreSQL).
    """
    lock_row(Tenant, tenant_id)


def locked_user(tenant_id: int, user_id: int) -> User:
    """Lock the tenant's accounts and the user's row, and return the user as it is now (in a write transaction)."""
    lock_accounts(tenant_id)
    return db.session.scalars(for_write(select(User).where(User.id == user_id))).one()


def count_super_admins(tenant_id: int) -> int:
    """Return how many live super-admins the tenant has."""
    return db.session.execute(
        select(func.count(User.id)).where(
            User.tenant_id == tenant_id, User.role == Role.SUPER_ADMIN, User.deprovisioned_at.is_(None)
        )
    ).scalar_one()


def set_role(user: User, role: int) -> User:
    """Change a user's role: past role 2 only with a verified email (R4), and never the tenant's last super-admin.

    The rules are checked on the rows as they are now, under the tenant's lock: two super-admins demoting
    each other at the same moment cannot both succeed.
    """
    if not Role.known(role):
        raise InvalidInput("role must be 1 to 5")
    tenant_id, user_id = user.tenant_id, user.id
    try:
        with write_transaction():
            user = locked_user(tenant_id, user_id)
            if role > Role.MEMBER and not user.email_verified:
                raise EmailNotVerified("verify this user's email before promoting them past member")
            if user.deprovisioned_at is not None and role > Role.BANNED:
                raise InvalidInput("a deprovisioned account cannot be given a role again")
            if user.role == Role.SUPER_ADMIN and role < Role.SUPER_ADMIN and count_super_admins(tenant_id) <= 1:
                raise LastSuperAdmin(LAST_SUPER_ADMIN)
            user.role = Role(role)  # a Role in memory too, as the column reads it back
            # Banned or a member again: SCIM owns them, so a refused deactivation needs no attention any more.
            offboarding.resolve(user_id, role)
    except StaleDataError:
        # A writer that takes no lock changed this user meanwhile; nothing is lost.
        raise ConcurrentChange("this user changed meanwhile; reload and try again") from None
    return user


# --- The dashboard's rules, on top of set_role --------------------------------------------------

# Why an admin may not give a user a role.
DEPROVISIONED = "Deprovisioned by the identity provider; kept for history, cannot be restored."
SELF = "This is you: another admin has to change your role."
OUTRANKS = "Ranks above you: only a higher role can change it."
ABOVE_OWN = "You cannot grant a role above your own."
SCIM_ACTIVATION = "Activation is managed in your identity provider."
UNVERIFIED = "Verify the email before promoting past member."


def role_problems(actor: User, user: User, role: int, super_admins: int) -> list[str]:
    """Return every reason `actor` may not give `user` this role; empty when the change is allowed."""
    if user.deprovisioned_at is not None:
        return [DEPROVISIONED]  # nothing else about the account matters any more
    problems = []
    if actor.id == user.id:
        problems.append(SELF)
    if user.role > actor.role:
        problems.append(OUTRANKS)
    if role > actor.role:
        problems.append(ABOVE_OWN)
    if user.scim_managed and Role.BANNED in (role, user.role) and role != user.role:
        problems.append(SCIM_ACTIVATION)
    if user.role == Role.SUPER_ADMIN and role < Role.SUPER_ADMIN and super_admins <= 1:
        problems.append(LAST_SUPER_ADMIN)
    if role > Role.MEMBER and not user.email_verified:
        problems.append(UNVERIFIED)
    return problems


def change_role(actor: User, user: User, role: int) -> User:
    """Give a user another role (promote or demote), enforcing the dashboard's rules and R4.

    The page the admin acted on may be old, and another admin may be acting at the same moment: the rules are
    checked again on both accounts as they are now, with the tenant's role changes held (lock_accounts).
    """
    if not Role.known(role):
        raise InvalidInput("role must be 1 to 5")
    tenant_id, user_id = user.tenant_id, user.id
    with write_transaction():
        user = locked_user(tenant_id, user_id)
        if role == user.role:
            return user
        problems = role_problems(actor, user, role, count_super_admins(tenant_id))
        if problems:
            raise NotAllowed(problems[0])
        return set_role(user, role)


def ban(actor: User, user: User) -> User:
    """Ban a local user (role 1); SCIM-managed users are deactivated by their IdP instead."""
    tenant_id, user_id = user.tenant_id, user.id
    with write_transaction():
        user = locked_user(tenant_id, user_id)
        if user.scim_managed:
            raise NotAllowed(SCIM_ACTIVATION)
        if user.role == Role.BANNED:
            raise InvalidInput("this user is already banned")
        return change_role(actor, user, Role.BANNED)


def unban(actor: User, user: User) -> User:
    """Lift a local user's ban back to member."""
    tenant_id, user_id = user.tenant_id, user.id
    with write_transaction():
        user = locked_user(tenant_id, user_id)
        if user.scim_managed:
            raise NotAllowed(SCIM_ACTIVATION)
        if user.role != Role.BANNED:
            raise InvalidInput("this user is not banned")
        return change_role(actor, user, Role.MEMBER)
