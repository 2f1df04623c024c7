"""The SCIM request log (docs/design.md R11): one small write per request, and the queries the dashboard reads.

Most requests get a row each. Refusals of requests that never proved a credential (and the 429s of
the failed-authentication limit) are counted instead: one row per tenant, credential, client address,
minute and kind, whose `count` an upsert raises, so a flood grows the table by one row a minute per
address rather than one per request, and every sum below adds up `count`, never rows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from flask import current_app
from sqlalchemy import Insert, Table, bindparam, case, delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

import logsafe
from models import ScimCredential, ScimRequest, db, utcnow
from services import database, rollups
from services.driver_writes import DriverTransaction

log = logsafe.logger(__name__)

# A lost connection costs one attempt; a second try on a fresh one nearly always lands. Three attempts
# keep a row even when the retry's connection is ended too, as happens while a server restarts.
ATTEMPTS = 3
_lost = 0
_lost_lock = threading.Lock()


@dataclass(frozen=True)
class RequestRecord:
    """What R11 keeps of one request: never its body, query string or Authorization header."""

    tenant_id: int | None
    credential_id: int | None
    method: str
    path: str
    status: int
    duration_ms: float
    ip: str | None
    user_agent: str | None
    operation: str | None  # every kind of change made, space-separated
    failure: str | None
    # Count into the row of its tenant, credential, address, minute and kind instead of a row of its own.
    counted: bool = False
    # A fixed code of ours saying why it failed, finer than `failure`; never a value from the request.
    reason: str | None = None
    # Member ids a group write skipped as naming no user SCIM can see (R7): a count, never the ids.
    skipped_members: int | None = None


# Where app.py keeps the log's own engine, in `app.extensions` (none for an in-memory SQLite database).
ENGINE = "request_log_engine"
# The columns a log row is written with; every write names them all, so its SQL is rendered once.
_TABLE = cast(Table, ScimRequest.__table__)
_VALUES = {column.name: bindparam(column.name, type_=column.type) for column in _TABLE.c if column.name != "id"}
# A row of its own. Inline: nothing is read back (PostgreSQL would otherwise be asked to return the new id).
_INSERT = insert(_TABLE).values(_VALUES).inline()
# Both dialects spell the upsert INSERT ... ON CONFLICT (bucket) DO UPDATE.
_UPSERT_INSERTS: dict[str, Callable[[Any], postgresql.Insert | sqlite.Insert]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}


def record(entry: RequestRecord) -> None:
    """Write one log row (or count into one) on its own connection, outside the request's transaction.

    A request that failed and rolled back is still recorded. An insert that meets a lost connection
    is retried on a fresh one; one that cannot be written is counted and logged (without personal
    data) instead of breaking the response.
    """
    row: dict[str, Any] = {
        "tenant_id": entry.tenant_id,
        "credential_id": entry.credential_id,
        "method": _text(entry.method, 10),
        "path": _text(entry.path, 512),
        "status": entry.status,
        "duration_ms": round(entry.duration_ms, 2),
        "ip": _text(entry.ip, 45) or None,
        "user_agent": _text(entry.user_agent, 255) or None,
        "operation": _text(entry.operation, 40) or None,
        "failure": _text(entry.failure, 40) or None,
        "reason": _text(entry.reason, 80) or None,
        "skipped_members": entry.skipped_members or None,
    }
    pairs = rollups.unseen_operations(row)
    for attempt in range(1, ATTEMPTS + 1):
        progress = _Progress()
        try:
            # On the driver, its SQL rendered once: SQLAlchemy's Connection cost more than the row (driver_writes).
            with DriverTransaction(_engine()) as transaction:
                # Stamped once a connection is held, on every attempt: readers of the log rely on a row
                # committing within moments of its time stamp (services/request_log.py), and a wait for a
                # pooled connection or a retry would break that.
                row["at"] = utcnow()
                _insert(transaction, row, entry.counted, pairs, progress)
            rollups.remember(pairs)
            return
        except Exception as error:  # noqa: BLE001 - the audit must never break the response it describes
            if database.unavailable(error) and (progress.xid is not None or progress.alone):
                # The connection died as the row committed: ask whether it is in before writing it twice.
                settled = database.committed(progress.xid) if progress.xid is not None else _is_logged(row)
                if settled:
                    return
                if settled is None:
                    _give_up(entry.status, error, attempt)
                    return
            if attempt < ATTEMPTS and database.unavailable(error):
                continue
            _give_up(entry.status, error, attempt)
            return


@dataclass
class _Progress:
    """How far one attempt at a row got, for settling it if its connection dies before the answer comes."""

    xid: int | None = None  # its transaction's id, noted before COMMIT (PostgreSQL)
    alone: bool = False  # sent as one statement that commits as it runs (PostgreSQL)


def _insert(
    transaction: DriverTransaction,
    row: dict[str, Any],
    counted: bool,
    first_seen: list[tuple[int, str]],
    progress: _Progress,
) -> None:
    """Write the row (or count it in) and its first-seen operations (services/rollups.py), together or not at all.

    The row's statement also adds it to its rollups: the log table's triggers do (models/request_log.py). On
    PostgreSQL the log's connections autocommit (app.py): a row of its own is one statement and one round trip,
    which its content settles if the answer is lost. A count, which its content cannot settle, and a row with
    first-seen operations open a transaction, whose id, noted before COMMIT, settles it.
    """
    dialect = transaction.dialect.name
    statement, values = _write(row, counted, dialect)
    if dialect == "postgresql" and not counted and not first_seen:
        progress.alone = True
        transaction.execute(statement, values)
        return
    if dialect == "postgresql":
        transaction.begin()
        progress.xid = int(transaction.returned(_with_xid(statement), values))
    else:
        transaction.execute(statement, values)
    rollups.note_first_seen(transaction, first_seen, row["at"])


def _is_logged(row: dict[str, Any]) -> bool | None:
    """Ask a fresh connection whether this row of its own is in the log: True, False, or None if no answer came.

    Its time stamp is to the microsecond and taken afresh on every attempt, so with its credential (or tenant),
    method, path and status it names one request. Asked through the index that starts with the credential or
    the tenant.
    """
    log_row = _TABLE.c
    if row["credential_id"] is not None:
        owner = log_row.credential_id == row["credential_id"]
    elif row["tenant_id"] is not None:
        owner = log_row.tenant_id == row["tenant_id"]
    else:
        owner = log_row.tenant_id.is_(None)
    question = select(log_row.id).where(
        owner,
        log_row.at == row["at"],
        log_row.method == row["method"],
        log_row.path == row["path"],
        log_row.status == row["status"],
        log_row.bucket.is_(None),
    )
    settled = database.ask_afresh(lambda connection: connection.execute(question.limit(1)).first() is not None)
    if settled is None:
        log.warning("could not learn whether a request-log row was written after its connection was lost")
    return settled


def _engine() -> Engine:
    """The engine log rows are written with: one of their own (app.py), whose commits do not wait for the disk."""
    engine: Engine | None = current_app.extensions.get(ENGINE)
    return engine or db.engine


@cache
def _with_xid(statement: Insert) -> Insert:
    """Return the write with RETURNING txid_current(), built once: the id rides on the INSERT's round trip."""
    return statement.returning(func.txid_current())


