"""Settling an offboarding the IdP could not apply: ban the person, or make them a member SCIM owns again."""

from __future__ import annotations

from models import Role, User
from services import offboarding, roles
from services.errors import InvalidInput
from services.provisioning import deprovision_row
from services.roles import SCIM_ACTIVATION, NotAllowed, role_problems
from services.transactions import write_transaction

NOTHING_PENDING = "Nothing is waiting for this person any more: they were banned, demoted or reactivated meanwhile."


def settle(actor: User, user: User, role: int) -> User:
    """Ban (role 1) or demote to member (role 2) a person whose deactivation or deletion SCIM could not apply.

    The dashboard's rules hold as for any role change (rank, not oneself, the last super-admin), except that
    a SCIM-managed person may be banned here: their IdP asked for exactly that. A ban that answers a deletion
    also deprovisions them, as the DELETE would have (R8). A member again, they are SCIM's (R1): the IdP's
    next deactivation applies.
    """
    if role not in (Role.BANNED, Role.MEMBER):
        raise InvalidInput("only a ban or a demotion to member settles an offboarding request")
    tenant_id, user_id = user.tenant_id, user.id
    with write_transaction():
        user = roles.locked_user(tenant_id, user_id)
        pending = offboarding.open_request_for(tenant_id, user_id)
        if pending is None:
            raise NotAllowed(NOTHING_PENDING)
        super_admins = roles.count_super_admins(tenant_id)
        problems = [p for p in role_problems(actor, user, role, super_admins) if p != SCIM_ACTIVATION]
        if problems:
            raise NotAllowed(problems[0])
        deleted = pending.kind == offboarding.DELETE
        user = roles.set_role(user, role)  # closes the request, in this transaction
        if role == Role.BANNED and deleted:
            deprovision_row(user)
        return user
