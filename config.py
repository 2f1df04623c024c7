"""Configuration: defaults, then instance/config.py, then the environment (docs/design.md §8)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

import origins

ENV_PREFIX = "MOBIEUS"


class Defaults:
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    TENANT_BASE_DOMAIN: str | None = None
    SCIM_MAX_RESULTS = 200
    SCIM_DEFAULT_COUNT = 100
    # Per credential, over a minute so bursts pass: Entra needs at least 25 requests/s and has peaked
    # near 1,000/min, and a conformance run sends ~800 in a few seconds. It stops a runaway client
    # averaging over 50/s; Okta then waits exactly Retry-After seconds. Empty turns the limit off.
    SCIM_RATE_LIMIT = "3000 per minute"
    # Failed SCIM authentications per client address (IPv6: per /64); past it the answer is a 429 until
    # the window ends. Valid tokens never count and are never refused by it. Empty turns it off.
    SCIM_AUTH_FAILURE_LIMIT = "30 per minute"
    # Per API key: a SIEM polling every few seconds and paging through a backlog of 1,000-row pages stays far
    # below it; a runaway loop does not. Empty turns the limit off.
    API_RATE_LIMIT = "600 per minute"
    # How long the newest request-log rows wait before the API hands them out, so that rows committing out of
    # id order (PostgreSQL) are never skipped: longer than a log insert takes to commit, plus clock skew.
    REQUEST_LOG_SETTLE_SECONDS = 5
    REQUEST_LOG_DAYS = 90  # request-log history kept: what `flask scim prune-log` removes beyond by default
    MAX_CONTENT_LENGTH = 4 * 1024 * 1024
    PROXY_HOPS = 0  # proxies in front whose X-Forwarded-* headers are trusted
    # The origin of every link the app hands out (https://learn.example.com, or https://{slug}.example.com);
    # links never take their origin from a request's Host header. bin/serve sets it to http://127.0.0.1:PORT.
    PUBLIC_URL: str | None = None
    # Further Host names to answer for, besides those PUBLIC_URL and TENANT_BASE_DOMAIN imply (origins.py).
    TRUSTED_HOSTS: list[str] | None = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    PREFERRED_URL_SCHEME = "https"
    WTF_CSRF_TIME_LIMIT = None  # tie CSRF tokens to the session, not a wall clock
    LOGIN_LIMIT = "5 per minute"  # failed sign-ins per client address and email
    LOGIN_ADDRESS_LIMIT = "30 per minute"  # failed sign-ins per client address, whatever the email
    LOGIN_ACCOUNT_LIMIT = "20 per hour"  # failed sign-ins per email, from any address (IPv6: per /64)
    # When LOGIN_ACCOUNT_LIMIT pauses an admin account, its owner is mailed a sign-in link valid this long.
    SIGN_IN_LINK_MINUTES = 15
    ADMIN_SESSION_HOURS = 12  # a dashboard session ends this long after signing in
    VERIFY_RESEND_LIMIT = "10 per hour"  # "send me a new link" requests per client address
    VERIFY_RESEND_PER_DAY = 5  # links the public resend form mails one account in 24 hours
    # bcrypt cost for dashboard passwords; the test suite lowers it, production keeps 12 (about 0.2 s a check).
    BCRYPT_ROUNDS = 12
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = False
    # Check every limit of a request, so a sign-in knows whether only its account's limit refused it.
    RATELIMIT_FAIL_ON_FIRST_BREACH = False
    MAIL_SMTP_HOST: str | None = None
    MAIL_SMTP_PORT = 25
    MAIL_SMTP_STARTTLS = False
    MAIL_SMTP_USERNAME: str | None = None
    MAIL_SMTP_PASSWORD: str | None = None
    MAIL_SMTP_TIMEOUT = 10
    MAIL_FROM = "mobieuslearn@localhost"
    MAIL_OUTBOX_DIR: str | None = None  # where mail goes without SMTP; default instance/mail/
    VERIFY_LINK_HOURS = 48
    SETUP_LINK_MINUTES = 60
    SETUP_TOKEN_FILE: str | None = None  # default instance/setup-token.json


def instance_path(test_config: dict[str, Any] | None) -> str | None:
    """Return the instance folder named by test_config or INSTANCE_PATH, or None for Flask's default."""
    path = (test_config or {}).get("INSTANCE_PATH") or os.environ.get("INSTANCE_PATH")
    return str(Path(path).resolve()) if path else None


def load(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Fill app.config from every source, later ones winning."""
    app.config.from_object(Defaults)
    app.config.from_pyfile("config.py", silent=True)
    _database_alias(app.config)
    # Any setting as MOBIEUS_<NAME> (values parsed as JSON where they are JSON).
    app.config.from_prefixed_env(ENV_PREFIX)
    _database_alias(app.config)
    for name in ("DATABASE_URL", "SECRET_KEY", "TENANT_BASE_DOMAIN"):
        if os.environ.get(name):
            app.config[name] = os.environ[name]
    _database_alias(app.config)
    if test_config:
        app.config.update(test_config)
        _database_alias(app.config)

    try:
        app.config["PUBLIC_URL"] = origins.check_public_url(app.config.get("PUBLIC_URL"))
        # Computed once here; Flask refuses any other Host with a 400 before a view runs.
        app.config["TRUSTED_HOSTS"] = origins.trusted_hosts(app.config)
    except ValueError as error:
        raise RuntimeError(f"configuration: {error}") from None

    database_url = app.config.get("SQLALCHEMY_DATABASE_URI")
    if not database_url:
        # sqlite3 creates the file but not its folder.
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        database_url = "sqlite:///" + str(Path(app.instance_path) / "mobieus.db")
    app.config["SQLALCHEMY_DATABASE_URI"] = with_driver(database_url)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # Several gunicorn workers share one file: wait for a lock instead of failing at once.
        options = app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
        options.setdefault("connect_args", {}).setdefault("timeout", 15)
    else:
        # No ping before each checkout (a round trip per request). A connection the server ended fails its first
        # statement instead; SQLAlchemy then discards every connection older than that failure, and the request
        # answers 503 with Retry-After (or, for a lost COMMIT reply, is settled by its transaction id). Recycling
        # before half an hour keeps connections younger than the idle limits of servers and proxies.
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {}).setdefault("pool_recycle", 1800)

    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))


def _database_alias(config: dict[str, Any]) -> None:
    """Treat DATABASE_URL as SQLALCHEMY_DATABASE_URI, so whichever source comes later wins."""
    if config.get("DATABASE_URL"):
        config["SQLALCHEMY_DATABASE_URI"] = config.pop("DATABASE_URL")


def with_driver(url: str) -> str:
    """Use psycopg 3 for plain postgres URLs (SQLAlchemy would pick psycopg2)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _instance_secret(instance: Path) -> str:
    """Generate the secret key once into instance/ so sessions survive restarts.

    Workers may start together: the key is written to a private temporary file and linked
    into place, so no worker ever reads a half-written key and the first link wins.
    """
    path = instance / "secret_key"
    if path.exists() and (key := path.read_text().strip()):
        return key
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    temporary = instance / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        try:
            os.link(temporary, path)
        except FileExistsError:
            key = path.read_text().strip()
    finally:
        temporary.unlink()
    if not key:
        raise RuntimeError(f"{path} is empty; delete it to generate a new secret key")
    return key