def _give_up(status: int, error: Exception, attempts: int) -> None:
    """Count a row that could not be written, and say so with the count and status only."""
    global _lost
    with _lost_lock:
        _lost += 1
        lost = _lost
    # Only the exception's type: SQLAlchemy's message quotes the parameters (IP, User-Agent, path).
    log.error(
        "SCIM request log: gave up on the row of a request answered %s after %d attempt(s) (%s); "
        "%d row(s) lost by this process since it started",
        status,
        attempts,
        type(error).__name__,
        lost,
    )


def lost_rows() -> int:
    """Return how many request-log rows this process gave up on since it started."""
    return _lost


def _write(row: dict[str, Any], counted: bool, dialect: str) -> tuple[Insert, dict[str, Any]]:
    """Return the insert of a row of its own, or the upsert that counts it into its bucket's row, with its values."""
    if not counted or dialect not in _UPSERT_INSERTS:
        return _INSERT, {**row, "count": 1, "bucket": None}
    minute = row["at"].replace(second=0, microsecond=0)
    key = (
        row["tenant_id"],
        row["credential_id"],
        row["ip"],
        minute.strftime("%Y%m%d%H%M"),
        row["status"],
        row["failure"],
    )
    bucket = "|".join("-" if part is None else str(part) for part in key)
    return _upsert(dialect), {**row, "at": minute, "count": 1, "bucket": bucket}


