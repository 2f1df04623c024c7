"""The dashboard's directory: member search and paging, and cohorts with their owners and counts (R3, R6).

Queries only: what an admin may change about a member is services.roles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Select, func, or_, select
from sqlalchemy.orm import aliased

from models import Cohort, CohortMember, User, db
from services.errors import NotFound
from services.identifiers import fold

PER_PAGE = 50
MAX_PAGE = 1_000_000  # keeps OFFSET within what every database accepts
MAX_SEARCH_WORDS = 5


@dataclass(frozen=True)
class UserFilter:
    """What the members list is narrowed to; None means "any"."""

    q: str = ""
    role: int | None = None
    scim: bool | None = None
    verified: bool | None = None


@dataclass(frozen=True)
class Page:
    """One page of a listing with the total it was cut from."""

    items: Sequence[Any]  # users or CohortRows, by listing
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.total, self.page * self.per_page)


@dataclass(frozen=True)
class CohortRow:
    cohort: Cohort
    owner: User | None
    member_count: int


# --- queries --------------------------------------------------------------------------------------


def search_users(tenant_id: int, filters: UserFilter, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """Return one page of the tenant's users matching the filter, newest first."""
    clauses = [User.tenant_id == tenant_id, *_filter_clauses(filters)]
    return _paged(select(User).where(*clauses), clauses, [User], page, per_page)


def _filter_clauses(filters: UserFilter) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    words = fold(filters.q).split()[:MAX_SEARCH_WORDS]
    # Every word must start one of the fields, so "jane doe" finds Jane Doe.
    clauses.extend(_word_clause(word) for word in words)
    if filters.role is not None:
        clauses.append(User.role == filters.role)
    if filters.scim is not None:
        clauses.append(User.scim_managed.is_(filters.scim))
    if filters.verified is True:
        clauses.append(User.email_verified_at.is_not(None))
    elif filters.verified is False:
        clauses.append(User.email_verified_at.is_(None))
    return clauses


def _word_clause(word: str) -> ColumnElement[bool]:
    """Match a folded word at the start of any folded name column: the same answer on SQLite and PostgreSQL."""
    prefix = _escape_like(word) + "%"
    return or_(
        User.email_ci.like(prefix, escape="\\"),
        User.user_name_ci.like(prefix, escape="\\"),
        User.given_name_ci.like(prefix, escape="\\"),
        User.family_name_ci.like(prefix, escape="\\"),
        User.display_name_ci.like(prefix, escape="\\"),
        User.display_name_ci.like("% " + prefix, escape="\\"),  # a later word of a display name: "doe" in "Jane Doe"
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _paged(
    query: Select[User],
    clauses: Sequence[ColumnElement[bool]],
    count_from: Sequence[type[User] | FromClause],
    page: int,
    per_page: int,
) -> Page:
    """Fetch one page in a stable order (newest id first) with the total, clamping the page into range.

    A search over 100,000 users scans them; when the page asked for turns out to be the last one, its
    rows already give the total, so the second scan a COUNT would cost is skipped.
    """
    page = min(max(1, page), MAX_PAGE)

    def fetch(number: int) -> list[User]:
        ordered = query.order_by(User.id.desc()).limit(per_page).offset((number - 1) * per_page)
        return list(db.session.scalars(ordered))

    rows = fetch(page)
    if 0 < len(rows) < per_page or (page == 1 and not rows):
        total = (page - 1) * per_page + len(rows)
    else:
        total = db.session.scalar(select(func.count()).select_from(*count_from).where(*clauses)) or 0
        last = max(1, math.ceil(total / per_page))
        if page > last:
            page, rows = last, fetch(last)
    return Page(items=rows, total=total, page=page, per_page=per_page)


def list_cohorts(tenant_id: int, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """Return one page of the tenant's cohorts by name, with owners and member counts."""
    total = db.session.scalar(select(func.count(Cohort.id)).where(Cohort.tenant_id == tenant_id)) or 0
    page = min(max(1, page), max(1, math.ceil(total / per_page)))
    owner = aliased(User)
    rows = db.session.execute(
        select(Cohort, owner)
        .outerjoin(owner, owner.id == Cohort.owner_id)
        .where(Cohort.tenant_id == tenant_id)
        .order_by(Cohort.name_ci, Cohort.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    counts = member_counts([cohort.id for cohort, _ in rows])
    items = [CohortRow(cohort, owner_user, counts.get(cohort.id, 0)) for cohort, owner_user in rows]
    return Page(items=items, total=total, page=page, per_page=per_page)


def member_counts(cohort_ids: list[int]) -> dict[int, int]:
    """Return member counts for these cohorts in one grouped query."""
    if not cohort_ids:
        return {}
    rows = db.session.execute(
        select(CohortMember.cohort_id, func.count())
        .where(CohortMember.cohort_id.in_(cohort_ids))
        .group_by(CohortMember.cohort_id)
    )
    return {cohort_id: count for cohort_id, count in rows}


def get_cohort(tenant_id: int, cohort_id: int) -> CohortRow:
    """Return one of the tenant's cohorts with its owner and member count, or NotFound."""
    cohort = db.session.scalar(select(Cohort).where(Cohort.tenant_id == tenant_id, Cohort.id == cohort_id))
    if cohort is None:
        raise NotFound("no such cohort")
    return CohortRow(cohort, cohort.owner, member_counts([cohort.id]).get(cohort.id, 0))


def cohort_members(tenant_id: int, cohort_id: int, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """Return one page of a cohort's members, newest account first."""
    clauses = [CohortMember.cohort_id == cohort_id, User.tenant_id == tenant_id]
    query = select(User).join(CohortMember, CohortMember.user_id == User.id).where(*clauses)
    count_from = [CohortMember.__table__.join(User.__table__, CohortMember.user_id == User.id)]
    return _paged(query, clauses, count_from, page, per_page)
