"""A transaction run on a pooled driver connection, its statements rendered once: for the request log's row.

Every SCIM request writes one log row (services/audit.py). Through SQLAlchemy's Connection that row paid for a
Connection and its transaction objects, an execution context and a result around a statement that never
changes: more than the row itself cost the database (bench/count_instructions.py counts both ways; the README
has the figures). Here the statements stay SQLAlchemy's, compiled once per dialect with their columns' bind
processors (SQLite keeps DATETIME as text), and run through the dialect's own `do_execute` and `do_commit`.
The engine's pool still checks connections out, pings, recycles and resets them. A driver error comes back as
SQLAlchemy's own (an OperationalError stays one), the connection invalidated if it was lost, so callers tell
a lost connection as they do everywhere else (services/database.py). The hot path's reads render their
statements here too (services/driver_reads.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from types import TracebackType
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.engine.interfaces import DBAPICursor, DBAPIModule
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler


@dataclass(frozen=True)
class _Rendered:
    """A statement compiled for one dialect, and how a dict of values becomes its driver parameters."""

    sql: str
    order: tuple[str, ...] | None  # a positional paramstyle's parameter names, in order (None: by name)
    fixed: dict[str, Any]  # values the statement binds itself (a function's arguments), ready for the driver
    required: frozenset[str]  # values each call must bring
    processors: tuple[tuple[str, Callable[[Any], Any]], ...]

    def parameters(self, values: dict[str, Any]) -> Any:
        if not self.required <= values.keys():
            raise KeyError(f"no value for {sorted(self.required - values.keys())} in {self.sql[:40]!r}")
        named = {**self.fixed, **values}
        for name, process in self.processors:
            named[name] = process(named[name])
        return named if self.order is None else tuple(named[name] for name in self.order)


@lru_cache(maxsize=64)
def render(statement: ClauseElement, dialect: Dialect) -> _Rendered:
    """Compile `statement` for `dialect` once. Every value the statement leaves open must come with each call.

    A statement built once serves many calls, so its SQL must not depend on its values: a list bound to an
    IN (SQLAlchemy renders one placeholder per item, per execution) is refused.
    """
    compiled = statement.compile(dialect=dialect)
    if not isinstance(compiled, SQLCompiler):
        raise TypeError("only SQL statements are rendered for the driver")
    binds = {name: bind for bind, name in compiled.bind_names.items()}  # by the name the SQL gives each
    if any(bind.expanding for bind in binds.values()):
        raise TypeError("a statement with an expanding IN list is rendered per execution, not once")
    processors = {}
    for name, bind in binds.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors[name] = process
    fixed = {name: bind.effective_value for name, bind in binds.items() if not bind.required}
    return _Rendered(
        sql=compiled.string,
        order=tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None,
        fixed={name: processors[name](value) if name in processors else value for name, value in fixed.items()},
        required=frozenset(name for name, bind in binds.items() if bind.required),
        processors=tuple((name, process) for name, process in processors.items() if name not in fixed),
    )


class DriverTransaction:
    """`with DriverTransaction(engine) as t: t.execute(statement, values)`: one transaction, committed on a clean
    exit and rolled back (by the pool, as it takes the connection back) on an error."""

    def __init__(self, engine: Engine) -> None:
        self.dialect = engine.dialect
        self._engine = engine
        self._pooled: PoolProxiedConnection | None = None

    def __enter__(self) -> DriverTransaction:
        self._pooled = self._guarded(self._engine.raw_connection, "-- checkout")
        return self

    def execute(self, statement: ClauseElement, values: dict[str, Any]) -> DBAPICursor:
        """Run a statement with its values; return the driver's cursor, to read what it returned."""
        rendered = render(statement, self.dialect)
        parameters = rendered.parameters(values)
        cursor = self._connection().cursor()
        self._guarded(lambda: self.dialect.do_execute(cursor, rendered.sql, parameters, None), rendered.sql, cursor)
        return cursor

    def begin(self) -> None:
        """Open a transaction block on a connection that autocommits (the request log's on PostgreSQL); a driver
        that opens one itself before a statement (sqlite3, psycopg outside autocommit) needs none."""
        if getattr(self._connection().dbapi_connection, "autocommit", False) is True:
            cursor = self._connection().cursor()
            self._guarded(lambda: self.dialect.do_execute_no_params(cursor, "BEGIN", None), "BEGIN", cursor)

    def returned(self, statement: ClauseElement, values: dict[str, Any]) -> Any:
        """Run a statement that returns one row (INSERT ... RETURNING); return that row's first value."""
        row = self.execute(statement, values).fetchone()
        if row is None:
            raise AssertionError("the statement returned no row")
        return row[0]

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        pooled = self._connection()
        try:
            if kind is None:
                self._guarded(lambda: self.dialect.do_commit(pooled), "COMMIT")
        finally:
            self._pooled = None
            pooled.close()  # back to the pool, which rolls back what did not commit

    def _connection(self) -> PoolProxiedConnection:
        if self._pooled is None:
            raise AssertionError("a driver transaction runs inside its `with` block")
        return self._pooled

    def _guarded(self, run: Callable[[], Any], sql: str, cursor: DBAPICursor | None = None) -> Any:
        """Run a driver call; raise a driver error as SQLAlchemy's, without the parameters (they hold addresses)."""
        try:
            return run()
        except self.dialect.loaded_dbapi.Error as error:
            raise as_sqlalchemy_error(self.dialect, error, sql, self._pooled, cursor) from error


def as_sqlalchemy_error(
    dialect: Dialect,
    error: DBAPIModule.Error,
    sql: str,
    connection: PoolProxiedConnection | Connection | None,
    cursor: DBAPICursor | None = None,
) -> exc.StatementError:
    """Return a driver's error as SQLAlchemy would raise it (an OperationalError stays one), without its values.

    If the error lost `connection` (a pooled one, or the SQLAlchemy Connection a session holds), it is invalidated
    first, as SQLAlchemy's own error handling does, so the pool drops it and callers read the error as "unavailable".
    """
    lost = False
    if connection is not None:
        pooled = connection.connection if isinstance(connection, Connection) else connection
        lost = dialect.is_disconnect(error, pooled.dbapi_connection, cursor)
        if lost:
            connection.invalidate(error)
    return exc.DBAPIError.instance(
        sql, None, error, dialect.loaded_dbapi.Error, hide_parameters=True, connection_invalidated=lost, dialect=dialect
    )
