"""The request log (R11) under lost connections (PostgreSQL): retried, never doubled, and counted when given up."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from models import ScimRequest, db
from services import audit
from tests.conftest import ScimClient
from tests.faults import admin_engine, kill_before, lose_commit, lose_reply, named_app, require_postgresql


def is_log_insert(statement: str) -> bool:
    return statement.startswith("INSERT INTO scim_requests")


def rows() -> list[ScimRequest]:
    db.session.expire_all()
    return list(db.session.scalars(select(ScimRequest)))


@pytest.fixture
def faulty(make_app, app, engine_options, database_url):
    require_postgresql(database_url)
    faulty, _ = named_app(make_app, engine_options)
    return faulty


@pytest.mark.parametrize("losses", [1, audit.ATTEMPTS - 1])
def test_an_insert_that_meets_a_lost_connection_is_retried_on_a_fresh_one(faulty, scim_token, database_url, losses):
    lost = audit.lost_rows()
    with admin_engine(database_url) as admin, kill_before(faulty, admin, is_log_insert, times=losses) as hit:
        response = ScimClient(faulty.test_client(), scim_token).get("/Users")
    assert len(hit) == losses
    assert response.status_code == 200
    assert [(r.status, r.operation) for r in rows()] == [(200, "users.searched")]
    assert audit.lost_rows() == lost


def test_a_row_given_up_is_counted_and_logged_with_the_count_and_status_only(faulty, scim_token, database_url, caplog):
    lost = audit.lost_rows()
    client = ScimClient(faulty.test_client(), scim_token)
    agent = {"User-Agent": "Okta SCIM Client 1.0 (ada@example.com)"}
    with (
        caplog.at_level(logging.INFO),
        admin_engine(database_url) as admin,
        kill_before(faulty, admin, is_log_insert, times=audit.ATTEMPTS),
    ):
        response = client.get("/Users?filter=userName%20eq%20%22ada%40example.com%22", headers=agent)
    assert response.status_code == 200
    assert rows() == []
    assert audit.lost_rows() == lost + 1
    (line,) = [r.getMessage() for r in caplog.records if r.name == "services.audit"]
    assert line == (
        f"SCIM request log: gave up on the row of a request answered 200 after {audit.ATTEMPTS} attempt(s) "
        f"(OperationalError); {lost + 1} row(s) lost by this process since it started"
    )
    assert "ada@example.com" not in caplog.text and "/scim/v2/Users" not in caplog.text


@pytest.mark.parametrize("reply_only", [True, False])
def test_a_log_row_whose_answer_is_lost_is_written_exactly_once(faulty, scim_token, database_url, reply_only):
    """A row of its own is one statement that commits as it runs (the log's connections autocommit): when the
    connection dies around it, the row's content tells whether it is in."""
    client = ScimClient(faulty.test_client(), scim_token)
    assert client.get("/Users").status_code == 200  # its first-seen operation noted: the next row stands alone
    lost = audit.lost_rows()
    with admin_engine(database_url) as admin, lose_reply(faulty, admin, is_log_insert, reply_only=reply_only) as hit:
        response = client.get("/Users")
    assert hit
    assert response.status_code == 200
    assert [r.status for r in rows()] == [200, 200]
    assert audit.lost_rows() == lost


@pytest.mark.parametrize("reply_only", [True, False])
def test_a_log_commit_interrupted_leaves_exactly_one_row(faulty, scim_token, database_url, reply_only):
    """A row with a first-seen operation (a credential's first search) commits in a transaction, whose id settles
    a COMMIT whose answer was lost."""
    lost = audit.lost_rows()
    with admin_engine(database_url) as admin, lose_commit(faulty, admin, reply_only=reply_only, log=True) as hit:
        response = ScimClient(faulty.test_client(), scim_token).get("/Users")
    assert hit
    assert response.status_code == 200
    assert [r.status for r in rows()] == [200]
    assert audit.lost_rows() == lost
