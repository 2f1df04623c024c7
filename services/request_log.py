"""Read the SCIM request log (R11) in keyset pages: for the public API, its CSV export, and the dashboard.

Pages walk the log in id order: `after` (oldest first, the API) or `before` (newest first, the dashboard)
names the last id seen, so a page is one index range scan however deep it is, and rows that arrive while a
client pages can neither shift a page (as offsets would) nor be seen twice.

Ids are handed out when a row is inserted and become visible when it commits. On SQLite writers take
turns, so ids commit in order. On PostgreSQL two inserts can commit out of order, and a reader that has
seen id 11 could later find a 10 it never saw. So the newest rows wait: a forward page holds only rows
stamped before the settle window (SETTLE, 5 s) and stops below the first row stamped within it. Every row
stamped before the window has committed by then, provided a log insert commits within the window of its
time stamp, across hosts' clocks too. `audit.record` stamps a row only once it holds a connection, so a
wait for one does not count. The same bound lets `since` and `until` become id bounds found through the
(scope, at) indexes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from sqlalchemy import ColumnElement, Integer, func, literal_column, or_, select

from models import ScimCredential, ScimRequest, db, utcnow
from services.database import AnyRow, AnySelect

# The WHERE clauses of one log read, ANDed.
Conditions: TypeAlias = "list[ColumnElement[bool]]"

SETTLE = timedelta(seconds=5)
_NO_ID = 2**62  # above every id: nothing unsettled
COUNTED_MINUTE = timedelta(minutes=1)
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
# Written exactly as the (scope, status / 100, id) indexes are, so the database can use them.
STATUS_CLASS = ScimRequest.status // literal_column("100", Integer)
COLUMNS = (
    ScimRequest.id,
    ScimRequest.at,
    ScimRequest.credential_id,
    ScimRequest.method,
    ScimRequest.path,
    ScimRequest.status,
    ScimRequest.duration_ms,
    ScimRequest.ip,
    ScimRequest.user_agent,
    ScimRequest.operation,
    ScimRequest.failure,
    ScimRequest.count,
    ScimRequest.bucket,
    ScimRequest.skipped_members,
)
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
_RESOURCE_PREFIXES = (("/scim/v2/Users/", "User"), ("/scim/v2/Groups/", "Group"))


@dataclass(frozen=True)
class Filters:
    """Which requests to read: a tenant's, or one of its credentials', narrowed by time, status, method, operation.

    Times are naive UTC; `until` is exclusive. `statuses` holds classes ("4xx") and exact codes ("404").
    """

    tenant_id: int
    credential_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    statuses: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    operations: tuple[str, ...] = ()


@dataclass(frozen=True)
class Page:
    """One forward page; `more` says whether a next page can hold rows, starting after `after`."""

    rows: list[AnyRow]
    more: bool
    after: int | None


def forward(
    filters: Filters, after: int | None, limit: int, *, now: datetime | None = None, settle: timedelta = SETTLE
) -> Page:
    """Return up to `limit` rows after id `after`, oldest first, and whether to ask again.

    A query whose `until` has settled ends: the page after its last row says no more. Any other query
    (polling, without `until`, or reaching into the settle window) always has a next page.
    """
    conditions, settled = _plan(filters, after, now or utcnow(), settle)
    rows = _read(select(*COLUMNS).where(*conditions).order_by(ScimRequest.id).limit(limit + 1))
    full = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1].id if rows else after
    return Page(rows=rows, more=full or not settled, after=last)


def every_row(
    filters: Filters,
    after: int | None = None,
    limit: int | None = None,
    *,
    now: datetime | None = None,
    settle: timedelta = SETTLE,
    batch: int = 2000,
) -> Iterator[AnyRow]:
    """Return the rows `forward` pages would give, oldest first, read in batches: memory stays flat however many.

    Every batch holds back the rows stamped after the same moment, taken now rather than at the first row (a
    response can be streamed later): requests that arrive while an export runs are never part of it.
    """
    conditions, _settled = _plan(filters, after, now or utcnow(), settle)
    return _batches(conditions, after, limit, batch)


def _batches(conditions: Conditions, after: int | None, limit: int | None, batch: int) -> Iterator[AnyRow]:
    last, left = after, limit
    while left is None or left > 0:
        size = batch if left is None else min(batch, left)
        where = [*conditions, ScimRequest.id > last] if last is not None else conditions
        rows = _read(select(*COLUMNS).where(*where).order_by(ScimRequest.id).limit(size))
        yield from rows
        if len(rows) < size:
            return
        last = rows[-1].id
        left = None if left is None else left - len(rows)


def backward(filters: Filters, before: int | None, limit: int) -> tuple[list[AnyRow], int | None]:
    """Return up to `limit` rows before id `before`, newest first, and the cursor of the next older page.

    For people watching the dashboard: the newest rows show at once, unsettled or not.
    """
    conditions = [*_conditions(filters), *_id_bounds(filters, SETTLE)]
    if before is not None:
        conditions.append(ScimRequest.id < before)
    rows = _read(select(*COLUMNS).where(*conditions).order_by(ScimRequest.id.desc()).limit(limit + 1))
    older = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], older


def _read(query: AnySelect) -> list[AnyRow]:
    """Run a column query on the session's connection, without the ORM's per-row work."""
    return list(db.session.connection().execute(query).all())


def _plan(filters: Filters, after: int | None, now: datetime, settle: timedelta) -> tuple[Conditions, bool]:
    """Return the conditions of a forward read and whether its whole range has settled."""
    cutoff = now - settle
    conditions = [*_conditions(filters), *_id_bounds(filters, settle)]
    if after is not None:
        conditions.append(ScimRequest.id > after)
    settled = filters.until is not None and filters.until <= cutoff
    if not settled:
        # Rows stamped inside the window wait, and so do rows above the first of them: a late commit could still
        # land below those. A subquery, not a value read beforehand, so that it sees what the page query sees (one
        # statement, one snapshot). `id + 0` keeps min() off the id index, which would scan from the oldest row.
        # A counted row (bucket set) is stamped with its minute's start and keeps counting until the minute
        # ends, so it is unsettled until its minute plus the window has passed.
        first_unsettled = (
            select(func.min(ScimRequest.id + 0))
            .where(
                ScimRequest.tenant_id == filters.tenant_id,
                ScimRequest.at >= cutoff - COUNTED_MINUTE,
                or_(ScimRequest.at >= cutoff, ScimRequest.bucket.is_not(None)),
            )
            .scalar_subquery()
        )
        conditions.append(ScimRequest.id < func.coalesce(first_unsettled, _NO_ID))
    return conditions, settled


def _scope(filters: Filters) -> ColumnElement[bool]:
    if filters.credential_id is not None:
        return ScimRequest.credential_id == filters.credential_id
    return ScimRequest.tenant_id == filters.tenant_id


def _conditions(filters: Filters) -> Conditions:
    conditions: Conditions = [_scope(filters)]
    if filters.since is not None:
        conditions.append(ScimRequest.at >= filters.since)
    if filters.until is not None:
        conditions.append(ScimRequest.at < filters.until)
    if filters.statuses:
        classes = sorted({int(s[0]) for s in filters.statuses if s in STATUS_CLASSES})
        codes = sorted({int(s) for s in filters.statuses if s not in STATUS_CLASSES})
        # Exact codes narrow their class too, so every status filter can use a status-class index.
        conditions.append(STATUS_CLASS.in_(sorted(set(classes) | {code // 100 for code in codes})))
        if codes:
            either = [ScimRequest.status.in_(codes)]
            if classes:
                either.append(STATUS_CLASS.in_(classes))
            conditions.append(or_(*either))
    if filters.methods:
        conditions.append(ScimRequest.method.in_(sorted(set(filters.methods))))
    if filters.operations:
        conditions.append(or_(*(_has_operation(op) for op in sorted(set(filters.operations)))))
    return conditions


def _has_operation(operation: str) -> ColumnElement[bool]:
    """Match a row whose space-separated `operation` holds this one (`_` escaped: LIKE reads it as any character)."""
    word = operation.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    column = ScimRequest.operation
    return or_(
        column == operation,
        column.like(f"{word} %", escape="\\"),
        column.like(f"% {word}", escape="\\"),
        column.like(f"% {word} %", escape="\\"),
    )


def one(credential_id: int, request_id: int) -> AnyRow | None:
    """Return one logged request of the credential, with its failure reason, or None."""
    query = select(*COLUMNS, ScimRequest.reason).where(
        ScimRequest.id == request_id, ScimRequest.credential_id == credential_id
    )
    return db.session.connection().execute(query).first()


def _id_bounds(filters: Filters, slack: timedelta) -> Conditions:
    """Turn `since` and `until` into id bounds, so a time range is an id range scan too.

    A row stamped more than `slack` before another has the lower id (see the module docstring), so the last
    row stamped before `since - slack` lies below every row of the range, and the first stamped at or after
    `until + slack` above it. Each is one probe of a (scope, at) index.
    """
    bounds = []
    if filters.since is not None:
        floor = db.session.scalar(
            select(ScimRequest.id)
            .where(_scope(filters), ScimRequest.at < filters.since - slack)
            .order_by(ScimRequest.at.desc())
            .limit(1)
        )
        if floor is not None:
            bounds.append(ScimRequest.id > floor)
    if filters.until is not None:
        ceiling = db.session.scalar(
            select(ScimRequest.id)
            .where(_scope(filters), ScimRequest.at >= filters.until + slack)
            .order_by(ScimRequest.at)
            .limit(1)
        )
        if ceiling is not None:
            bounds.append(ScimRequest.id < ceiling)
    return bounds


def rfc3339(moment: datetime) -> str:
    """Format a naive UTC time as RFC 3339 with milliseconds and a Z."""
    return moment.isoformat(timespec="milliseconds") + "Z"


def resource(path: str) -> tuple[str, str] | None:
    """Return the (type, SCIM id) of the user or group a logged path names, or None.

    Read from the stored path rather than kept in a column of its own: every row logged before this
    existed has it too, and nothing filters on it.
    """
    for prefix, kind in _RESOURCE_PREFIXES:
        if path.startswith(prefix):
            scim_id = path[len(prefix) :].removesuffix("/")
            if scim_id and "/" not in scim_id and scim_id != ".search":
                return kind, scim_id
    return None


def entry(row: AnyRow) -> dict[str, Any]:
    """Return one logged request as the API shows it: never a body, a query string or a token (R11)."""
    named = resource(row.path)
    return {
        "id": row.id,
        "time": rfc3339(row.at),
        "credential_id": row.credential_id,
        "method": row.method,
        "path": row.path,
        "status": row.status,
        "duration_ms": row.duration_ms,
        "client_ip": row.ip,
        "user_agent": row.user_agent,
        # Every kind of change the request made (a PATCH that renames and changes members is both).
        "operations": (row.operation or "").split(),
        "failure": row.failure,
        # Refusals of unauthenticated floods are counted per address and minute: one entry for `count` requests.
        "count": row._mapping["count"] or 1,  # `row.count` would read as the tuple method to a type checker
        # Member ids a group write skipped because they name no user SCIM can see (R7): a count, never ids.
        "skipped_members": row.skipped_members or 0,
        "resource_type": named[0] if named else None,
        "resource_id": named[1] if named else None,
    }


def credentials_with_last_use(tenant_id: int) -> list[tuple[ScimCredential, datetime | None]]:
    """Return the tenant's credentials, oldest first, each with its latest request's time.

    One correlated max() per credential, each a probe of the (credential, at) index however long the log.
    """
    last = select(func.max(ScimRequest.at)).where(ScimRequest.credential_id == ScimCredential.id).scalar_subquery()
    rows = db.session.execute(
        select(ScimCredential, last).where(ScimCredential.tenant_id == tenant_id).order_by(ScimCredential.id)
    )
    return [(credential, used) for credential, used in rows]
