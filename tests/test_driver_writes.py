"""The request log's row written on the driver (services/driver_writes.py) is the row SQLAlchemy would write.

Its SQL is SQLAlchemy's, rendered once; its values pass the columns' own bind processors; its errors come back
as SQLAlchemy's, without the values (client addresses and agents) in their message.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import bindparam, exc, func, insert, select, text

from models import ScimRequest, db
from services import audit, credentials, database, driver_writes
from services.driver_writes import DriverTransaction
from tests.faults import admin_engine, require_postgresql, terminate_one

AT = datetime(2025, 3, 14, 19, 41, 23, 78282)


def _row(**values) -> dict:
    row = {"tenant_id": None, "credential_id": None, "at": AT, "method": "GET", "path": "/scim/v2/Users",
           "status": 200, "duration_ms": 1.25, "ip": "192.0.2.9", "user_agent": "Okta SCIM Client",
           "operation": "users.read", "failure": None, "reason": None, "skipped_members": None, "count": 1,
           "bucket": None}  # fmt: skip
    return {**row, **values}


def _stored() -> list[tuple]:
    """The log's rows as the database keeps them, read without SQLAlchemy's types (SQLite's DATETIME is text)."""
    with db.engine.connect() as connection:
        return [tuple(r) for r in connection.exec_driver_sql("SELECT at, duration_ms, path FROM scim_requests")]


def test_a_row_written_on_the_driver_is_stored_as_sqlalchemy_stores_it(app):
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(insert(ScimRequest), _row(path="/core"))
        with DriverTransaction(db.engine) as transaction:
            transaction.execute(audit._INSERT, _row(path="/driver"))
        core, driver = sorted(_stored(), key=lambda r: r[2])
        assert core[:2] == driver[:2]
        if db.engine.dialect.name == "sqlite":
            assert driver[0] == "2025-03-14 19:41:23.078282"  # the text readers compare with their parameters
        assert db.session.scalar(select(ScimRequest.at).where(ScimRequest.path == "/driver")) == AT


def test_a_statement_is_rendered_once_per_dialect(app):
    with app.app_context():
        before = driver_writes.render.cache_info()
        for _ in range(3):
            with DriverTransaction(db.engine) as transaction:
                transaction.execute(audit._INSERT, _row())
        after = driver_writes.render.cache_info()
        assert after.misses - before.misses <= 1
        assert after.hits - before.hits >= 2


def test_an_error_in_the_block_commits_nothing(app):
    with app.app_context():
        with pytest.raises(RuntimeError), DriverTransaction(db.engine) as transaction:
            transaction.execute(audit._INSERT, _row())
            raise RuntimeError("the caller failed after the insert")
        assert _stored() == []
        with DriverTransaction(db.engine) as transaction:  # and the connection went back usable
            transaction.execute(audit._INSERT, _row())
        assert len(_stored()) == 1


def test_a_driver_error_is_sqlalchemys_own_without_the_values(app):
    with app.app_context():
        with pytest.raises(exc.IntegrityError) as raised, DriverTransaction(db.engine) as transaction:
            transaction.execute(audit._INSERT, _row(method=None, user_agent="ada@example.com"))  # NOT NULL
        assert not raised.value.connection_invalidated
        # SQLAlchemy adds no values to the message (PostgreSQL's own DETAIL may quote the row: audit.py logs
        # only the error's type).
        assert raised.value.params is None and "parameters" not in str(raised.value).lower()
        assert _stored() == []


def test_an_operational_error_reads_as_the_database_being_unavailable(app):
    """What services/audit.py retries on: the same test as for SQLAlchemy's own Connection."""
    missing = text("INSERT INTO no_such_table (value) VALUES (:value)").bindparams(bindparam("value"))
    with app.app_context():
        with pytest.raises(exc.DBAPIError) as raised, DriverTransaction(db.engine) as transaction:
            transaction.execute(missing, {"value": 1})
        # SQLite says "no such table" with an OperationalError, PostgreSQL with a ProgrammingError.
        expected = db.engine.dialect.name == "sqlite"
        assert database.unavailable(raised.value) is expected


def test_a_lost_connection_is_invalidated_so_the_pool_drops_it(app, database_url):
    require_postgresql(database_url)
    backend = select(func.pg_backend_pid())
    with app.app_context(), pytest.raises(exc.DBAPIError), DriverTransaction(db.engine) as transaction:
        pid = transaction.execute(backend, {}).fetchone()[0]
        pooled = transaction._connection()
        with admin_engine(database_url) as admin:
            terminate_one(admin, pid)
        with pytest.raises(exc.DBAPIError) as raised:
            transaction.execute(backend, {})
        assert raised.value.connection_invalidated and database.unavailable(raised.value)
        assert not pooled.is_valid  # at once, not only when the pool fails to reset it
        raise raised.value


def test_a_value_left_open_is_refused_before_the_driver_sees_it(app):
    with app.app_context(), pytest.raises(KeyError), DriverTransaction(db.engine) as transaction:
        transaction.execute(audit._INSERT, {"status": 200})


@pytest.mark.parametrize("owner", ["credential", "tenant", "neither"])
def test_a_row_is_found_by_its_content_when_its_answer_was_lost(tenant, owner):
    """What settles a row sent alone (PostgreSQL's autocommit) whose connection died before the answer came."""
    issued = credentials.issue(tenant, "IdP")[0] if owner == "credential" else None
    row = _row(
        tenant_id=tenant.id if owner != "neither" else None,
        credential_id=issued.id if issued else None,
        at=datetime(2025, 3, 14, 19, 41, 23, 78282),
    )
    assert audit._is_logged(row) is False
    with DriverTransaction(db.engine) as transaction:
        transaction.execute(audit._INSERT, row)
    assert audit._is_logged(row) is True
    # A microsecond later, another path or another status is another request.
    assert audit._is_logged({**row, "at": row["at"].replace(microsecond=78283)}) is False
    assert audit._is_logged({**row, "path": "/scim/v2/Groups"}) is False
    assert audit._is_logged({**row, "status": 404}) is False
