"""Members as SCIM reads them (GET /Users, /Users/{id}): plain rows, no ORM entities.

A read changes nothing, so the ORM's identity map, change tracking and per-entity loading buy it nothing,
and on a page of 100 users they cost more CPU than the rest of the request. These statements select only
the columns a SCIM User is rendered from, each with its emails joined and its groups gathered into one value:
one statement for one id, one for a page (the ORM loads took three). Writes keep loading `models.User`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    ColumnElement,
    Integer,
    Select,
    bindparam,
    case,
    exists,
    func,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by

from models import Cohort, CohortMember, Role, ScimMemberCount, User, UserEmail, db
from services import driver_reads
from services.database import AnySelect, Rfc3339
from services.provisioning import user_not_found
from services.visibility import scim_visible, scim_visible_for_list

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
    groups: list[tuple[str, str]] = field(default_factory=list)  # (scim_id, name) of each SCIM-visible cohort

    @property
    def active(self) -> bool:
        """SCIM's `active` is the member rung (R1), as `models.User.active` says."""
        return self.role == Role.MEMBER


def _groups_sqlite() -> ColumnElement[Any]:
    """The member's SCIM-visible cohorts as one JSON array of [scim_id, name], in cohort id order.

    SQLite 3.40 has no ORDER BY inside an aggregate; it aggregates an ordered subquery in that order (such a
    subquery is never flattened into an aggregate). Sorting costs a temporary b-tree per member, so a member in no
    cohort (most of a page, most days) is told by one probe of the members' user index and reads as NULL: the
    ordered form made a page of 100 such members 27 % dearer in SQLite, the guarded one 6 %. The same index finds
    a member's few rows; without statistics SQLite would walk the tenant's every cohort through the cohorts' tenant
    index instead, which `tenant_id + 0` keeps it off.
    """
    mine = (
        select(Cohort.scim_id, Cohort.name)
        .join(CohortMember, CohortMember.cohort_id == Cohort.id)
        .where(
            CohortMember.user_id == _USERS.c.id,
            Cohort.tenant_id + 0 == _USERS.c.tenant_id,
            Cohort.scim_managed.is_(True),
            Cohort.scim_deleted_at.is_(None),
        )
        .order_by(Cohort.id)
        .correlate(_USERS)
        .subquery()
    )
    gathered = select(func.json_group_array(func.json_array(mine.c.scim_id, mine.c.name))).scalar_subquery()
    in_any = exists().where(CohortMember.user_id == _USERS.c.id).correlate(_USERS)
    return type_coerce(case((in_any, gathered)), JSON).label("groups")


def _groups_postgresql() -> ColumnElement[Any]:
    """The same on PostgreSQL: json_agg in cohort id order (NULL when none, read as an empty list)."""
    gathered = (
        select(func.json_agg(aggregate_order_by(func.json_build_array(Cohort.scim_id, Cohort.name), Cohort.id)))
        .join_from(CohortMember, Cohort, Cohort.id == CohortMember.cohort_id)
        .where(
            CohortMember.user_id == _USERS.c.id,
            Cohort.tenant_id == _USERS.c.tenant_id,
            Cohort.scim_managed.is_(True),
            Cohort.scim_deleted_at.is_(None),
        )
        .scalar_subquery()
    )
    return type_coerce(gathered, JSON).label("groups")


class _Reads(NamedTuple):
    """A dialect's member reads, each with the emails joined and the groups gathered."""

    by_scim_id: AnySelect
    page: AnySelect  # members_in adds which ids
    by_user_name: AnySelect  # folded
    visible_forward: AnySelect  # a window of the unfiltered list, counted from its start
    visible_backward: AnySelect  # counted from its end


def _reads(dialect: str, groups: ColumnElement[Any]) -> _Reads:
    """Build the reads of one member by id, of a page, and of the members with one userName.

    SQLite keeps no statistics: to save sorting the one or two members a userName finds, it would walk the tenant
    in id order through an index on tenant_id, or take the visibility terms' index. The list's filtered form of
    the rule and `id + 0` (no order an index offers) leave it the userName's own index. PostgreSQL plans from its
    statistics.
    """
    columns = (*_USER_COLUMNS, groups, _EMAILS.c.id.label("email_id"), *_EMAIL_COLUMNS)
    joined = _USERS.outerjoin(_EMAILS, _EMAILS.c.user_id == _USERS.c.id)
    by_scim_id = (
        select(*columns)
        .select_from(joined)
        .where(scim_visible(bindparam("tenant_id")), _USERS.c.scim_id == bindparam("scim_id"))
        .order_by(_EMAILS.c.position)
    )
    page = select(*columns).select_from(joined).order_by(_USERS.c.id, _EMAILS.c.position)
    by_user_name = (
        select(*columns)
        .select_from(joined)
        .where(
            scim_visible_for_list(bindparam("tenant_id"), filtered=True, dialect=dialect),
            _USERS.c.user_name_ci == bindparam("user_name_ci"),
        )
        .order_by(_USERS.c.id + 0 if dialect == "sqlite" else _USERS.c.id, _EMAILS.c.position)
    )
    return _Reads(by_scim_id, page, by_user_name, _visible(page, dialect, False), _visible(page, dialect, True))


