"""Fixtures shared by the whole suite: one app per session, a clean database per test.

The suite runs on a SQLite file by default and on PostgreSQL when TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import close_all_sessions

import config
from app import create_app
from models import Role, db
from services import accounts, audit, credentials, rollups, tenants
from tests.admin import sign_in
from tests.helpers import driver_statements

SCIM = "/scim/v2"


# The app syncs every SQLite commit to disk (synchronous=FULL), a few milliseconds each on a disk and thousands per
# run; in memory-backed files the same commits, pragmas and locks cost next to nothing.
MEMORY_DIR = Path("/dev/shm")  # noqa: S108 - a private folder is made in it (mkdtemp, mode 0700)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A SQLite file per run (in memory-backed storage where the machine has it), or TEST_DATABASE_URL (PostgreSQL)."""
    if url := os.environ.get("TEST_DATABASE_URL"):
        yield url
        return
    in_memory = MEMORY_DIR.is_dir() and os.access(MEMORY_DIR, os.W_OK)
    with tempfile.TemporaryDirectory(prefix="mobieus-test-", dir=MEMORY_DIR if in_memory else None) as folder:
        yield f"sqlite:///{folder}/test.db"


@pytest.fixture(scope="session")
def engine_options(database_url):
    """On PostgreSQL, a schema of this run's own, so several runs can share one database."""
    if not database_url.startswith("postgres"):
        yield {}
        return
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(config.with_driver(database_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    yield {"connect_args": {"options": f"-csearch_path={schema}"}}
    with admin.connect() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(scope="session")
def make_app(database_url, engine_options, tmp_path_factory):
    """Build an app on the test database with config overrides (CSRF off unless asked)."""
    instance = tmp_path_factory.mktemp("instance")

    def factory(**overrides):
        config = {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": {**engine_options},
            "SECRET_KEY": "test-secret",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "BCRYPT_ROUNDS": 4,  # cheap hashes: the suite checks behaviour, not hashing cost
            "SERVER_NAME": None,
            "MAIL_OUTBOX_DIR": str(instance / "mail"),
        }
        config.update(overrides)
        return create_app(config)

    return factory


@pytest.fixture(scope="session")
def app(make_app):
    app = make_app()
    with app.app_context():
        db.drop_all()
        db.create_all()
    return app


@pytest.fixture(autouse=True)
def _clean_database(request):
    """Empty every table after each test, so tests never see each other's rows."""
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    # Sessions are scoped per app context; close every one the test opened (in any context or
    # thread) so none holds a lock the TRUNCATE below would wait for.
    close_all_sessions()
    rollups.forget_first_seen()  # ids restart with the emptied tables
    with app.app_context():
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                for name in tables:
                    connection.execute(text(f"DELETE FROM {name}"))  # noqa: S608 - our own table names


@pytest.fixture
def tenant(app):
    """The default tenant, SCIM on."""
    tenant, _ = tenants.ensure_default()
    return tenant


@pytest.fixture
def super_admin(tenant):
    return accounts.create_local_user(
        tenant, "owner@example.com", Role.SUPER_ADMIN, password="pw-owner-1", verified=True
    )


@pytest.fixture
def admin_client(client, super_admin):
    """A test client signed in to the dashboard as the tenant's super-admin."""
    sign_in(client, super_admin)
    return client


@pytest.fixture
def scim_token(tenant) -> str:
    _, token = credentials.issue(tenant, "Test IdP")
    return token


class ScimClient:
    """A test client that speaks SCIM: base path, bearer header, scim+json bodies."""

    def __init__(self, client, token: str | None, host: str = "localhost") -> None:
        self.client = client
        self.token = token
        self.host = host

    def open(self, method: str, path: str, body=None, headers: dict | None = None, **kwargs):
        all_headers = {"Host": self.host}
        if self.token is not None:
            all_headers["Authorization"] = f"Bearer {self.token}"
        if body is not None:
            all_headers["Content-Type"] = "application/scim+json; charset=utf-8"
            kwargs["data"] = body if isinstance(body, str | bytes) else json.dumps(body)
        all_headers.update(headers or {})
        return self.client.open(SCIM + path, method=method, headers=all_headers, **kwargs)

    def get(self, path, **kw):
        return self.open("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.open("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.open("PUT", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.open("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.open("DELETE", path, **kw)


@pytest.fixture
def scim(client, scim_token) -> ScimClient:
    """A SCIM client with a valid bearer token for the default tenant."""
    return ScimClient(client, scim_token)


@pytest.fixture
def scim_anonymous(client, tenant) -> ScimClient:
    return ScimClient(client, None)


@contextmanager
def statements():
    """Record the SQL statements the app runs (executemany counts once), to prove set-based work."""
    seen: list[str] = []
    engines = {db.engine, audit._engine()}  # the request log's own engine too, on SQLite
    with driver_statements(engines, lambda _cursor, statement: seen.append(statement)):
        yield seen


def scim_error(response, status: int, scim_type: str | None = None) -> dict:
    """Assert a response is a SCIM Error with this status (and scimType) and return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/scim+json"
    body = response.get_json(force=True)
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == str(status)
    assert body["detail"]
    if scim_type is not None:
        assert body.get("scimType") == scim_type
    return body
