"""The database going away: telling it from other errors, and settling a COMMIT whose reply was lost."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeAlias, cast

from flask import current_app
from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Result,
    Row,
    Select,
    exc,
    func,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.sqltypes import NullType, String
from sqlalchemy.sql.visitors import InternalTraversal

import logsafe
from models import db
from models.base import READS_ENGINE

# A result row, or a SELECT, of any columns: SQLAlchemy types them by their tuple of column types.
AnyRow: TypeAlias = "Row[*tuple[Any, ...]]"
AnySelect: TypeAlias = "Select[*tuple[Any, ...]]"


def rows_affected(result: Result[Any]) -> int:
    """Return how many rows an UPDATE or DELETE changed (its result is a cursor result at run time)."""
    return cast(CursorResult[Any], result).rowcount


class BareFlag(ColumnElement[Any]):
    """A boolean column as a condition, written bare (`cohorts.scim_managed`) on every database.

    SQLite uses a partial index only when the query's WHERE repeats the index's own terms, and SQLAlchemy writes a
    boolean column there as `scim_managed = 1` (or `IS 1`), which is not `scim_managed` to SQLite's planner.
    """

    type = NullType()  # not Boolean: SQLAlchemy would add its `= 1` for databases without a boolean type
    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: ColumnElement[bool]) -> None:
        self.column = column


@compiles(BareFlag)
def _bare_flag(element: BareFlag, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column, **kw)


class Rfc3339(FunctionElement[str]):
    """A naive-UTC timestamp column as the text SCIM shows (`2024-05-01T09:30:00Z`), formatted by the database.

    Reading the timestamp costs a parse on SQLite (a regex per value) and Python's strftime costs more again;
    a page of 100 members holds 200 of them. Both databases drop the fraction of a second, as `strftime` does.
    """

    type = String()
    inherit_cache = True
    name = "rfc3339"


@compiles(Rfc3339, "sqlite")
def _rfc3339_sqlite(element: Rfc3339, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(func.strftime("%Y-%m-%dT%H:%M:%SZ", *element.clauses), **kw)


@compiles(Rfc3339, "postgresql")
def _rfc3339_postgresql(element: Rfc3339, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(func.to_char(*element.clauses, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), **kw)


log = logsafe.logger(__name__)

# Errors that say "not now" rather than "never": a connection lost or refused, a pool exhausted, a lock not
# granted in time (SQLite's "database is locked" is an OperationalError too). Retrying later can succeed.
_UNAVAILABLE = (exc.OperationalError, exc.InterfaceError, exc.DisconnectionError, exc.TimeoutError)


def unavailable(error: BaseException) -> bool:
    """Tell whether an error means the database cannot serve this request now (anywhere in its chain).

    A PendingRollbackError after a lost connection counts too: it only says an earlier statement failed.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _UNAVAILABLE):
            return True
        if isinstance(current, exc.DBAPIError) and current.connection_invalidated:
            return True
        current = current.__cause__ or current.__context__
    return False


def discard(session: Session | None = None) -> None:
    """Roll back the session's transaction, even when its connection is already dead.

    A ROLLBACK on a connection the server ended raises; SQLAlchemy has then already invalidated
    that connection and closed the session's transaction, and the server ended the transaction with
    the connection, so there is nothing left to undo. The session stays usable, its objects expired.
    """
    session = session or db.session()
    try:
        session.rollback()
    except exc.SQLAlchemyError as error:
        if not unavailable(error):
            raise


# Built once: every SCIM write on PostgreSQL asks it, and a statement built per call is walked for its cache key.
_TRANSACTION_ID = text("SELECT txid_current()")


# Where a session keeps the id of its open transaction once a statement has read it (`Session.info`): with the
# transaction it belongs to, since a session outlives its transactions.
_NOTED_ID = "transaction_id"


def note_transaction_id(session: Session, xid: int) -> None:
    """Remember the id a statement of the session's open transaction read (txid_current()), for transaction_id."""
    session.info[_NOTED_ID] = (session.get_transaction(), int(xid))


