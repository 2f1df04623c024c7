"""Cohort membership as SCIM changes it (R7, R8): set-based, a few statements whatever the number of members.

Only SCIM-visible users (services.visibility.scim_visible) ever take part: they are the only members SCIM lists,
the only ones it may add, and the only ones its removals and replacements can drop. Memberships of anyone else
(promoted, local or deprovisioned users) are left exactly as they are. An id to add that SCIM cannot see is
skipped and counted, never refused: one such id must not cost the IdP every other change of its push (R7).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from models import Cohort, CohortMember, User, db, utcnow
from services.database import rows_affected
from services.visibility import scim_visible, scim_visible_by_id

T = TypeVar("T")

# Bound parameters per statement stay far below SQLite's (32766) and PostgreSQL's (65535) limits.
_IDS_PER_QUERY = 2000


@dataclass
class MembershipChange:
    """A request's membership operations folded, in order, into one set operation (RFC 7644 §3.5.2).

    `replace` set: the visible members become exactly these ids. Otherwise `add` and `remove` (disjoint) are
    applied to the current members. Folding keeps the meaning of the sequence: add a, remove a leaves a out.
    """

    replace: set[str] | None = None
    add: set[str] = field(default_factory=set)
    remove: set[str] = field(default_factory=set)

    def added(self, scim_ids: Iterable[str]) -> None:
        """Fold in an `add` of these user ids."""
        ids = set(scim_ids)
        if self.replace is not None:
            self.replace |= ids
        else:
            self.add |= ids
            self.remove -= ids

    def removed(self, scim_ids: Iterable[str]) -> None:
        """Fold in a `remove` of these user ids."""
        ids = set(scim_ids)
        if self.replace is not None:
            self.replace -= ids
        else:
            self.remove |= ids
            self.add -= ids

    def replaced(self, scim_ids: Iterable[str]) -> None:
        """Fold in a `replace` of the whole membership (an empty list removes every visible member)."""
        self.replace, self.add, self.remove = set(scim_ids), set(), set()

    @property
    def incoming(self) -> set[str]:
        """The ids that must be members afterwards; those naming no user SCIM can see are skipped."""
        return self.replace if self.replace is not None else self.add


@dataclass(frozen=True)
class MembershipResult:
    """How many memberships a change created and removed, and how many ids to add it skipped as not SCIM's."""

    added: int = 0
    removed: int = 0
    skipped: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


def visible_members(tenant_id: int, cohort_ids: Sequence[int]) -> dict[int, list[tuple[str, str | None]]]:
    """Return, per cohort id, its SCIM-visible members as (scim id, display) in one query, oldest users first."""
    result: dict[int, list[tuple[str, str | None]]] = defaultdict(list)
    if not cohort_ids:
        return result
    rows = db.session.execute(
        select(CohortMember.cohort_id, User.scim_id, User.display_name, User.user_name)
        .join(User, User.id == CohortMember.user_id)
        .where(CohortMember.cohort_id.in_(cohort_ids), scim_visible_by_id(tenant_id))
        .order_by(CohortMember.cohort_id, User.id)
    )
    for cohort_id, scim_id, display_name, user_name in rows:
        result[cohort_id].append((scim_id, display_name or user_name))
    return result


def apply_change(cohort: Cohort, change: MembershipChange) -> MembershipResult:
    """Apply a membership change inside the caller's transaction (the caller commits or rolls back).

    Ids to add that name no SCIM-visible user of the cohort's tenant (unknown, another tenant's, local, promoted,
    deprovisioned, a group's) are skipped and counted, all alike, and the rest is applied (R7). Ids to remove that
    SCIM cannot see are no-ops: removing a non-member succeeds (docs/idp-behaviour.md pitfall 33), and an
    invisible user's membership is never SCIM's to drop (R7).
    """
    found = _resolve(cohort.tenant_id, change.incoming)
    incoming = set(found.values())
    skipped = len(change.incoming) - len(found)
    if change.replace is not None:
        current = set(
            db.session.scalars(
                select(CohortMember.user_id)
                .join(User, User.id == CohortMember.user_id)
                .where(CohortMember.cohort_id == cohort.id, scim_visible(cohort.tenant_id))
            )
        )
        to_add, to_remove = incoming - current, current - incoming
    else:
        to_add, to_remove = incoming, set(_resolve(cohort.tenant_id, change.remove).values())
    return MembershipResult(
        added=_insert_missing(cohort.id, to_add), removed=_delete(cohort.id, to_remove), skipped=skipped
    )


def _resolve(tenant_id: int, scim_ids: Collection[str]) -> dict[str, int]:
    """Map SCIM user ids to database ids, for SCIM-visible users only: one query per 2,000 ids."""
    found: dict[str, int] = {}
    for chunk in _chunks(sorted(scim_ids), _IDS_PER_QUERY):
        rows = db.session.execute(select(User.scim_id, User.id).where(scim_visible(tenant_id), User.scim_id.in_(chunk)))
        found.update((scim_id, user_id) for scim_id, user_id in rows)
    return found


def _insert_missing(cohort_id: int, user_ids: Collection[int]) -> int:
    """Insert the pairs not there yet, in batches; a pair a concurrent request inserted first is skipped."""
    if not user_ids:
        return 0
    now = utcnow()
    rows = [{"cohort_id": cohort_id, "user_id": user_id, "created_at": now} for user_id in sorted(user_ids)]
    table = CohortMember.__table__
    # The two databases we run on (docs/design.md §8) both have INSERT ... ON CONFLICT DO NOTHING.
    module = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    # executemany with RETURNING: SQLAlchemy sends it as multi-row INSERTs, and the rows returned are exactly
    # the pairs inserted (PostgreSQL reports no rowcount for an executemany).
    statement = module.insert(table).on_conflict_do_nothing().returning(table.c.user_id)
    return len(db.session.execute(statement, rows).all())


def _delete(cohort_id: int, user_ids: Collection[int]) -> int:
    removed = 0
    for chunk in _chunks(sorted(user_ids), _IDS_PER_QUERY):
        statement = delete(CohortMember).where(CohortMember.cohort_id == cohort_id, CohortMember.user_id.in_(chunk))
        removed += rows_affected(db.session.execute(statement))
    return removed


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
