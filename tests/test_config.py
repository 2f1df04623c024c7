"""Configuration sources and their order, the database URL, the secret key and SQLite's settings (docs/design.md §8)."""

from __future__ import annotations

import os
import stat

import pytest
from flask import Flask
from sqlalchemy import text

from app import create_app
from models import db
from services import audit

WELL_KNOWN = ("DATABASE_URL", "SECRET_KEY", "TENANT_BASE_DOMAIN", "INSTANCE_PATH")


@pytest.fixture
def instance(tmp_path, monkeypatch):
    """A clean environment whose instance folder is a temporary directory (not created yet)."""
    for name in list(os.environ):
        if name.startswith("MOBIEUS_") or name in WELL_KNOWN:
            monkeypatch.delenv(name)
    path = tmp_path / "instance"
    monkeypatch.setenv("INSTANCE_PATH", str(path))
    return path


@pytest.fixture
def build():
    """Create apps from a test config and dispose of their engines afterwards."""
    apps: list[Flask] = []

    def factory(**test_config) -> Flask:
        app = create_app(test_config or None)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def database_uri(app: Flask) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"]


# --- instance folder -----------------------------------------------------------------------


def test_instance_path_comes_from_the_environment(instance, build):
    app = build()
    assert app.instance_path == str(instance)


def test_instance_path_from_test_config_wins_over_the_environment(instance, build, tmp_path):
    other = tmp_path / "other"
    app = build(INSTANCE_PATH=str(other))
    assert app.instance_path == str(other)
    assert (other / "secret_key").exists()
    assert not instance.exists()


def test_instance_config_py_is_read(instance, build):
    instance.mkdir()
    (instance / "config.py").write_text('SCIM_MAX_RESULTS = 7\nTENANT_BASE_DOMAIN = "inst.example.com"\n')
    app = build()
    assert app.config["SCIM_MAX_RESULTS"] == 7
    assert app.config["TENANT_BASE_DOMAIN"] == "inst.example.com"
    assert app.config["SCIM_DEFAULT_COUNT"] == 100  # untouched defaults stay


# --- environment ---------------------------------------------------------------------------


def test_prefixed_environment_variables_land_in_config_parsed_as_json(instance, build, monkeypatch):
    monkeypatch.setenv("MOBIEUS_SCIM_MAX_RESULTS", "50")
    monkeypatch.setenv("MOBIEUS_SESSION_COOKIE_SECURE", "true")
    monkeypatch.setenv("MOBIEUS_MAIL_SMTP_HOST", "smtp.example.com")
    monkeypatch.setenv("MOBIEUS_LOGIN_LIMIT", "10 per minute")
    app = build()
    assert app.config["SCIM_MAX_RESULTS"] == 50
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["MAIL_SMTP_HOST"] == "smtp.example.com"
    assert app.config["LOGIN_LIMIT"] == "10 per minute"


def test_later_sources_win_instance_then_environment_then_test_config(instance, build, monkeypatch):
    instance.mkdir()
    (instance / "config.py").write_text(
        'SCIM_MAX_RESULTS = 7\nSCIM_DEFAULT_COUNT = 5\nTENANT_BASE_DOMAIN = "inst.example.com"\n'
    )
    monkeypatch.setenv("MOBIEUS_SCIM_MAX_RESULTS", "9")
    monkeypatch.setenv("MOBIEUS_SCIM_DEFAULT_COUNT", "6")
    monkeypatch.setenv("TENANT_BASE_DOMAIN", "env.example.com")
    app = build(SCIM_DEFAULT_COUNT=3)
    assert app.config["SCIM_MAX_RESULTS"] == 9
    assert app.config["SCIM_DEFAULT_COUNT"] == 3
    assert app.config["TENANT_BASE_DOMAIN"] == "env.example.com"


def test_unprefixed_tenant_base_domain_is_read(instance, build, monkeypatch):
    monkeypatch.setenv("TENANT_BASE_DOMAIN", "example.com")
    assert build().config["TENANT_BASE_DOMAIN"] == "example.com"


# --- database ------------------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["DATABASE_URL", "MOBIEUS_DATABASE_URL"])
def test_database_url_selects_the_database(instance, build, monkeypatch, tmp_path, variable):
    target = tmp_path / "elsewhere.db"
    monkeypatch.setenv(variable, f"sqlite:///{target}")
    app = build()
    assert database_uri(app) == f"sqlite:///{target}"
    with app.app_context(), db.engine.connect() as connection:
        connection.execute(text("CREATE TABLE probe (id INTEGER)"))
    assert target.exists()
    assert not (instance / "mobieus.db").exists()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://scim:pw@db.example.com:5432/scim", "postgresql+psycopg://scim:pw@db.example.com:5432/scim"),
        ("postgresql://scim:pw@db.example.com/scim", "postgresql+psycopg://scim:pw@db.example.com/scim"),
        ("postgresql+psycopg://scim@db.example.com/scim", "postgresql+psycopg://scim@db.example.com/scim"),
    ],
)
def test_postgres_urls_use_psycopg_3(instance, build, monkeypatch, url, expected):
    monkeypatch.setenv("DATABASE_URL", url)
    app = build()
    assert database_uri(app) == expected
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_recycle": 1800}  # no ping round trip per checkout
    with app.app_context():  # the engine is built without connecting
        assert db.engine.dialect.name == "postgresql"
        assert db.engine.dialect.driver == "psycopg"