def transaction_id(connection: Connection | Session) -> int | None:
    """Return the id of the open transaction on PostgreSQL (None elsewhere), to settle its COMMIT later.

    A session's transaction whose id a statement already read (note_transaction_id) costs no round trip.
    """
    bind = connection.get_bind() if isinstance(connection, Session) else connection
    if bind.dialect.name != "postgresql":
        return None
    if isinstance(connection, Session):
        noted = connection.info.pop(_NOTED_ID, None)
        if noted is not None and noted[0] is not None and noted[0] is connection.get_transaction():
            return int(noted[1])
    return int(connection.execute(_TRANSACTION_ID).scalar_one())


def committed(xid: int) -> bool | None:
    """Ask a fresh connection whether transaction `xid` committed: True, False, or None if no answer came.

    When a connection dies during COMMIT, the transaction may have committed or not. PostgreSQL keeps
    its outcome (txid_status); it may still read "in progress" for a moment while the ended backend
    finishes, so that answer is asked again.
    """

    def outcome(connection: Connection) -> bool | None:
        status = connection.execute(text("SELECT txid_status(:xid)"), {"xid": xid}).scalar_one_or_none()
        if status == "committed":
            return True
        if status in ("aborted", None):  # None: too old to know, which a moment ago cannot be
            return False
        return None  # in progress: ask again

    settled = ask_afresh(outcome)
    if settled is None:
        log.warning("could not learn whether a transaction committed after its connection was lost")
    return settled


def ask_afresh(
    question: Callable[[Connection], bool | None], *, attempts: int = 20, pause: float = 0.05
) -> bool | None:
    """Ask `question` on a fresh connection until it answers True or False; None if it never did.

    For settling a write whose connection died before its reply came: the fresh connection may fail too while
    the server restarts, so it is asked a few times, a moment apart.
    """
    for attempt in range(attempts):
        if attempt:
            time.sleep(pause)
        try:
            with db.engine.connect() as connection:
                answer = question(connection)
        except exc.SQLAlchemyError as error:
            if not unavailable(error):
                raise
            continue
        if answer is not None:
            return answer
    return None


# The request log's commit does not wait for the disk (R11 rows only; every other write still does). A crash of the
# app's process loses nothing. On SQLite, whose WAL frame is in the file when COMMIT returns, only an operating-system
# crash or power loss can drop the rows since the last fully synced commit. On PostgreSQL a crash of the server can
# too: an asynchronous commit's WAL waits up to 3 x wal_writer_delay (0.6 s by default) for the WAL writer. The data
# stays consistent either way. The log writes through an engine of its own (app.py): on SQLite its connections are
# opened with `synchronous=NORMAL`, on PostgreSQL with `synchronous_commit = off`, in autocommit (services/audit.py).
# That PostgreSQL engine is also the one SCIM's reads without a transaction use; app.py keeps it in `app.extensions`
# here:
AUTOCOMMIT_ENGINE = "autocommit_engine"


def read_without_transaction(wanted: bool) -> None:
    """Send this request's statements to connections that autocommit (PostgreSQL), for a request that only reads;
    or, when not `wanted`, to the app's own (a session can outlive a request: the suite's app context does).

    Under READ COMMITTED each statement reads a snapshot of its own inside a transaction or not, so nothing
    changes but the BEGIN and ROLLBACK around the reads: two of a SCIM GET's round trips. Chosen before the
    request's first statement; `write_transaction()` refuses to run on such a session. Elsewhere it does
    nothing (SQLite's driver opens no transaction for reads).
    """
    engine = current_app.extensions.get(AUTOCOMMIT_ENGINE)
    if engine is None:
        return  # never chosen here
    session = db.session()
    if wanted and not session.in_transaction():
        session.info[READS_ENGINE] = engine
    else:
        session.info.pop(READS_ENGINE, None)


def reads_without_transaction(session: Session) -> bool:
    """Tell whether `session` reads on autocommit connections (read_without_transaction)."""
    return session.info.get(READS_ENGINE) is not None


def driver_in_transaction(connection: Connection) -> bool:
    """Tell whether the DBAPI connection under `connection` has begun a transaction of its own."""
    driver: Any = connection.connection.driver_connection
    return bool(driver.in_transaction)
