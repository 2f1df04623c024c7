"""Real connection loss on PostgreSQL for the fault tests: backends ended with pg_terminate_backend.

The app under test connects with an application_name of its own, so only its backends are ended,
never those of another test run sharing the server.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine

import config
from models import db
from services import audit
from tests.helpers import driver_statements

TERMINATE = text(
    "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
    " WHERE application_name = :name AND pid <> pg_backend_pid()"
)


def require_postgresql(database_url: str) -> None:
    """Skip the test unless the suite runs on PostgreSQL."""
    if not database_url.startswith("postgres"):
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): connections are ended with pg_terminate_backend")


def named_app(make_app, engine_options: dict, **overrides):
    """Build an app whose connections carry an application_name of their own; return (app, name)."""
    name = f"mobieus-faults-{uuid.uuid4().hex[:10]}"
    connect_args = {**engine_options.get("connect_args", {}), "application_name": name}
    return make_app(SQLALCHEMY_ENGINE_OPTIONS={**engine_options, "connect_args": connect_args}, **overrides), name


@contextmanager
def admin_engine(database_url: str) -> Iterator[Engine]:
    """A separate autocommit engine, as an operator's session would be."""
    engine = create_engine(config.with_driver(database_url), isolation_level="AUTOCOMMIT")
    try:
        yield engine
    finally:
        engine.dispose()


def terminate_all(admin: Engine, name: str) -> int:
    """End every backend of the app named `name` and wait until they are gone; return how many."""
    with admin.connect() as connection:
        return int(connection.execute(TERMINATE, {"name": name}).scalar_one())


def terminate_one(admin: Engine, pid: int) -> None:
    """End one backend and wait (up to 5 s) until it has exited."""
    with admin.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})


@contextmanager
def kill_before(
    app, admin: Engine, wanted: Callable[[str], bool], times: int = 1, *, log: bool = True
) -> Iterator[list[str]]:
    """End the app's connection just before it runs a statement `wanted` accepts, `times` times (on the request
    log's own engine too, unless `log` is False).

    The statement then meets a dead connection, exactly as when the server goes away mid-request.
    Yields the statements that were hit.
    """
    hit: list[str] = []

    def before(cursor, statement: str) -> None:
        if len(hit) < times and wanted(statement):
            hit.append(statement)
            terminate_one(admin, cursor.connection.info.backend_pid)

    with app.app_context():
        engines = [db.engine, audit._engine()] if log else [db.engine]
    with driver_statements(engines, before):
        yield hit


@contextmanager
def kill_at_rollback(app, admin: Engine) -> Iterator[list[int]]:
    """End the app's connection just before its next ROLLBACK (as at the end of a request); yields the pids hit."""
    hit: list[int] = []

    def before(connection) -> None:
        if not hit:
            hit.append(connection.connection.dbapi_connection.info.backend_pid)
            terminate_one(admin, hit[0])

    with app.app_context():
        engine = db.engine
    event.listen(engine, "rollback", before)
    try:
        yield hit
    finally:
        event.remove(engine, "rollback", before)


@contextmanager
def lose_commit(app, admin: Engine, *, reply_only: bool, log: bool = False) -> Iterator[list[int]]:
    """End the app's connection at its next COMMIT (the request log's, with `log`): before the server runs it, or
    (reply_only) just after.

    With reply_only the transaction really commits and then its connection dies, so the client
    sees the error a lost reply gives: the case where only the server knows what happened.
    """
    with app.app_context():
        dialect = (audit._engine() if log else db.engine).dialect
    original = dialect.do_commit
    hit: list[int] = []

    def do_commit(pooled) -> None:
        if hit:
            return original(pooled)
        psycopg_connection = pooled.dbapi_connection  # SQLAlchemy passes the pool's proxy
        hit.append(psycopg_connection.info.backend_pid)
        if reply_only:
            original(pooled)
        terminate_one(admin, hit[0])
        if reply_only:
            psycopg_connection.execute("SELECT 1")  # the dead connection's own error, where the reply was due
        return original(pooled)

    dialect.do_commit = do_commit
    try:
        yield hit
    finally:
        del dialect.do_commit


@contextmanager
def lose_reply(app, admin: Engine, wanted: Callable[[str], bool], *, reply_only: bool) -> Iterator[list[int]]:
    """End the app's connection at its next statement `wanted` accepts: before the server runs it, or (reply_only)
    just after, so that a statement that commits as it runs (autocommit) has committed and its answer is lost."""
    hit: list[int] = []
    lost: list[bool] = []

    def before(cursor, statement: str) -> None:
        if not hit and wanted(statement):
            hit.append(cursor.connection.info.backend_pid)
            if not reply_only:
                terminate_one(admin, hit[0])

    def after(cursor, _statement: str) -> None:
        if reply_only and hit and not lost:  # right after the statement `before` picked
            lost.append(True)
            terminate_one(admin, hit[0])
            cursor.connection.execute("SELECT 1")  # the dead connection's own error, where the answer was due

    with app.app_context():
        engines = [db.engine, audit._engine()]
    with driver_statements(engines, before, after=after):
        yield hit


@contextmanager
def kill_after_commit(app, admin: Engine) -> Iterator[list[str]]:
    """End the app's connection before any statement that follows a COMMIT. The request log's own transaction runs
    after the request's COMMIT by design, on an engine of its own (app.py), which is left alone."""
    committed: list[bool] = []

    def after(_connection) -> None:
        committed.append(True)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "commit", after)
    try:
        with kill_before(app, admin, lambda _statement: bool(committed), log=False) as hit:
            yield hit
    finally:
        event.remove(engine, "commit", after)
