"""Keep per-credential counts in step with the request log (R11), and read the live page's figures from them.

The database adds each log row's requests to its credential's minute and hour rollup for its status class,
through triggers on `scim_requests` (models/request_log.py), in the very statement that writes the row. A
counted refusal row counts each request it stands for, since every request calls `audit.record()` once and
each raises the row's `count`. What stays here, in the same transaction as the row (services/audit.py), is
noting the operations a successful request made the first time the credential makes them. Readers then sum
at most a few hundred rollup rows, whatever the log holds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import Insert, Table, bindparam, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from models import ScimCredential, ScimCredentialOperation, ScimRequest, ScimRequestRollup, db
from services.driver_writes import DriverTransaction

MINUTE, HOUR = 1, 60
# Minute rollups serve the last hour only; a day of them is plenty for clocks and late readers.
MINUTE_ROLLUPS_KEPT = timedelta(days=1)
CLASSES = {2: "2xx", 4: "4xx", 5: "5xx"}
# Typed as either dialect's Insert: both have ON CONFLICT, which the generic Insert has not.
_INSERTS: dict[str, Callable[[Any], postgresql.Insert | sqlite.Insert]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}
# (credential id, operation) pairs this process knows are recorded as first seen: a first-seen row is never
# removed, so once one has committed, later requests need not insert it again (one statement less per request).
_KNOWN_FIRST_SEEN: set[tuple[int, str]] = set()
_KNOWN_LIMIT = 100_000
_known_lock = threading.Lock()


def unseen_operations(row: dict[str, Any]) -> list[tuple[int, str]]:
    """The operations of a logged successful request that its credential makes for the first time, as far as this
    process knows: the (credential id, operation) pairs its log row must note, then `remember` once committed."""
    credential_id = row["credential_id"]
    if credential_id is None or row["status"] >= 300:
        return []
    return [
        (credential_id, op)
        for op in (row.get("operation") or "").split()
        if (credential_id, op) not in _KNOWN_FIRST_SEEN
    ]


def note_first_seen(transaction: DriverTransaction, pairs: list[tuple[int, str]], at: datetime) -> None:
    """Note first-seen operations in the log row's transaction (the row's rollups are its table's triggers' work)."""
    dialect = transaction.dialect.name
    if dialect not in _INSERTS:
        return
    for credential_id, op in pairs:
        transaction.execute(_first_seen(dialect), {"credential_id": credential_id, "operation": op, "first_at": at})


@cache
def _first_seen(dialect: str) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING of one first-seen operation, built once per dialect."""
    table = cast(Table, ScimCredentialOperation.__table__)
    values = {name: bindparam(name, type_=table.c[name].type) for name in ("credential_id", "operation", "first_at")}
    statement = _INSERTS[dialect](table).values(values)
    return statement.on_conflict_do_nothing(index_elements=["credential_id", "operation"])


def forget_first_seen() -> None:
    """Drop what this process remembers of first-seen rows: for a database emptied under a running process."""
    with _known_lock:
        _KNOWN_FIRST_SEEN.clear()


def remember(pairs: Iterable[tuple[int, str]]) -> None:
    """Note first-seen pairs whose rows have committed, so this process stops inserting them."""
    with _known_lock:
        if len(_KNOWN_FIRST_SEEN) > _KNOWN_LIMIT:
            _KNOWN_FIRST_SEEN.clear()
        _KNOWN_FIRST_SEEN.update(pairs)


def buckets(credential_id: int, span: int, since: datetime) -> dict[datetime, dict[str, int]]:
    """Return the credential's counts per bucket start and status class, for buckets starting at or after `since`."""
    rows = db.session.execute(
        select(ScimRequestRollup.start, ScimRequestRollup.status_class, ScimRequestRollup.count).where(
            ScimRequestRollup.credential_id == credential_id,
            ScimRequestRollup.span_minutes == span,
            ScimRequestRollup.start >= since,
        )
    )
    found: dict[datetime, dict[str, int]] = {}
    for start, klass, count in rows:
        counts = found.setdefault(start, {"2xx": 0, "4xx": 0, "5xx": 0})
        counts[CLASSES.get(klass, "5xx")] += count
    return found


def counts_for(credential_ids: list[int], since_hour: datetime) -> dict[int, dict[str, int]]:
    """Sum each credential's hourly rollups from the hour `since_hour` on, by status class; zeros where none."""
    counts = {cid: {"2xx": 0, "4xx": 0, "5xx": 0} for cid in credential_ids}
    if not counts:
        return counts
    rows = db.session.execute(
        select(ScimRequestRollup.credential_id, ScimRequestRollup.status_class, func.sum(ScimRequestRollup.count))
        .where(
            ScimRequestRollup.credential_id.in_(list(counts)),
            ScimRequestRollup.span_minutes == HOUR,
            ScimRequestRollup.start >= since_hour,
        )
        .group_by(ScimRequestRollup.credential_id, ScimRequestRollup.status_class)
    )
    for cid, klass, n in rows:
        counts[cid][CLASSES.get(klass, "5xx")] += n
    return counts


def operations_seen(credential_id: int) -> set[str]:
    """Return the kinds of operation the credential has succeeded at (a handful of rows)."""
    return set(
        db.session.scalars(
            select(ScimCredentialOperation.operation).where(ScimCredentialOperation.credential_id == credential_id)
        )
    )


def last_used(credential_ids: list[int]) -> dict[int, datetime]:
    """Return each credential's latest logged request time: one statement, a (credential, at) index probe per id."""
    if not credential_ids:
        return {}
    latest = select(func.max(ScimRequest.at)).where(ScimRequest.credential_id == ScimCredential.id).scalar_subquery()
    rows = db.session.execute(select(ScimCredential.id, latest).where(ScimCredential.id.in_(credential_ids)))
    return {cid: at for cid, at in rows if at is not None}


def prune(before: datetime, now: datetime) -> None:
    """Drop the rollups of the log rows pruned before `before` (an hour's start), and minute rollups past a day."""
    db.session.execute(delete(ScimRequestRollup).where(ScimRequestRollup.start < before))
    db.session.execute(
        delete(ScimRequestRollup).where(
            ScimRequestRollup.span_minutes == MINUTE, ScimRequestRollup.start < now - MINUTE_ROLLUPS_KEPT
        )
    )
    db.session.commit()