@cache
def _upsert(dialect: str) -> Insert:
    """Build once per dialect: INSERT ... ON CONFLICT (bucket) DO UPDATE SET count = count + 1."""
    statement = _UPSERT_INSERTS[dialect](_TABLE).values(_VALUES).inline()
    return statement.on_conflict_do_update(
        index_elements=[ScimRequest.bucket],
        index_where=ScimRequest.bucket.is_not(None),  # the unique index is partial (models/request_log.py)
        set_={"count": ScimRequest.count + 1},
    )


def _text(value: str | None, limit: int) -> str:
    """Make a client-supplied string storable: no NUL (PostgreSQL refuses it), valid UTF-8, cut to the column."""
    return (value or "").replace("\x00", "").encode("utf-8", "replace").decode("utf-8")[:limit]


def status_counts(credential: ScimCredential, since: datetime) -> dict[str, int]:
    """Count the credential's requests since `since` by status class: 2xx, 4xx, 5xx (counted rows by `count`)."""
    klass = case(
        (ScimRequest.status < 300, "2xx"),
        (ScimRequest.status < 500, "4xx"),
        else_="5xx",
    )
    rows = db.session.execute(
        select(klass, func.sum(ScimRequest.count))
        .where(ScimRequest.credential_id == credential.id, ScimRequest.at >= since)
        .group_by(klass)
    )
    counts = {"2xx": 0, "4xx": 0, "5xx": 0}
    counts.update({k: n for k, n in rows})
    return counts


def prune(before: datetime, batch: int = 500, pause: float = 0.02, rest: float = 3.0) -> int:
    """Delete request-log rows older than `before` in small server-side batches; return how many.

    Each batch is one `DELETE ... WHERE id IN (SELECT id ... ORDER BY id LIMIT n)` in a transaction of its own,
    so no id list travels to the client and the write lock is held for one batch only (on SQLite, a few ms for
    500 rows with the log's eight indexes). The oldest rows have the lowest ids, so each batch walks the primary
    key from its start. Between batches the pruner rests `rest` times as long as the batch took (at least `pause`
    seconds): SCIM requests, whose log rows need that lock, get the database at least three quarters of the time.
    The cut moves back to the start of its hour, so a pruned hour leaves the log and the rollups whole and
    the rollups still equal the log's counts (a row may stay up to an hour longer than asked).
    """
    now = utcnow()
    before = before.replace(minute=0, second=0, microsecond=0)
    oldest = select(ScimRequest.id).where(ScimRequest.at < before).order_by(ScimRequest.id).limit(batch)
    statement = delete(ScimRequest).where(ScimRequest.id.in_(oldest.scalar_subquery()))
    removed = 0
    while True:
        started = time.monotonic()
        with db.engine.begin() as connection:
            deleted = connection.execute(statement).rowcount
        removed += deleted
        if deleted < batch:
            rollups.prune(before, now)
            return removed
        time.sleep(max(pause, rest * (time.monotonic() - started)))