def test_database_url_in_the_environment_beats_instance_config(instance, build, monkeypatch, tmp_path):
    instance.mkdir()
    (instance / "config.py").write_text(f'SQLALCHEMY_DATABASE_URI = "sqlite:///{tmp_path / "instance.db"}"\n')
    assert database_uri(build()) == f"sqlite:///{tmp_path / 'instance.db'}"
    monkeypatch.setenv("DATABASE_URL", "postgres://scim@db.example.com/scim")
    assert database_uri(build()) == "postgresql+psycopg://scim@db.example.com/scim"


def test_test_config_database_beats_the_environment(instance, build, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgres://scim@db.example.com/scim")
    app = build(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'test.db'}")
    assert database_uri(app) == f"sqlite:///{tmp_path / 'test.db'}"


def test_default_database_is_a_sqlite_file_in_the_instance_folder(instance, build, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-env")  # so nothing else creates the folder
    app = build()
    assert database_uri(app) == f"sqlite:///{instance / 'mobieus.db'}"
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]["timeout"] == 15
    with app.app_context(), db.engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1
    assert (instance / "mobieus.db").is_file()


def test_sqlite_file_connections_use_wal_a_busy_timeout_and_foreign_keys(instance, build):
    app = build()
    with app.app_context():
        for _ in range(2):  # every pooled connection, not just the first
            with db.engine.connect() as connection:
                assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 15000
                assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        db.engine.dispose()
        with db.engine.connect() as connection:  # a brand-new connection after the pool was emptied
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


# --- secret key ----------------------------------------------------------------------------


def test_secret_key_is_generated_once_with_mode_0600_and_reused(instance, build):
    first = build()
    key_file = instance / "secret_key"
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = first.config["SECRET_KEY"]
    assert len(key) >= 48
    assert key_file.read_text().strip() == key

    second = build()
    assert second.config["SECRET_KEY"] == key
    assert key_file.read_text().strip() == key
    assert [p.name for p in instance.iterdir() if p.name.startswith(".secret_key")] == []


def test_an_existing_secret_key_file_is_used(instance, build):
    instance.mkdir()
    (instance / "secret_key").write_text("kept-from-last-install\n")
    assert build().config["SECRET_KEY"] == "kept-from-last-install"


def test_an_empty_secret_key_file_is_refused_not_used(instance, build):
    instance.mkdir()
    (instance / "secret_key").write_text("")
    with pytest.raises(RuntimeError, match="secret_key is empty"):
        build()


@pytest.mark.parametrize("variable", ["SECRET_KEY", "MOBIEUS_SECRET_KEY"])
def test_secret_key_from_the_environment_writes_no_file(instance, build, monkeypatch, variable):
    monkeypatch.setenv(variable, "from-env")
    app = build()
    assert app.config["SECRET_KEY"] == "from-env"
    assert not (instance / "secret_key").exists()


def test_workers_starting_together_agree_on_one_secret_key(instance, build, monkeypatch):
    """Another worker links its key first: this one must take that key, not crash or keep its own."""
    real_link = os.link

    def other_worker_wins(source, target):
        with open(target, "x") as handle:  # the other worker's key appears just before ours
            handle.write("other-worker-key")
        return real_link(source, target)

    monkeypatch.setattr(os, "link", other_worker_wins)
    assert build().config["SECRET_KEY"] == "other-worker-key"
    assert sorted(p.name for p in instance.iterdir()) == ["secret_key"]


# --- the request log's own SQLite engine --------------------------------------------------------------


def test_a_sqlite_file_gives_the_request_log_an_engine_of_its_own_that_skips_the_fsync(instance, build):
    app = build()  # the default: a SQLite file in instance/
    log_engine = app.extensions[audit.ENGINE]
    with app.app_context():
        assert log_engine.url == db.engine.url and log_engine is not db.engine
    with log_engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    log_engine.dispose()


def test_an_in_memory_sqlite_database_keeps_the_log_on_the_apps_engine(instance, build):
    """Each engine would open a database of its own: the log's rows would land where nothing reads them."""
    app = build(SQLALCHEMY_DATABASE_URI="sqlite://")
    assert audit.ENGINE not in app.extensions
    with app.app_context():
        assert audit._engine() is db.engine
