"""What the members list offers on one user's row, worked out from the role rules (services.roles) it enforces."""

from __future__ import annotations

from dataclasses import dataclass, field

from models import Role, User
from services import roles


@dataclass(frozen=True)
class RowActions:
    """What the dashboard offers on one user's row, and why anything is missing."""

    roles: list[Role] = field(default_factory=list)  # choices for the role select, current one included
    can_ban: bool = False
    can_unban: bool = False
    notes: list[str] = field(default_factory=list)


def row_actions(actor: User, user: User, super_admins: int) -> RowActions:
    """Work out the row's actions from the same rules `change_role` enforces."""
    notes: list[str] = []

    def allowed(role: int) -> bool:
        problems = roles.role_problems(actor, user, role, super_admins)
        # Every admin knows they cannot grant more than they hold: that reason is not worth a note.
        notes.extend(p for p in problems if p != roles.ABOVE_OWN and p not in notes)
        return not problems

    if user.role == Role.BANNED:
        return RowActions(can_unban=allowed(Role.MEMBER), notes=notes)
    # Banning is its own button, so the select offers member and up only.
    choices = [r for r in Role if r > Role.BANNED and (r == user.role or allowed(r))]
    can_ban = allowed(Role.BANNED)
    return RowActions(roles=choices if len(choices) > 1 else [], can_ban=can_ban, notes=notes)
