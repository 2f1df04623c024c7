"""Roles on a tenant (dashboard and CLI): every change keeps R4 and leaves the tenant a super-admin.

A tenant needs a live super-admin to manage its admins and to own SCIM cohorts (R6). Whether one is left
after a demotion is a fact about the other rows of the tenant, so role changes run in a write transaction
that holds the tenant's lock: two super-admins demoting or banning each other at the same moment queue up,
and the second finds it would remove the last one.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from models import Role, Tenant, User, db
from services import offboarding
from services.errors import ConcurrentChange, EmailNotVerified, InvalidInput, LastSuperAdmin
from services.transactions import for_write, lock_row, write_transaction

LAST_SUPER_ADMIN = (
    "The last super-admin cannot be demoted: the tenant needs one to manage admins and to own SCIM cohorts. "
    "Promote someone else first."
)


def lock_accounts(tenant_id: int) -> None:
    """Make the tenant's role changes and new local accounts wait for this write transaction.

    Checking "another super-admin is left" or "no account has this email" and then writing is only sound while
    nobody else of the tenant can do the same in between: they all lock the tenant's row first (PostgreSQL).
    """
    lock_row(Tenant, tenant_id)


def locked_user(tenant_id: int, user_id: int) -> User:
    """Lock the tenant's accounts and the user's row, and return the user as it is now (in a write transaction)."""
    lock_accounts(tenant_id)
    return db.session.scalar(for_write(select(User).where(User.id == user_id)))


def count_super_admins(tenant_id: int) -> int:
    """Return how many live super-admins the tenant has."""
    return db.session.scalar(
        select(func.count(User.id)).where(
            User.tenant_id == tenant_id, User.role == Role.SUPER_ADMIN, User.deprovisioned_at.is_(None)
        )
    )


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
            user.role = role
            # Banned or a member again: SCIM owns them, so a refused deactivation needs no attention any more.
            offboarding.resolve(user_id, role)
    except StaleDataError:
        # A writer that takes no lock changed this user meanwhile; nothing is lost.
        raise ConcurrentChange("this user changed meanwhile; reload and try again") from None
    return user
