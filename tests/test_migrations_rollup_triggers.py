"""Revision a8c2e6f4b1d9 hands the request log's rollups to triggers on `scim_requests`, leaving those kept so far."""

from __future__ import annotations

from datetime import datetime

import flask_migrate
import pytest
from sqlalchemy import Connection, insert, text

from models import ScimRequest, ScimRequestRollup, db
from models.request_log import POSTGRESQL_ROLLUP_TRIGGERS, SQLITE_ROLLUP_TRIGGERS
from services import audit
from tests.test_migrations import _keep_logging, migrated_app, postgres_app, schema_differences  # noqa: F401
from tests.test_migrations_paging import insert_accounts

BEFORE = "f3b9d1e7a2c4"
AT = datetime(2025, 3, 14, 19, 41, 23, 78282)
LATER = datetime(2025, 3, 14, 20, 5, 1, 5)


def _log_row(status: int, at: datetime, **values) -> dict:
    """A log row with every column the app's upsert names (services/audit.py renders it once, all values bound)."""
    return {"tenant_id": 1, "credential_id": 1, "at": at, "method": "GET", "path": "/scim/v2/Users",
            "status": status, "duration_ms": 1.0, "ip": None, "user_agent": None, "operation": None,
            "failure": None, "reason": None, "skipped_members": None, "count": 1, "bucket": None,
            **values}  # fmt: skip


def tenant_with_credential(connection: Connection) -> None:
    """Tenant 1 and its credential 1, which the log rows name."""
    insert_accounts(connection, accounts={})
    connection.execute(
        text(
            "INSERT INTO scim_credentials (id, tenant_id, name, token_hash, token_hint, created_at)"
            " VALUES (1, 1, 'IdP', :hash, 'hint', :at)"
        ),
        {"hash": "0" * 64, "at": AT},
    )


def _logged_before(connection: Connection) -> None:
    """A tenant, its credential, and two log rows with the rollups the app wrote for them before this revision."""
    tenant_with_credential(connection)
    connection.execute(insert(ScimRequest), [_log_row(200, AT), _log_row(404, AT, count=3)])
    minute, hour = AT.replace(second=0, microsecond=0), AT.replace(minute=0, second=0, microsecond=0)
    connection.execute(
        insert(ScimRequestRollup),
        [
            {
                "credential_id": 1,
                "tenant_id": 1,
                "span_minutes": span,
                "start": start,
                "status_class": klass,
                "count": n,
            }
            for span, start in ((1, minute), (60, hour))
            for klass, n in ((2, 1), (4, 3))
        ],
    )


def _hour_counts(connection: Connection) -> dict[tuple[str, int], int]:
    rows = connection.execute(
        text("SELECT start, status_class, count FROM scim_request_rollups WHERE span_minutes = 60")
    ).all()
    return {(str(start)[:13], klass): count for start, klass, count in rows}


def _flat(sql: str) -> str:
    return " ".join(sql.split())


def _installed_triggers(connection: Connection) -> list[str]:
    """The rollup triggers the database holds: on SQLite their text as created; on PostgreSQL the function's
    source as created and each trigger's definition as the server writes it out."""
    if connection.dialect.name == "sqlite":
        query = "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'scim_requests' ORDER BY name"
        return [_flat(sql) for sql in connection.execute(text(query)).scalars()]
    function = connection.execute(text("SELECT prosrc FROM pg_proc WHERE proname = 'scim_request_rollup_add'"))
    triggers = connection.execute(
        text(
            "SELECT pg_get_triggerdef(oid) FROM pg_trigger"
            " WHERE tgrelid = 'scim_requests'::regclass AND tgname NOT LIKE 'RI_%' ORDER BY tgname"
        )
    )
    return [_flat(source) for source in function.scalars()] + [_flat(sql) for sql in triggers.scalars()]


def _model_triggers() -> list[str]:
    """What the models install (models/request_log.py), read back as _installed_triggers reads it."""
    if db.engine.dialect.name == "sqlite":
        return sorted(_flat(sql) for sql in SQLITE_ROLLUP_TRIGGERS)
    # The server writes a trigger's definition out in its own words: put the models' text in place of what is
    # there, read it back, and undo (PostgreSQL's DDL is transactional).
    with db.engine.connect() as connection:
        transaction = connection.begin()
        connection.execute(text("DROP TRIGGER IF EXISTS scim_request_rollup ON scim_requests"))
        for statement in POSTGRESQL_ROLLUP_TRIGGERS:
            connection.exec_driver_sql(statement)
        found = _installed_triggers(connection)
        transaction.rollback()
    return found


def check_rollup_trigger_migration() -> None:
    flask_migrate.upgrade(revision=BEFORE)
    with db.engine.begin() as connection:
        _logged_before(connection)
        assert _installed_triggers(connection) == []
    flask_migrate.upgrade()
    assert schema_differences() == []
    with db.engine.begin() as connection:
        # The rollups kept so far are neither counted again nor lost.
        assert _hour_counts(connection) == {("2025-03-14 19", 2): 1, ("2025-03-14 19", 4): 3}
        installed = _installed_triggers(connection)
    # Word for word what the models install: the suite's schema (create_all) runs the triggers production runs.
    assert len(installed) == 2 and installed == _model_triggers()
    with db.engine.begin() as connection:  # and they count from here on: a row of its own, then a counted one
        connection.execute(insert(ScimRequest), _log_row(201, AT))
        counted = _log_row(429, LATER, bucket="k", failure="too_many_failures")
        for _ in range(3):
            connection.execute(audit._upsert(connection.dialect.name), counted)
    with db.engine.begin() as connection:
        assert _hour_counts(connection) == {("2025-03-14 19", 2): 2, ("2025-03-14 19", 4): 3, ("2025-03-14 20", 4): 3}
    flask_migrate.downgrade(revision=BEFORE)
    with db.engine.begin() as connection:
        assert _installed_triggers(connection) == []
        connection.execute(insert(ScimRequest), _log_row(200, AT))  # the previous code writes its rollups itself
        assert _hour_counts(connection)[("2025-03-14 19", 2)] == 2


def test_the_rollup_trigger_migration_on_sqlite(migrated_app, tmp_path):  # noqa: F811
    app = migrated_app(f"sqlite:///{tmp_path / 'rollups.db'}")
    with app.app_context():
        check_rollup_trigger_migration()
        flask_migrate.upgrade()
        assert schema_differences() == []


def test_the_rollup_trigger_migration_on_postgresql(migrated_app):  # noqa: F811
    with postgres_app(migrated_app, "scim_rollups") as app, app.app_context():
        check_rollup_trigger_migration()


pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")
