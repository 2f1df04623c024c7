"""SCIM GETs on PostgreSQL read on autocommit connections: no BEGIN and ROLLBACK around their statements.

Every other request keeps its transaction, and a request reading that way cannot open a write transaction.
"""

from __future__ import annotations

import pytest

from models import db
from services import audit, database
from services.transactions import write_transaction
from tests.conftest import ScimClient
from tests.helpers import PATCH_OP, USER, driver_statements


@pytest.fixture
def postgresql(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("PostgreSQL only: SQLite's driver opens no transaction for reads")


def _autocommit_by_statement(app, send) -> list[tuple[str, bool]]:
    """Send a request; return each statement it ran with whether its connection autocommitted."""
    seen: list[tuple[str, bool]] = []
    with app.app_context():
        engines = [db.engine, audit._engine()]
    db.session.remove()  # each request of a server starts with a session of its own; the suite's outlives them
    with driver_statements(engines, lambda cursor, statement: seen.append((statement, cursor.connection.autocommit))):
        assert send().status_code < 300
    return seen


def test_a_get_reads_on_autocommit_connections(postgresql, app, scim):
    user = scim.post("/Users", {"schemas": [USER], "userName": "ada@example.com"}).get_json()
    for path in (f"/Users/{user['id']}", '/Users?filter=userName eq "ada@example.com"', "/Users", "/Groups"):
        seen = _autocommit_by_statement(app, lambda path=path: scim.get(path))
        assert seen and all(autocommit for _, autocommit in seen), seen


def test_a_write_keeps_its_transaction(postgresql, app, scim):
    user = scim.post("/Users", {"schemas": [USER], "userName": "ada@example.com"}).get_json()
    patch = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}
    seen = _autocommit_by_statement(app, lambda: scim.patch(f"/Users/{user['id']}", patch))
    # The request's own statements, not the log row's (which its own autocommit pool writes, after them).
    writes = [(statement, autocommit) for statement, autocommit in seen if "INSERT INTO scim_" not in statement]
    writes = [entry for entry in writes if entry[0] != "BEGIN"]
    assert writes and not any(autocommit for _, autocommit in writes), writes


def test_a_session_reading_without_a_transaction_cannot_write(postgresql, app):
    with app.test_request_context("/scim/v2/Users"):
        database.read_without_transaction(True)
        with pytest.raises(AssertionError, match="does not write"), write_transaction():
            pass
        database.read_without_transaction(False)
        with write_transaction():  # the app's own connections again
            pass


def test_after_a_get_the_session_writes_on_the_apps_connections_again(postgresql, app, scim_token, client):
    """The suite's app context outlives a request, and so does its session: the GET's choice must not."""
    ScimClient(client, scim_token).get("/Users")
    assert not database.reads_without_transaction(db.session())
