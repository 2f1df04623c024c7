"""Revision b7d3e9a1c5f2 fills the folded profile copies of existing users, so old members are filterable at once."""

from __future__ import annotations

import json

import flask_migrate
import pytest
from sqlalchemy import text

from models import db
from tests.test_migrations import _keep_logging, migrated_app, postgres_app, schema_differences  # noqa: F401

BEFORE = "9959171449f9"
NOW = "2026-01-01 00:00:00"
PROFILES = {
    1: {
        "nickName": "Straße",
        "name": {"formatted": "Ms ÅSA", "givenName": "Åsa"},
        "phoneNumbers": [{"value": "+1"}],
        "enterprise": {"employeeNumber": "E-ß-1", "manager": {"value": "MGR-1"}},
    },
    2: {},
    3: {"enterprise": {"employeeNumber": "ﬁ" * 200}},  # folds to 400 characters: cut to the column's 255
}


def check_profile_migration() -> None:
    flask_migrate.upgrade(revision=BEFORE)
    with db.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO tenants (id, slug, name, learn_scim, created_at) VALUES (1, 't', 't', :on, :at)"),
            {"on": True, "at": NOW},
        )
        for user_id, profile in PROFILES.items():
            connection.execute(
                text(
                    "INSERT INTO users (id, tenant_id, scim_id, user_name, user_name_ci, role, scim_managed, profile,"
                    " created_at, updated_at) VALUES (:id, 1, :scim_id, :name, :name, 2, :on, :profile, :at, :at)"
                ),
                {
                    "id": user_id,
                    "scim_id": f"00000000-0000-0000-0000-{user_id:012d}",
                    "name": f"user{user_id}",
                    "on": True,
                    "profile": json.dumps(profile),
                    "at": NOW,
                },
            )
    flask_migrate.upgrade()
    assert schema_differences() == []
    with db.engine.connect() as connection:
        rows = connection.execute(text("SELECT id, profile_ci, employee_number_ci FROM users ORDER BY id")).all()
    migrated = {row.id: (_json(row.profile_ci), row.employee_number_ci) for row in rows}
    assert migrated[1] == (
        {
            "nickname": "strasse",
            "name.formatted": "ms åsa",
            "name.givenname": "åsa",
            "enterprise.employeenumber": "e-ss-1",
            "enterprise.manager.value": "mgr-1",
        },
        "e-ss-1",
    )
    assert migrated[2] == ({}, None)
    assert migrated[3][1] == "fi" * 127 + "f"


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def test_the_profile_migration_on_sqlite(migrated_app, tmp_path):  # noqa: F811
    app = migrated_app(f"sqlite:///{tmp_path / 'profile.db'}")
    with app.app_context():
        check_profile_migration()
        flask_migrate.downgrade(revision=BEFORE)
        flask_migrate.upgrade()


def test_the_profile_migration_on_postgresql(migrated_app):  # noqa: F811
    with postgres_app(migrated_app, "scim_profile") as app, app.app_context():
        check_profile_migration()
        flask_migrate.downgrade(revision=BEFORE)


pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")
