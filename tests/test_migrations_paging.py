"""Revision e5a2c8f1d3b6 indexes the members SCIM lists, with the WHERE the list's queries repeat."""

from __future__ import annotations

import flask_migrate
import pytest
from sqlalchemy import Connection, text

from models import SCIM_VISIBLE_POSTGRESQL, SCIM_VISIBLE_SQLITE, db
from tests.test_migrations import _keep_logging, migrated_app, postgres_app, schema_differences  # noqa: F401

BEFORE = "b7d3e9a1c5f2"
NOW = "2026-01-01 00:00:00"
# id: (scim_managed, role, deprovisioned): a member, a banned member, a local account, an admin, a deprovisioned one.
ACCOUNTS = {1: (True, 2, False), 2: (True, 1, False), 3: (False, 2, False), 4: (True, 3, False), 5: (True, 2, True)}


def _index_definition() -> str:
    if db.engine.dialect.name == "sqlite":
        query = "SELECT sql FROM sqlite_master WHERE name = 'ix_users_scim_visible'"
    else:
        query = "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_users_scim_visible'"
    with db.engine.connect() as connection:
        return connection.execute(text(query)).scalar() or ""


def _listed_through_the_index() -> list[int]:
    """Return the ids the list's WHERE selects, read with the index forced on the planner."""
    sqlite = db.engine.dialect.name == "sqlite"
    where = SCIM_VISIBLE_SQLITE if sqlite else SCIM_VISIBLE_POSTGRESQL
    indexed = "INDEXED BY ix_users_scim_visible" if sqlite else ""
    query = f"SELECT id FROM users {indexed} WHERE tenant_id = 1 AND {where} ORDER BY id"  # noqa: S608 (constants)
    with db.engine.begin() as connection:
        if not sqlite:
            connection.execute(text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(row[0] for row in connection.execute(text("EXPLAIN " + query)))
            assert "ix_users_scim_visible" in plan, plan
        return list(connection.execute(text(query)).scalars())


def insert_accounts(connection: Connection, tenant_id: int = 1, accounts: dict | None = None) -> None:
    """Insert a tenant and its accounts (ACCOUNTS unless given) with plain SQL, as any revision's schema takes them."""
    connection.execute(
        text("INSERT INTO tenants (id, slug, name, learn_scim, created_at) VALUES (:id, :slug, :slug, :on, :at)"),
        {"id": tenant_id, "slug": f"t{tenant_id}", "on": True, "at": NOW},
    )
    for user_id, (managed, role, gone) in (ACCOUNTS if accounts is None else accounts).items():
        connection.execute(
            text(
                "INSERT INTO users (id, tenant_id, scim_id, user_name, user_name_ci, role, scim_managed, profile,"
                " created_at, updated_at, deprovisioned_at)"
                " VALUES (:id, :tenant_id, :scim_id, :name, :name, :role, :managed, '{}', :at, :at, :gone)"
            ),
            {
                "id": user_id,
                "tenant_id": tenant_id,
                "scim_id": f"00000000-0000-0000-0000-{user_id:012d}",
                "name": f"user{user_id}",
                "role": role,
                "managed": managed,
                "at": NOW,
                "gone": NOW if gone else None,
            },
        )


def check_paging_migration() -> None:
    flask_migrate.upgrade(revision=BEFORE)
    with db.engine.begin() as connection:
        insert_accounts(connection)
    assert _index_definition() == ""
    flask_migrate.upgrade()
    assert schema_differences() == []
    definition = " ".join(_index_definition().split())
    # The migration's WHERE is the models' (Alembic does not compare it), and it holds the members SCIM sees.
    expected = SCIM_VISIBLE_SQLITE if db.engine.dialect.name == "sqlite" else "WHERE ((scim_managed IS TRUE)"
    assert expected in definition, definition
    assert _listed_through_the_index() == [1, 2]
    flask_migrate.downgrade(revision=BEFORE)
    assert _index_definition() == ""


def test_the_paging_index_migration_on_sqlite(migrated_app, tmp_path):  # noqa: F811
    app = migrated_app(f"sqlite:///{tmp_path / 'paging.db'}")
    with app.app_context():
        check_paging_migration()
        flask_migrate.upgrade()


def test_the_paging_index_migration_on_postgresql(migrated_app):  # noqa: F811
    with postgres_app(migrated_app, "scim_paging") as app, app.app_context():
        check_paging_migration()


pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")
