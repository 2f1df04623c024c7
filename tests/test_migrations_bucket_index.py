"""Revision b3d8f2a6c1e7: the request log's bucket index holds counted rows only, and counting into them still works."""

from __future__ import annotations

from datetime import datetime

import flask_migrate
from sqlalchemy import Connection, insert, select, text

from models import ScimRequest, db
from services import audit
from tests.test_migrations import _keep_logging, migrated_app, postgres_app, schema_differences  # noqa: F401
from tests.test_migrations_rollup_triggers import AT, _log_row, tenant_with_credential

BEFORE = "a8c2e6f4b1d9"
MINUTE = datetime(2025, 3, 14, 20, 5)


def _bucket_index(connection: Connection) -> str:
    """The bucket index's definition as the database keeps it."""
    if connection.dialect.name == "sqlite":
        query = "SELECT sql FROM sqlite_master WHERE name = 'uq_scim_requests_bucket'"
    else:
        query = (
            "SELECT indexdef FROM pg_indexes"
            " WHERE indexname = 'uq_scim_requests_bucket' AND schemaname = current_schema()"
        )
    definition: str = connection.execute(text(query)).scalar_one()
    return " ".join(definition.replace("(", " ").replace(")", " ").split())


def _count_once_more(connection: Connection) -> None:
    """Count one more refusal into bucket "k" with the app's own upsert."""
    row = _log_row(429, MINUTE, bucket="k", count=1, failure="too_many_failures")
    connection.execute(audit._upsert(connection.dialect.name), row)


def _upgrade_keeps_counted_rows_and_counts_into_them() -> None:
    flask_migrate.upgrade(revision=BEFORE)
    with db.engine.begin() as connection:
        tenant_with_credential(connection)
        connection.execute(insert(ScimRequest), [_log_row(200, AT, count=1), _log_row(404, AT, count=3)])
        connection.execute(
            insert(ScimRequest), _log_row(429, MINUTE, bucket="k", count=57, failure="too_many_failures")
        )
        assert "WHERE" not in _bucket_index(connection)

    flask_migrate.upgrade()
    assert schema_differences() == []
    with db.engine.begin() as connection:
        assert _bucket_index(connection).endswith("WHERE bucket IS NOT NULL")
        _count_once_more(connection)
        counted = connection.execute(select(ScimRequest.count).where(ScimRequest.bucket == "k")).scalar_one()
        rows = connection.execute(select(ScimRequest.bucket, ScimRequest.count).order_by(ScimRequest.id)).all()
    assert counted == 58
    assert [tuple(row) for row in rows] == [(None, 1), (None, 3), ("k", 58)]

    flask_migrate.downgrade(revision=BEFORE)
    with db.engine.begin() as connection:
        assert "WHERE" not in _bucket_index(connection)
        _count_once_more(connection)  # the upsert finds the whole index too, as it does after a downgrade
    flask_migrate.upgrade()
    with db.engine.connect() as connection:
        assert connection.execute(select(ScimRequest.count).where(ScimRequest.bucket == "k")).scalar_one() == 59


def test_the_models_bucket_index_holds_counted_rows_only(app):
    with db.engine.connect() as connection:
        assert _bucket_index(connection).endswith("WHERE bucket IS NOT NULL")


def test_upgrade_on_sqlite_keeps_counted_rows_and_counts_into_them(migrated_app, tmp_path):  # noqa: F811
    with migrated_app(f"sqlite:///{tmp_path / 'bucket.db'}").app_context():
        _upgrade_keeps_counted_rows_and_counts_into_them()


def test_upgrade_on_postgresql_keeps_counted_rows_and_counts_into_them(migrated_app):  # noqa: F811
    with postgres_app(migrated_app, "scim_bucket_index") as app, app.app_context():
        _upgrade_keeps_counted_rows_and_counts_into_them()
