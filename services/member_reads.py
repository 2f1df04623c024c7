"""Members as SCIM reads them (GET /Users, /Users/{id}): plain rows, no ORM entities.

A read changes nothing, so the ORM's identity map, change tracking and per-entity loading buy it nothing,
and on a page of 100 users they cost more CPU than the rest of the request. These statements select only
the columns a SCIM User is rendered from, each with its emails joined: one statement for one id, one for a page
(the ORM loads took two for a page). Writes keep loading `models.User`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import CursorResult, Integer, Select, bindparam, select, type_coerce

from models import Role, ScimMemberCount, User, UserEmail, db
from services.database import AnySelect, Rfc3339
from services.provisioning import scim_visible, user_not_found

_USERS = User.__table__
_EMAILS = UserEmail.__table__
# What a SCIM User is rendered from (scim/user_resources.py); the folded and dashboard columns stay behind.
_USER_COLUMNS = (
    _USERS.c.id,
    _USERS.c.tenant_id,
    _USERS.c.scim_id,
    _USERS.c.user_name,
    _USERS.c.external_id,
    type_coerce(_USERS.c.role, Integer).label("role"),  # the number: `active` compares it, nothing needs the Role
    _USERS.c.profile,
    Rfc3339(_USERS.c.created_at).label("created"),
    Rfc3339(_USERS.c.updated_at).label("last_modified"),
)
_EMAIL_COLUMNS = (_EMAILS.c.value, _EMAILS.c.type, _EMAILS.c.primary, _EMAILS.c.display)


@dataclass(slots=True)
class Email:
    value: str | None
    type: str | None
    primary: bool | None
    display: str | None


@dataclass(slots=True)
class MemberView:
    """The attributes of `models.User` that a SCIM User is rendered from, read without the ORM."""

    id: int
    tenant_id: int
    scim_id: str
    user_name: str | None
    external_id: str | None
    role: int
    profile: dict[str, Any] | None
    created: str  # `created_at` as SCIM shows it (RFC 3339, whole seconds), formatted by the database
    last_modified: str  # `updated_at`, likewise
    emails: list[Email] = field(default_factory=list)

    @property
    def active(self) -> bool:
        """SCIM's `active` is the member rung (R1), as `models.User.active` says."""
        return self.role == Role.MEMBER


# GET /Users/{id}: built once, the emails joined in position order; the values travel as bound parameters.
_BY_SCIM_ID = (
    select(*_USER_COLUMNS, _EMAILS.c.id.label("email_id"), *_EMAIL_COLUMNS)
    .select_from(_USERS.outerjoin(_EMAILS, _EMAILS.c.user_id == _USERS.c.id))
    .where(scim_visible(bindparam("tenant_id")), _USERS.c.scim_id == bindparam("scim_id"))
    .order_by(_EMAILS.c.position)
)
# A page (GET /Users): the same join in id order, built once; `members_in` adds which ids.
_PAGE = (
    select(*_USER_COLUMNS, _EMAILS.c.id.label("email_id"), *_EMAIL_COLUMNS)
    .select_from(_USERS.outerjoin(_EMAILS, _EMAILS.c.user_id == _USERS.c.id))
    .order_by(_USERS.c.id, _EMAILS.c.position)
)
_USER_WIDTH = len(_USER_COLUMNS)


def scim_user(tenant_id: int, scim_id: str) -> MemberView:
    """Return the SCIM-visible member with this id, or raise NotFound alike for anyone else (R3)."""
    rows = _execute(_BY_SCIM_ID, {"tenant_id": tenant_id, "scim_id": scim_id}).all()
    if not rows:
        raise user_not_found(tenant_id, User.scim_id == scim_id)
    member = MemberView(*rows[0][:_USER_WIDTH])
    member.emails = [Email(*row[_USER_WIDTH + 1 :]) for row in rows if row.email_id is not None]
    return member


def members_in(window: Select[int]) -> list[MemberView]:
    """Return the members whose ids `window` (a SELECT of user ids: one page of a list) holds, in id order, with
    their emails joined: one statement, whatever the page's size."""
    query = _PAGE.where(_USERS.c.id.in_(window.scalar_subquery()))
    page: list[MemberView] = []
    member: MemberView | None = None
    for row in _execute(query).all():
        if member is None or member.id != row[0]:
            member = MemberView(*row[:_USER_WIDTH])
            page.append(member)
        if row[_USER_WIDTH] is not None:
            member.emails.append(Email(*row[_USER_WIDTH + 1 :]))
    return page


_VISIBLE_COUNT = select(ScimMemberCount.visible).where(ScimMemberCount.tenant_id == bindparam("tenant_id"))


def visible_count(tenant_id: int) -> int:
    """Return how many members SCIM sees in the tenant: one row the database keeps (models/member_counts.py)."""
    count: int | None = _execute(_VISIBLE_COUNT, {"tenant_id": tenant_id}).scalar()
    return count or 0


def _execute(statement: AnySelect, parameters: dict[str, Any] | None = None) -> CursorResult[*tuple[Any, ...]]:
    """Run a read on the session's connection, in its transaction: rows come back as plain rows.

    Through the session, a statement whose clauses name ORM attributes (the visibility clause, filters)
    would get the ORM's result handling, which these column reads do not use.
    """
    return db.session.connection().execute(statement, parameters)
