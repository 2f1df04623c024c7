"""Write transactions take SQLite's write lock up front and row locks on PostgreSQL; plain reads take neither."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError

from models import Role, ScimRequest, Tenant, User, db
from services.transactions import lock_row, write_transaction
from tests.admin import sign_in


def sqlite_only() -> None:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's database-wide write lock")


def postgresql_only() -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): row locks")


def other_writer_can_start() -> bool:
    """Tell whether another connection could begin writing right now (without waiting for a lock)."""
    other = sqlite3.connect(db.engine.url.database, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as error:
        assert "locked" in str(error)
        return False
    finally:
        other.close()


def test_sqlite_write_lock_is_taken_before_the_first_read(tenant):
    sqlite_only()
    with write_transaction():
        assert not other_writer_can_start()  # nothing read or written yet: the lock is already ours
        db.session.scalar(select(Tenant.id))
        assert not other_writer_can_start()
    assert other_writer_can_start()  # and released at commit


def test_sqlite_reads_outside_a_write_transaction_take_no_lock(tenant):
    sqlite_only()
    db.session.scalar(select(Tenant.id))
    assert other_writer_can_start()


def test_a_dashboard_page_loads_while_another_writer_holds_the_lock(app, client, super_admin):
    """GETs never wait for the write lock: a long write elsewhere does not stall the dashboard."""
    sqlite_only()
    sign_in(client, super_admin)
    db.session.commit()
    holder = sqlite3.connect(db.engine.url.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        assert client.get("/admin/users").status_code == 200
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_an_error_rolls_back_and_an_inner_block_joins_the_outer_one(tenant):
    tenant_id = tenant.id
    with pytest.raises(LookupError), write_transaction():
        with write_transaction():  # joins: commits nothing of its own
            db.session.add(User(tenant_id=tenant_id, role=Role.MEMBER, email="inner@example.com"))
        db.session.flush()
        raise LookupError("the outer block fails after the inner one finished")
    assert db.session.scalar(select(User.id).where(User.email == "inner@example.com")) is None


def test_row_locks_need_a_write_transaction(tenant):
    with pytest.raises(RuntimeError, match="write_transaction"):
        lock_row(Tenant, tenant.id)


def test_a_failed_write_is_still_recorded_in_the_request_log(scim, super_admin):
    """The request log writes on its own connection after the request: the write transaction is over by then."""
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "A", "externalId": "x"}
    assert scim.post("/Groups", body).status_code == 201
    assert scim.post("/Groups", {**body, "displayName": "B"}).status_code == 409
    db.session.expire_all()
    assert sorted(db.session.scalars(select(ScimRequest.status).where(ScimRequest.method == "POST"))) == [201, 409]


@pytest.fixture
def impatient(app, engine_options):
    """A second PostgreSQL connection that gives up on any lock after 200 ms instead of waiting."""
    postgresql_only()
    engine = create_engine(db.engine.url, **engine_options)
    with engine.connect() as connection:
        connection.execute(text("SET lock_timeout = '200ms'"))
        connection.commit()  # a rolled-back SET would be undone with the first refused lock
        yield connection
    engine.dispose()


def try_lock(connection, tenant_id: int, mode: str) -> bool:
    try:
        connection.execute(text(f"SELECT id FROM tenants WHERE id = :id FOR {mode}"), {"id": tenant_id})  # noqa: S608
        return True
    except OperationalError:
        return False
    finally:
        connection.rollback()


def test_postgresql_exclusive_row_lock_holds_writers_but_not_inserts_that_reference_the_row(tenant, impatient):
    tenant_id = tenant.id
    with write_transaction():
        lock_row(Tenant, tenant_id)
        assert not try_lock(impatient, tenant_id, "NO KEY UPDATE")
        assert not try_lock(impatient, tenant_id, "SHARE")
        assert try_lock(impatient, tenant_id, "KEY SHARE")  # what a foreign-key check takes: inserts go on
    assert try_lock(impatient, tenant_id, "NO KEY UPDATE")


def test_postgresql_shared_row_lock_holds_only_exclusive_lockers(tenant, impatient):
    tenant_id = tenant.id
    with write_transaction():
        lock_row(Tenant, tenant_id, shared=True)
        assert try_lock(impatient, tenant_id, "SHARE")  # another group creation
        assert not try_lock(impatient, tenant_id, "NO KEY UPDATE")  # a role change waits
