"""The database going away: SCIM 503s with Retry-After, safe rollbacks and teardowns, nothing past the app."""

from __future__ import annotations

import logging
from urllib.parse import quote, unquote

import pytest
from flask import request
from sqlalchemy import select, text

from models import ScimRequest, db
from services import audit
from tests.conftest import ScimClient, scim_error
from tests.faults import admin_engine, kill_at_rollback, kill_before, named_app, require_postgresql, terminate_all

SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
FILTER = "/Users?filter=" + quote('userName eq "ada@example.com"')


def log_rows() -> list[ScimRequest]:
    db.session.expire_all()
    return list(db.session.scalars(select(ScimRequest).order_by(ScimRequest.id)))


def test_an_unreachable_database_answers_scim_503_with_retry_after(make_app, tmp_path, caplog):
    # A SQLite file in a folder that does not exist: every connection attempt fails, as with a server down.
    down = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/missing/mobieus.db", SQLALCHEMY_ENGINE_OPTIONS={})
    client = ScimClient(down.test_client(), "ms_scim_whatever")
    lost = audit.lost_rows()
    with caplog.at_level(logging.INFO):
        for response in (client.get(FILTER), client.post("/Users", {"userName": "ada@example.com"})):
            body = scim_error(response, 503)
            assert body["detail"] == "the database is unavailable; retry after Retry-After seconds"
            assert response.headers["Retry-After"] == "5"
    # Neither request could be logged: each is counted, and said so with the count and status only.
    assert audit.lost_rows() == lost + 2
    given_up = [r.getMessage() for r in caplog.records if "gave up" in r.getMessage()]
    assert len(given_up) == 2 and all("answered 503" in m for m in given_up)
    assert f"{lost + 2} row(s) lost" in given_up[-1]
    assert "ada@example.com" not in caplog.text and "ms_scim_whatever" not in caplog.text


def test_an_unreachable_database_answers_the_dashboard_with_a_plain_503(make_app, tmp_path):
    down = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/missing/mobieus.db", SQLALCHEMY_ENGINE_OPTIONS={})
    response = down.test_client().get("/admin/login")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "briefly unavailable" in response.get_data(as_text=True)


def test_a_connection_lost_mid_request_is_a_scim_503(make_app, app, engine_options, database_url, scim_token):
    require_postgresql(database_url)
    faulty, _ = named_app(make_app, engine_options)
    client = ScimClient(faulty.test_client(), scim_token)
    with admin_engine(database_url) as admin, kill_before(faulty, admin, lambda s: "FROM users" in s) as hit:
        response = client.get(FILTER)
    assert hit
    scim_error(response, 503)
    assert response.headers["Retry-After"] == "5"
    (row,) = log_rows()
    assert (row.status, row.failure) == (503, "database_unavailable")
    assert row.credential_id is not None  # known from before the connection was lost, without a query


def test_a_connection_lost_before_the_end_of_the_request_does_not_fail_it(
    make_app, app, engine_options, database_url, scim_token
):
    # The session's last act, ROLLBACK at teardown, meets a dead connection: the answer stands. (A GET reads
    # without a transaction on PostgreSQL; a search sent as a POST reads in one.)
    require_postgresql(database_url)
    faulty, _ = named_app(make_app, engine_options)
    client = ScimClient(faulty.test_client(), scim_token)
    search = {"schemas": [SEARCH_REQUEST], "filter": 'userName eq "ada@example.com"'}
    with admin_engine(database_url) as admin, kill_at_rollback(faulty, admin) as hit:
        response = client.post("/Users/.search", search)
    assert hit
    assert response.status_code == 200
    assert response.get_json(force=True)["totalResults"] == 0
    assert [r.status for r in log_rows()] == [200]
    # The next request gets a fresh connection.
    assert client.get("/Users").status_code == 200


def test_the_error_handler_rolls_back_a_dead_connection_quietly(
    make_app, app, engine_options, database_url, scim_token, caplog
):
    # A bug meets a connection the server ended: the answer is the usual SCIM 500, not a second failure.
    require_postgresql(database_url)
    faulty, _ = named_app(make_app, engine_options, TESTING=False)

    def broken():
        pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with admin_engine(database_url) as admin, admin.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
        raise RuntimeError("a bug")

    faulty.add_url_rule("/scim/v2/Broken", "broken", broken)
    response = ScimClient(faulty.test_client(), scim_token).get("/Broken")
    scim_error(response, 500)
    assert "unhandled RuntimeError on GET /scim/v2/Broken" in caplog.text
    assert [r.status for r in log_rows()] == [500]


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/scim/v2" + FILTER, "application/scim+json"), ("/admin/login?next=/x", "text/html; charset=utf-8")],
)
def test_an_exception_that_escapes_the_app_is_answered_and_logged_without_the_query(
    make_app, app, scim_token, caplog, path, content_type
):
    guarded = make_app()

    @guarded.teardown_appcontext
    def failing(_error) -> None:
        raise RuntimeError(unquote(request.query_string.decode()))  # a message that quotes the query

    response = guarded.test_client().get(path, headers={"Authorization": f"Bearer {scim_token}"})
    assert response.status_code == 500
    assert response.headers["Content-Type"] == content_type
    if content_type.startswith("application/scim+json"):
        assert response.get_json(force=True)["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert "RuntimeError escaped the app" in caplog.text
    assert "ada@example.com" not in caplog.text and "next=" not in caplog.text


def test_pooled_connections_the_server_ended_cost_at_most_one_503_then_reconnect(
    make_app, app, engine_options, database_url, scim_token
):
    """No ping per checkout: a server restart is met by the first statement, answered 503, and the pool renews."""
    require_postgresql(database_url)
    faulty, name = named_app(make_app, engine_options)
    assert "pool_pre_ping" not in faulty.config["SQLALCHEMY_ENGINE_OPTIONS"]
    client = ScimClient(faulty.test_client(), scim_token)
    assert client.get("/Users").status_code == 200  # the pool now holds idle connections
    with admin_engine(database_url) as admin:
        assert terminate_all(admin, name) >= 1
    first = client.get("/Users")
    if first.status_code != 200:
        scim_error(first, 503)
        assert first.headers["Retry-After"] == "5"
    # Every connection older than the failure is discarded, not tried again: the next requests succeed.
    assert [client.get("/Users").status_code for _ in range(3)] == [200, 200, 200]
    statuses = [r.status for r in log_rows()]
    assert statuses[0] == 200 and statuses[-3:] == [200, 200, 200]  # every request logged, the 503 included
