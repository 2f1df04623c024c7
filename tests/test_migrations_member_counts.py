"""Revision f3b9d1e7a2c4 keeps each tenant's count of SCIM-visible members, filled from the accounts already there."""

from __future__ import annotations

import flask_migrate
import pytest
from sqlalchemy import Connection, inspect, text

from models import db
from models.member_counts import POSTGRESQL_TRIGGERS, SQLITE_TRIGGERS
from tests.test_migrations import _keep_logging, migrated_app, postgres_app, schema_differences  # noqa: F401
from tests.test_migrations_paging import insert_accounts

BEFORE = "e5a2c8f1d3b6"
# A second tenant: a member, an inactive member and a deprovisioned one (2 visible).
OTHER = {11: (True, 2, False), 12: (True, 1, False), 13: (True, 2, True)}


def _counts(connection: Connection) -> dict[int, int]:
    rows = connection.execute(text("SELECT tenant_id, visible FROM scim_member_counts ORDER BY tenant_id"))
    return {tenant_id: visible for tenant_id, visible in rows}


def _flat(sql: str) -> str:
    return " ".join(sql.split())


def _installed_triggers(connection: Connection) -> list[str]:
    """The trigger definitions the database holds, in the words they were created with."""
    if connection.dialect.name == "sqlite":
        query = "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'users' ORDER BY name"
        return [_flat(sql) for sql in connection.execute(text(query)).scalars()]
    function = connection.execute(text("SELECT prosrc FROM pg_proc WHERE proname = 'scim_member_count_change'"))
    triggers = connection.execute(
        text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'users'::regclass AND tgname NOT LIKE 'RI_%'")
    )
    return [_flat(source) for source in function.scalars()] + sorted(triggers.scalars())


def _model_triggers(dialect: str) -> list[str]:
    """What the models install (models/member_counts.py), in the shape _installed_triggers reads it back."""
    if dialect == "sqlite":
        return sorted(_flat(sql) for sql in SQLITE_TRIGGERS)
    body = POSTGRESQL_TRIGGERS[0].split("$$")[1]
    return [_flat(body), "scim_member_count"]


def check_member_count_migration() -> None:
    flask_migrate.upgrade(revision=BEFORE)
    with db.engine.begin() as connection:
        insert_accounts(connection)  # tenant 1: a member and an inactive one are visible, 3 accounts are not
        insert_accounts(connection, tenant_id=2, accounts=OTHER)
    flask_migrate.upgrade()
    assert schema_differences() == []
    with db.engine.begin() as connection:
        assert _counts(connection) == {1: 2, 2: 2}
        # The migration installs what the models install, word for word: the suite's own schema (create_all)
        # then tests the very triggers a production database runs.
        assert _installed_triggers(connection) == _model_triggers(connection.dialect.name)
    with db.engine.begin() as connection:  # and they count from here on
        connection.execute(text("UPDATE users SET role = 3 WHERE id = 1"))
        connection.execute(text("UPDATE users SET deprovisioned_at = updated_at WHERE id = 11"))
        connection.execute(text("UPDATE users SET deprovisioned_at = NULL WHERE id = 13"))
    with db.engine.begin() as connection:
        assert _counts(connection) == {1: 1, 2: 2}
    flask_migrate.downgrade(revision=BEFORE)
    assert "scim_member_counts" not in inspect(db.engine).get_table_names()
    with db.engine.begin() as connection:
        assert _installed_triggers(connection) == []
        connection.execute(text("UPDATE users SET role = 2 WHERE id = 1"))  # no trigger left to miss its table


def test_the_member_count_migration_on_sqlite(migrated_app, tmp_path):  # noqa: F811
    app = migrated_app(f"sqlite:///{tmp_path / 'counts.db'}")
    with app.app_context():
        check_member_count_migration()
        flask_migrate.upgrade()
        assert schema_differences() == []


def test_the_member_count_migration_on_postgresql(migrated_app):  # noqa: F811
    with postgres_app(migrated_app, "scim_counts") as app, app.app_context():
        check_member_count_migration()


pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")
