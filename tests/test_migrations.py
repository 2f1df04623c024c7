"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, MetaData, String, create_engine, inspect, text
from sqlalchemy.engine import make_url

from models import db

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
# migrations/env.py is Flask-Migrate's stock template, which still calls the deprecated `get_engine()` first.
pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")


@pytest.fixture(autouse=True)
def _keep_logging():
    """Undo the `fileConfig` in migrations/env.py, which disables every logger that already exists."""
    root = logging.getLogger()
    saved_root = (root.level, list(root.handlers))
    saved = {
        name: (logger.disabled, logger.level, list(logger.handlers), logger.propagate)
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    yield
    root.setLevel(saved_root[0])
    root.handlers[:] = saved_root[1]
    for name, (disabled, level, handlers, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.disabled, logger.propagate = disabled, propagate
        logger.setLevel(level)
        logger.handlers[:] = handlers


@pytest.fixture
def migrated_app(make_app):
    """Build apps on a given database URL and dispose of their engines afterwards."""
    apps = []

    def factory(url: str):
        # A database of its own, so none of the suite's engine options (its PostgreSQL schema).
        app = make_app(SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS={})
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def head() -> str:
    heads = ScriptDirectory(str(MIGRATIONS)).get_heads()
    assert len(heads) == 1, f"migrations have several heads: {heads}"
    return heads[0]


def schema_differences(metadata: MetaData = db.metadata) -> list:
    """Return what `flask db migrate` would generate against the current app's database."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata)


def assert_upgrade_builds_the_models() -> None:
    flask_migrate.upgrade()
    tables = set(inspect(db.engine).get_table_names())
    assert tables == set(db.metadata.tables) | {"alembic_version"}
    with db.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_heads() == (head(),)
    assert schema_differences() == []


def test_upgrade_on_a_fresh_sqlite_file_matches_the_models(migrated_app, tmp_path):
    app = migrated_app(f"sqlite:///{tmp_path / 'fresh.db'}")
    with app.app_context():
        assert_upgrade_builds_the_models()
        flask_migrate.upgrade()  # a second upgrade is a no-op
        assert schema_differences() == []


def test_the_comparison_catches_a_model_change_without_a_migration(migrated_app, tmp_path):
    """Guard against a vacuous check: a column or index the migrations lack must show up."""
    app = migrated_app(f"sqlite:///{tmp_path / 'changed.db'}")
    changed = MetaData(naming_convention=db.metadata.naming_convention)
    for table in db.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["tenants"].append_column(Column("plan", String(20)))
    with app.app_context():
        flask_migrate.upgrade()
        differences = schema_differences(changed)
    assert [(d[0], d[2], d[3].name) for d in differences] == [("add_column", "tenants", "plan")]


def test_downgrade_to_base_on_sqlite_removes_every_table_and_upgrades_again(migrated_app, tmp_path):
    app = migrated_app(f"sqlite:///{tmp_path / 'down.db'}")
    with app.app_context():
        flask_migrate.upgrade()
        flask_migrate.downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) == {"alembic_version"}
        with db.engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_heads() == ()
            assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 0
        assert_upgrade_builds_the_models()


def assert_existing_log_rows_stand_for_one_request_each() -> None:
    """Upgrade from the initial schema with a logged request in place: it becomes a row of count 1."""
    flask_migrate.upgrade(revision="a656d1c72da6")
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO scim_requests (at, method, path, status, duration_ms, ip)"
                " VALUES (CURRENT_TIMESTAMP, 'GET', '/scim/v2/Users', 401, 1.5, '192.0.2.7')"
            )
        )
    flask_migrate.upgrade()
    with db.engine.connect() as connection:
        rows = connection.execute(text("SELECT status, count, bucket FROM scim_requests")).all()
    assert [tuple(row) for row in rows] == [(401, 1, None)]
    assert schema_differences() == []


def test_upgrading_a_sqlite_log_keeps_each_request_at_count_1(migrated_app, tmp_path):
    app = migrated_app(f"sqlite:///{tmp_path / 'log.db'}")
    with app.app_context():
        assert_existing_log_rows_stand_for_one_request_each()


def _postgres_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set; the PostgreSQL migration check needs a server")
    if not make_url(url).get_backend_name().startswith("postgres"):
        pytest.skip(f"TEST_DATABASE_URL is not PostgreSQL ({make_url(url).get_backend_name()})")
    return url


@contextmanager
def postgres_app(migrated_app, prefix: str) -> Iterator:
    """Yield an unmigrated app on a throwaway PostgreSQL database, dropped afterwards (skip without a server)."""
    server = make_url(_postgres_url()).set(drivername="postgresql+psycopg")
    name = f"{prefix}_{secrets.token_hex(6)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            app = migrated_app(server.set(database=name).render_as_string(hide_password=False))
            yield app
            with app.app_context():
                db.engine.dispose()
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def test_upgrade_on_a_fresh_postgresql_database_matches_the_models(migrated_app):
    with postgres_app(migrated_app, "scim_migrations") as app, app.app_context():
        assert db.engine.dialect.name == "postgresql"
        assert_upgrade_builds_the_models()
        flask_migrate.downgrade(revision="base")
        assert_existing_log_rows_stand_for_one_request_each()
        flask_migrate.downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) == {"alembic_version"}


def _legacy_rows(connection) -> None:
    """Rows as the initial schema's code wrote them: keys from str.lower(), two pairs that only the new fold joins."""
    connection.execute(
        text("INSERT INTO tenants (id, slug, name, learn_scim, created_at) VALUES (1, 't', 'T', true, :at)"),
        {"at": "2026-01-01"},
    )
    users = [
        (1, "Straße", None),
        (2, "STRASSE", None),  # the same key as 1 under the fold: both live, both kept
        (3, "ＡＬＩＣＥ", None),
        (4, "alice", "2026-02-01"),  # deprovisioned: no clash with 3
        (5, "Élodie", None),
    ]
    for row_id, name, gone in users:
        connection.execute(
            text(
                "INSERT INTO users (id, tenant_id, scim_id, user_name, user_name_ci, email, email_ci, display_name,"
                " given_name, family_name, role, scim_managed, profile, created_at, updated_at, deprovisioned_at,"
                " version, session_epoch) VALUES (:id, 1, :sid, :name, :ci, :email, :email_ci, :name, :name, 'Ünal',"
                " 2, true, '{}', :at, :at, :gone, 1, 0)"
            ),
            {
                "id": row_id,
                "sid": f"s-{row_id}",
                "name": name,
                "ci": name.lower(),
                "email": f"{name}@Example.com",
                "email_ci": f"{name}@example.com".lower(),
                "at": "2026-01-01",
                "gone": gone,
            },
        )
    connection.execute(
        text(
            "INSERT INTO user_emails (id, user_id, position, value, value_ci, type)"
            " VALUES (1, 5, 0, 'É@X.T', 'É@x.t', 'Wörk')"
        )
    )
    for row_id, name in ((1, "Straße"), (2, "STRASSE"), (3, "Équipe")):
        connection.execute(
            text(
                "INSERT INTO cohorts (id, tenant_id, scim_id, name, name_ci, owner_id, scim_managed, created_at,"
                " updated_at) VALUES (:id, 1, :sid, :name, :ci, 1, true, :at, :at)"
            ),
            {"id": row_id, "sid": f"g-{row_id}", "name": name, "ci": name.lower(), "at": "2026-01-01"},
        )


def _check_unicode_fold_migration(app) -> None:
    from services.name_clashes import name_clashes

    with app.app_context():
        flask_migrate.upgrade(revision="a656d1c72da6")
        with db.engine.begin() as connection:
            _legacy_rows(connection)
        flask_migrate.upgrade()
        assert schema_differences() == []
        with db.engine.connect() as connection:
            users = connection.execute(
                text(
                    "SELECT id, user_name_ci, user_name_clash, email_ci, display_name_ci, family_name_ci"
                    " FROM users ORDER BY id"
                )
            ).all()
            emails = connection.execute(text("SELECT value_ci, type_ci FROM user_emails")).all()
            cohorts = connection.execute(text("SELECT name_ci, name_clash FROM cohorts ORDER BY id")).all()
        assert [(u.id, u.user_name_ci, u.user_name_clash) for u in users] == [
            (1, "strasse", 0),
            (2, "strasse", 2),
            (3, "alice", 0),
            (4, "alice", 0),
            (5, "élodie", 0),
        ]
        assert users[0].email_ci == "strasse@example.com" and users[4].display_name_ci == "élodie"
        assert {u.family_name_ci for u in users} == {"ünal"}
        assert emails == [("é@x.t", "wörk")]
        assert cohorts == [("strasse", 0), ("strasse", 2), ("équipe", 0)]
        assert [(c.kind, c.scim_id, c.older_scim_id) for c in name_clashes()] == [
            ("user", "s-2", "s-1"),
            ("group", "g-2", "g-1"),
        ]
        db.session.remove()  # its open transaction would hold PostgreSQL's locks against the downgrade
        flask_migrate.downgrade(revision="a656d1c72da6")
        with db.engine.connect() as connection:
            keys = connection.execute(text("SELECT user_name_ci FROM users ORDER BY id")).scalars().all()
        assert keys == ["straße", "strasse", "ａｌｉｃｅ", "alice", "élodie"]
        flask_migrate.upgrade()


def test_the_unicode_fold_migration_recomputes_keys_and_keeps_accounts_that_now_collide(migrated_app, tmp_path):
    _check_unicode_fold_migration(migrated_app(f"sqlite:///{tmp_path / 'fold.db'}"))


def test_the_unicode_fold_migration_on_postgresql(migrated_app):
    with postgres_app(migrated_app, "scim_fold") as app:
        _check_unicode_fold_migration(app)


# --- 9959171449f9: group externalIds unique among a tenant's SCIM-visible groups --------------------------------

BEFORE = "a656d1c72da6"
NOW = "2026-01-01 00:00:00"

# (id, tenant, externalId, SCIM-managed, deleted over SCIM)
COHORTS = [
    (1, 1, "okta-1", True, False),  # the oldest live group with okta-1: keeps it
    (2, 1, "okta-1", True, False),  # a newer duplicate made by a race: loses it
    (3, 1, "okta-1", True, False),  # and another one
    (4, 1, "okta-1", True, True),  # deleted over SCIM: outside the index, untouched
    (5, 1, "okta-1", False, False),  # a dashboard cohort: outside the index, untouched
    (6, 1, "okta-2", True, False),  # unique already
    (7, 2, "okta-1", True, False),  # another tenant's: unique within its tenant
    (8, 1, None, True, False),
    (9, 1, None, True, False),  # no externalId at all: any number may have none
]


def seed_duplicates() -> None:
    with db.engine.begin() as connection:
        for tenant_id in (1, 2):
            connection.execute(
                text(
                    "INSERT INTO tenants (id, slug, name, learn_scim, created_at) VALUES (:id, :slug, :slug, :on, :at)"
                ),
                {"id": tenant_id, "slug": f"t{tenant_id}", "on": True, "at": NOW},
            )
        for cohort_id, tenant_id, external_id, managed, deleted in COHORTS:
            connection.execute(
                text(
                    "INSERT INTO cohorts (id, tenant_id, scim_id, external_id, name, name_ci, scim_managed,"
                    " scim_deleted_at, created_at, updated_at)"
                    " VALUES (:id, :tenant, :scim_id, :ext, :name, :name, :managed, :deleted, :at, :at)"
                ),
                {
                    "id": cohort_id,
                    "tenant": tenant_id,
                    "scim_id": f"00000000-0000-0000-0000-{cohort_id:012d}",
                    "ext": external_id,
                    "name": f"group {cohort_id}",
                    "managed": managed,
                    "deleted": NOW if deleted else None,
                    "at": NOW,
                },
            )


def assert_upgrade_keeps_the_oldest(capsys) -> None:
    flask_migrate.upgrade(revision=BEFORE)
    seed_duplicates()
    flask_migrate.upgrade()
    assert schema_differences() == []
    with db.engine.connect() as connection:
        rows = dict(connection.execute(text("SELECT id, external_id FROM cohorts ORDER BY id")).all())
        moved = set(connection.execute(text("SELECT id FROM cohorts WHERE updated_at > :at"), {"at": NOW}).scalars())
    expected = {cohort_id: external_id for cohort_id, _, external_id, _, _ in COHORTS}
    assert rows == {**expected, 2: None, 3: None}
    assert moved == {2, 3}  # lastModified tells the IdP these groups changed
    assert "2 SCIM group(s) shared an externalId" in capsys.readouterr().err
    # From now on the index refuses a new duplicate among live SCIM groups.
    with pytest.raises(Exception, match="(?i)unique"), db.engine.begin() as connection:
        connection.execute(text("UPDATE cohorts SET external_id = 'okta-1' WHERE id = 6"))


def test_upgrade_over_duplicate_external_ids_on_sqlite(migrated_app, tmp_path, capsys):
    app = migrated_app(f"sqlite:///{tmp_path / 'duplicates.db'}")
    with app.app_context():
        assert_upgrade_keeps_the_oldest(capsys)
        flask_migrate.downgrade(revision=BEFORE)  # drops the index again


def test_upgrade_over_duplicate_external_ids_on_postgresql(migrated_app, capsys):
    with postgres_app(migrated_app, "scim_migrations") as app, app.app_context():
        assert_upgrade_keeps_the_oldest(capsys)
        flask_migrate.downgrade(revision=BEFORE)


def test_an_autogenerated_migration_writes_the_role_column_as_a_plain_integer():
    """users.role is a RoleType in the models; a generated migration must not import the models to create it."""
    import ast

    from alembic.autogenerate import render
    from alembic.autogenerate.api import AutogenContext

    from models import User

    source = (Path(__file__).resolve().parent.parent / "migrations" / "env.py").read_text()
    hook = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == "render_plain_types")
    namespace: dict = {}
    exec("from sqlalchemy.types import TypeDecorator\n" + ast.unparse(hook), namespace)  # noqa: S102 - our own file

    def rendered(**opts) -> str:
        opts.update(sqlalchemy_module_prefix="sa.", user_module_prefix=None, alembic_module_prefix="op.")
        context = AutogenContext(MigrationContext.configure(dialect_name="sqlite", opts=opts))
        return render._render_column(User.__table__.c.role, context)

    assert "models." in rendered()  # what alembic writes without the hook
    assert rendered(render_item=namespace["render_plain_types"]) == "sa.Column('role', sa.Integer(), nullable=False)"
