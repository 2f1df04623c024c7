"""What the soak runs against: a fresh database, the CLI's setup, gunicorn, and an operator ending backends."""

from __future__ import annotations

import secrets
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config import with_driver  # noqa: E402


@contextmanager
def fresh_database(database_url: str | None, tmp: str, name: str) -> Iterator[tuple[str, str | None]]:
    """Yield (app URL, admin URL): a SQLite file in tmp, or a schema of its own in the PostgreSQL database."""
    if not database_url:
        yield f"sqlite:///{tmp}/soak.db", None
        return
    schema, admin_url = name.replace("-", "_"), with_driver(database_url)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        url = make_url(admin_url).update_query_dict({"options": f"-csearch_path={schema}", "application_name": name})
        yield url.render_as_string(hide_password=False), admin_url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def prepare(env: dict) -> str:
    """Migrate, create the default tenant and a super-admin (groups need an owner); return a new SCIM token."""
    flask(env, "db", "upgrade")
    flask(env, "bootstrap")
    flask(env, "users", "create", "--tenant", "default", "--email", "owner@example.com", "--role", "5",
          "--password", secrets.token_urlsafe(12), "--verified")  # fmt: skip
    return flask(env, "scim", "issue", "--tenant", "default", "--name", "soak").strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def flask(env: dict, *args: str) -> str:
    """Run one `flask --app app ...` command and return its output."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"flask {' '.join(args[:2])} failed:\n{done.stderr}")
    return done.stdout


@contextmanager
def gunicorn(env: dict, workers: int, log_path: Path) -> Iterator[tuple[subprocess.Popen, int]]:
    """Run gunicorn with the project's gunicorn.conf.py on a free port; stop it afterwards."""
    port = free_port()
    with log_path.open("w") as log_file:
        server = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "gunicorn", "app:create_app()"],
            cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT,
            env={**env, "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers)},
        )  # fmt: skip
        try:
            yield server, port
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


def killer(admin_url: str, name: str, every: float, stop: threading.Event, ended: list[int]) -> None:
    """End every backend of the app every `every` seconds, as a failover or an operator would."""
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    query = text(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE application_name = :name AND pid <> pg_backend_pid()"
    )
    try:
        while not stop.wait(every):
            with engine.connect() as connection:
                ended.append(int(connection.execute(query, {"name": name}).scalar_one()))
    finally:
        engine.dispose()


def count_log_rows(database_url: str) -> int:
    engine = create_engine(with_driver(database_url))
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT count(*) FROM scim_requests")).scalar_one()
    engine.dispose()
    return int(rows)