def _visible(page: AnySelect, dialect: str, descending: bool) -> AnySelect:
    """`page` for the window [offset, offset + limit) of the tenant's SCIM-visible members in id order (from the end
    when `descending`): the unfiltered list, which Okta's imports page through. Its ids come from an index-only walk
    of `ix_users_scim_visible`, whose terms the list's form of the rule repeats."""
    ids = select(_USERS.c.id).where(scim_visible_for_list(bindparam("tenant_id"), filtered=False, dialect=dialect))
    ordered = ids.order_by(_USERS.c.id.desc() if descending else _USERS.c.id)
    window = ordered.offset(bindparam("offset", type_=Integer)).limit(bindparam("limit", type_=Integer))
    return page.where(_USERS.c.id.in_(window.scalar_subquery()))


# Built once per dialect; the values travel as bound parameters.
_GROUPS = {"sqlite": _groups_sqlite(), "postgresql": _groups_postgresql()}
_READS = {dialect: _reads(dialect, groups) for dialect, groups in _GROUPS.items()}
_USER_WIDTH = len(_USER_COLUMNS)
# Where a row holds what follows the user's columns: their groups, the email's id, then the email's columns.
_GROUPS_AT = _USER_WIDTH
_EMAIL_ID_AT = _USER_WIDTH + 1
_EMAIL_AT = _USER_WIDTH + 2


def scim_user(tenant_id: int, scim_id: str) -> MemberView:
    """Return the SCIM-visible member with this id, or raise NotFound alike for anyone else (R3)."""
    found = _members(_read(lambda reads: reads.by_scim_id, {"tenant_id": tenant_id, "scim_id": scim_id}))
    if not found:
        raise user_not_found(tenant_id, User.scim_id == scim_id)
    return found[0]


def members_in(window: Select[int]) -> list[MemberView]:
    """Return the members whose ids `window` (a SELECT of user ids: one page of a list) holds, in id order, with
    their emails and groups: one statement, whatever the page's size."""
    connection = db.session.connection()
    page = _READS[connection.dialect.name].page
    return _members(connection.execute(page.where(_USERS.c.id.in_(window.scalar_subquery()))).all())


def visible_window(tenant_id: int, descending: bool, offset: int, limit: int) -> list[MemberView]:
    """Return the window [offset, offset + limit) of the tenant's SCIM-visible members (counted from the end when
    `descending`), in id order, with their emails and groups: a statement built once, unlike a filtered page's,
    whose building and cache key cost the unfiltered list 4 % of its CPU."""
    parameters = {"tenant_id": tenant_id, "offset": offset, "limit": limit}
    return _members(_read(lambda reads: reads.visible_backward if descending else reads.visible_forward, parameters))


def with_user_name(tenant_id: int, folded_user_name: str) -> list[MemberView]:
    """Return the SCIM-visible members whose folded userName is this, in id order (R5 keeps them to one).

    A statement built once: `userName eq` is the filter IdPs send before every create, and building a filtered
    page's statement anew (and its cache key, a walk of the whole statement) cost it a quarter of its CPU.
    """
    return _members(_read(lambda reads: reads.by_user_name, {"tenant_id": tenant_id, "user_name_ci": folded_user_name}))


def groups_column() -> ColumnElement[Any]:
    """The member's SCIM-visible groups, gathered in JSON, as a column over `users` (read them with `pairs`).

    A write reads it with the member it locks (provisioning.update_scim_user), so its answer needs no statement more.
    """
    return _GROUPS[db.session.get_bind().dialect.name]


def _read(which: Callable[[_Reads], AnySelect], parameters: dict[str, Any]) -> Sequence[Sequence[Any]]:
    """Run one of the dialect's built-once reads on the session's connection, in its transaction, on the driver
    (services/driver_reads.py): SQLAlchemy's result handling cost more than these statements."""
    connection = driver_reads.session_connection()
    return driver_reads.fetch_all(connection, which(_READS[connection.dialect.name]), parameters)


def _members(rows: Sequence[Sequence[Any]]) -> list[MemberView]:
    """Fold a read's rows (one per member and email, in member order) into members with their emails and groups."""
    members: list[MemberView] = []
    member: MemberView | None = None
    for row in rows:
        if member is None or member.id != row[0]:
            member = MemberView(*row[:_USER_WIDTH])
            member.groups = pairs(row[_GROUPS_AT])
            members.append(member)
        if row[_EMAIL_ID_AT] is not None:
            member.emails.append(Email(*row[_EMAIL_AT:]))
    return members


def pairs(gathered: list[list[str]] | None) -> list[tuple[str, str]]:
    """The groups as gathered in JSON ([[scim_id, name], ...], or NULL for none) as (scim_id, name) pairs."""
    return [(scim_id, name) for scim_id, name in gathered or ()]


_VISIBLE_COUNT = select(ScimMemberCount.visible).where(ScimMemberCount.tenant_id == bindparam("tenant_id"))


def visible_count(tenant_id: int) -> int:
    """Return how many members SCIM sees in the tenant: one row the database keeps (models/member_counts.py)."""
    counted = driver_reads.rows(_VISIBLE_COUNT, {"tenant_id": tenant_id})
    return int(counted[0][0]) if counted else 0
