"""Reads run on the driver (services/driver_reads.py) return the rows SQLAlchemy's Connection would.

Each statement is run both ways on the same connection, over members and a credential whose columns need the
result processors (SQLite keeps DATETIME and JSON as text; the role is an IntEnum).
"""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, bindparam, exc, select

from models import Role, User, db, utcnow
from services import credentials, database, driver_reads, member_reads
from tests.faults import admin_engine, require_postgresql, terminate_one
from tests.helpers import GROUP, USER


@pytest.fixture
def members(scim, super_admin) -> list[str]:  # a tenant takes groups once it has a super-admin
    documents = [
        {
            "schemas": [USER],
            "userName": f"m{i}@example.com",
            "name": {"givenName": "Ada", "familyName": f"M{i}"},
            "emails": [
                {"value": f"m{i}@example.com", "type": "work", "primary": True},
                {"value": f"m{i}@home.example"},
            ],
        }
        for i in range(3)
    ]
    ids = [scim.post("/Users", document).get_json()["id"] for document in documents]
    group = {"schemas": [GROUP], "displayName": "g", "members": [{"value": ids[0]}]}
    assert scim.post("/Groups", group).status_code == 201
    return ids


def _both_ways(statement, values) -> tuple[list[tuple], list[tuple]]:
    connection = db.session.connection()
    theirs = [tuple(row) for row in connection.execute(statement, values)]
    return driver_reads.fetch_all(connection, statement, values), theirs


def test_member_reads_return_what_sqlalchemy_returns(app, tenant, members):
    reads = member_reads._READS[db.engine.dialect.name]
    cases = [
        (reads.by_scim_id, {"tenant_id": tenant.id, "scim_id": members[0]}),
        (reads.by_user_name, {"tenant_id": tenant.id, "user_name_ci": "m1@example.com"}),
        (reads.visible_forward, {"tenant_id": tenant.id, "offset": 0, "limit": 10}),
        (reads.visible_backward, {"tenant_id": tenant.id, "offset": 0, "limit": 2}),
    ]
    for statement, values in cases:
        ours, theirs = _both_ways(statement, values)
        assert ours == theirs and ours
    # What needed a result processor arrives converted: the profile's JSON, the groups' JSON, `primary`.
    member = member_reads.scim_user(tenant.id, members[0])
    assert member.profile == {"name": {"givenName": "Ada", "familyName": "M0"}}
    assert [name for _, name in member.groups] == ["g"]
    assert [(e.value, e.primary) for e in member.emails] == [("m0@example.com", True), ("m0@home.example", None)]
    assert member.active and member.role == Role.MEMBER


def test_the_credential_lookup_returns_what_sqlalchemy_returns(app, tenant, scim_token):
    digest = credentials.token_digest(scim_token)
    values = {"digest": digest, "slug": tenant.slug}
    ours, theirs = _both_ways(credentials._BY_DIGEST_AND_SLUG, values)
    assert ours == theirs and len(ours) == 1
    db.session.execute(
        credentials._CREDENTIALS.update()
        .values(disabled_at=utcnow())
        .where(credentials._CREDENTIALS.c.token_hash == digest)
    )
    ours, theirs = _both_ways(credentials._BY_DIGEST_AND_SLUG, values)
    assert (
        ours == theirs and ours[0][2] is not None and not isinstance(ours[0][2], str)
    )  # a datetime, not SQLite's text
    assert isinstance(ours[0][5], bool)


def test_a_statement_whose_sql_depends_on_its_values_is_refused(app):
    expanding = select(User.id).where(User.id.in_(bindparam("ids", expanding=True)))
    with pytest.raises(TypeError, match="expanding"):
        driver_reads.rows(expanding, {"ids": [1, 2]})


def test_a_driver_error_comes_back_as_sqlalchemys_without_its_values(app):
    nowhere = Table("nowhere", MetaData(), Column("secret", Integer))
    statement = select(nowhere.c.secret).where(nowhere.c.secret == bindparam("value"))
    with pytest.raises(exc.DBAPIError) as raised:
        driver_reads.rows(statement, {"value": 424242})
    assert "424242" not in str(raised.value)
    assert isinstance(raised.value, exc.OperationalError | exc.ProgrammingError)
    db.session.rollback()


def test_a_read_sees_what_the_session_holds_unflushed_as_session_execute_would(app, tenant, members):
    tenant_id = tenant.id  # read first: loading an expired attribute would flush the change below itself
    member = db.session.scalar(select(User).where(User.scim_id == members[1]))
    member.user_name = "renamed@example.com"  # pending: not flushed yet
    found = member_reads.with_user_name(tenant_id, "renamed@example.com")
    assert [m.scim_id for m in found] == [members[1]]
    db.session.rollback()


def test_a_lost_connection_is_invalidated_and_reads_as_unavailable(app, database_url, members):
    """As SQLAlchemy's own error handling does: the session's Connection is marked dead, not handed back to the pool
    to fail again, and the error tells callers the database is unavailable (a 503)."""
    require_postgresql(database_url)
    connection = db.session.connection()
    pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    with admin_engine(database_url) as admin:
        terminate_one(admin, pid)
    with pytest.raises(exc.DBAPIError) as raised:
        driver_reads.fetch_all(connection, credentials._BY_DIGEST_AND_SLUG, {"digest": "x", "slug": "default"})
    assert raised.value.connection_invalidated and database.unavailable(raised.value)
    assert connection.invalidated
    db.session.rollback()
