"""The roles an account holds on its tenant (docs/design.md §2), as Python sees them and as the database stores them."""

from __future__ import annotations

from enum import IntEnum, nonmember

from sqlalchemy import Integer
from sqlalchemy.types import TypeDecorator


class Role(IntEnum):
    """Roles on a tenant, lowest rank first; SCIM owns only BANNED and MEMBER (R1).

    An IntEnum, so ranks compare with `<` and `>` and the database keeps the plain number.
    """

    BANNED = 1
    MEMBER = 2
    MODERATOR = 3
    ADMIN = 4
    SUPER_ADMIN = 5

    SCIM_RUNG = nonmember((BANNED, MEMBER))

    @property
    def label(self) -> str:
        """Return the name people read: "banned", "member", ..., "super-admin"."""
        return self.name.lower().replace("_", "-")

    @classmethod
    def known(cls, value: object) -> bool:
        """Return whether `value` is a role's number (a plain `in Role` refuses non-members before Python 3.12)."""
        return value in cls._value2member_map_


class RoleType(TypeDecorator):
    """An INTEGER column read back as a `Role`; the schema (and so every migration) sees only the INTEGER."""

    impl = Integer
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else int(value)

    def process_result_value(self, value, dialect):
        return None if value is None else Role(value)
