"""Application factory: config, extensions, blueprints, CLI and app-wide error handlers."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import create_engine, event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry
from werkzeug.exceptions import HTTPException, InternalServerError, SecurityError
from werkzeug.middleware.proxy_fix import ProxyFix

import config
import logsafe
import nul_guard
import outages
import request_scope
import security_headers
from admin import bp as admin_bp
from admin.limits import init_app as init_sign_in_protection
from api import bp as api_bp
from api import init_app as init_api
from api import is_api_path
from api.problems import from_http_error, problem_response
from cli import register as register_cli
from converters import init_app as init_converters
from extensions import csrf, htmx, limiter, migrate
from json_provider import InOrderJSON
from logsafe import Traceback
from logsafe import init_app as init_log_escaping
from models import db
from scim import bp as scim_bp
from scim import init_app as init_scim
from scim import is_scim_path
from scim.errors import error_response
from services import audit, database

# The app is _App(__name__) below, so this is app.logger too: the one that escapes what a client wrote (logsafe).
log = logsafe.logger(__name__)


# htmx is served from the PyPI package that ships it, from our own origin (no CDN, no copied file).
vendor = Blueprint(
    "vendor",
    __name__,
    static_folder=str(files("js_lib_htmx") / "static" / "htmx"),
    static_url_path="/static/vendor",
)


class _App(Flask):
    """Flask, asking once per hook and view whether it is a coroutine function, not on every call.

    Flask's `ensure_sync` asks `inspect.iscoroutinefunction` of every before, after and teardown hook and view on
    every request: a dozen times a request here, 3 % of a SCIM GET's CPU. The answer for a function never changes.
    Functions made per request (`after_this_request`) are asked as before once the memo is full, so it stays small.
    """

    _MEMO_LIMIT = 256

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync_memo: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        memo = self._sync_memo
        try:
            return memo[func]
        except TypeError:  # an unhashable callable: asked every time, as Flask does
            return super().ensure_sync(func)
        except KeyError:
            sync = super().ensure_sync(func)
            if len(memo) < self._MEMO_LIMIT:
                memo[func] = sync
            return sync


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create and configure the app."""
    app = _App(__name__, instance_relative_config=True, instance_path=config.instance_path(test_config))
    config.load(app, test_config)
    app.json = InOrderJSON(app)
    hops = int(app.config.get("PROXY_HOPS") or 0)
    if hops:
        # Behind TLS-terminating proxies: trust their X-Forwarded-* so links say https, the right
        # host, and the request log keeps the client's address rather than the proxy's.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]  # Flask's documented middleware hook
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )

    request_scope.init_app(app)  # first: every other request hook finds an empty `g`
    init_log_escaping(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(_root() / "migrations"))
    csrf.init_app(app)
    htmx.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)
        _install_log_engine(app)

    init_converters(app)  # before any blueprint: their routes use <id:...>
    init_scim(app)
    init_api(app)
    # After the SCIM and API hooks: a throttled request is authenticated first, so the log names its credential
    # and a tenant without SCIM answers 404 rather than 429.
    limiter.init_app(app)
    init_sign_in_protection(app, sessionless=is_scim_path)  # session cookie Secure flag and __Host- name
    security_headers.init_app(app)
    nul_guard.init_app(app)  # after the limiter: a refused request still counts against its limits
    csrf.exempt(scim_bp)  # bearer-token APIs: no cookies, so no CSRF
    csrf.exempt(api_bp)
    app.register_blueprint(scim_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(vendor)
    register_cli(app)

    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)

    @app.get("/")
    def home() -> ResponseReturnValue:
        return redirect(url_for("admin.index"))

    outages.init_app(app)  # last: its teardown runs first, its WSGI guard wraps everything
    return app


def _root() -> Path:
    return Path(__file__).resolve().parent


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    """WAL and a busy timeout let several workers share one SQLite file; enforce foreign keys."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Every commit reaches the disk before it is answered: the request log's connections alone relax this.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _sqlite_log_pragmas(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
    """The request log's own connections: as every other, but their commits skip the fsync (services/database.py)."""
    _sqlite_pragmas(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _install_log_engine(app: Flask) -> None:
    """Give the request log's rows a pool of their own, whose connections never wait for the disk to commit.

    SQLite: a second engine on the same file, its connections opened with synchronous=NORMAL (on one shared pool
    each log row paid two PRAGMAs to relax and restore the sync). An in-memory database is one per engine: there
    the log keeps to the app's engine. PostgreSQL: connections in autocommit with synchronous_commit off, so a
    log row is one statement and one round trip instead of BEGIN, INSERT and COMMIT (services/audit.py); a SCIM
    GET reads on the same pool, without BEGIN and ROLLBACK (services/database.read_without_transaction).
    """
    options = app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {})
    if db.engine.dialect.name == "sqlite" and db.engine.url.database not in (None, "", ":memory:"):
        log_engine = create_engine(db.engine.url, **options)
        event.listen(log_engine, "connect", _sqlite_log_pragmas)
    elif db.engine.dialect.name == "postgresql":
        log_engine = create_engine(db.engine.url, **{**options, "isolation_level": "AUTOCOMMIT"})
        event.listen(log_engine, "connect", _postgresql_log_settings)
        app.extensions[database.AUTOCOMMIT_ENGINE] = log_engine  # SCIM's GETs read on it too (scim/__init__.py)
    else:
        return
    app.extensions[audit.ENGINE] = log_engine


def _postgresql_log_settings(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    """The request log's own connections: their commits do not wait for the WAL to reach the disk (see design.md).

    Set for the session, outside any transaction (a SET inside one would end with it at the pool's rollback).
    """
    dbapi_connection.autocommit = True  # the engine asks for it too; this must not depend on the order of the two
    cursor = dbapi_connection.cursor()
    cursor.execute("SET synchronous_commit = off")
    cursor.close()


def _is_scim() -> bool:
    return is_scim_path(request.path)


def _is_api() -> bool:
    return is_api_path(request.path)


UNSERVED_HOST = "this server does not answer for this host name"
UNSERVED_HOST_PAGE = (
    f"<!doctype html>\n<title>400 Bad Request</title>\n<h1>400 Bad Request</h1>\n<p>{UNSERVED_HOST.capitalize()}.</p>\n"
)


def _http_error(error: HTTPException) -> ResponseReturnValue:
    """Answer Flask's own errors in the protocol of the path: SCIM JSON, problem details, or an HTML page."""
    if isinstance(error, SecurityError):
        return _unserved_host()
    if _is_api():
        return from_http_error(error)
    if _is_scim():
        detail = {
            404: "no such SCIM endpoint",
            405: f"method {request.method} is not allowed here",
            413: "request body too large",
            415: "send application/scim+json or application/json",
            429: f"too many requests with this credential ({error.description}); retry after Retry-After seconds",
        }.get(error.code or 500, error.description or "request failed")
        response = error_response(error.code or 500, detail)
        if error.code == 429:
            # Okta waits exactly this many seconds (an integer) before retrying; without it, 5 minutes.
            window = getattr(getattr(error, "limit", None), "limit", None)
            response.headers["Retry-After"] = str(max(1, int(window.get_expiry()) if window else 1))
        return response
    return render_template("errors/error.html", error=error), error.code or 500


def _unserved_host() -> Response:
    """Answer a Host outside TRUSTED_HOSTS with a 400 that does not echo it.

    No template either: the error page builds links, and there is no URL adapter for a refused host.
    """
    if _is_scim():
        return error_response(400, UNSERVED_HOST, failure="unserved_host")
    if _is_api():
        return problem_response(400, UNSERVED_HOST)
    return current_app.response_class(UNSERVED_HOST_PAGE, status=400, mimetype="text/html")


def _unexpected_error(error: Exception) -> ResponseReturnValue:
    """Roll back, log, and answer 500 (503 when the database is unavailable) without leaking internals.

    Flask hands HTTPExceptions to `_http_error`, the handler of the closer class, never to this one.
    """
    database.discard()  # a plain rollback raises again on a connection the server ended
    route = request.url_rule.rule if request.url_rule else "(no route)"
    if database.unavailable(error):
        log.warning("database unavailable (%s) on %s %s", type(error).__name__, request.method, route)
        return outages.unavailable_response()
    # The frames help an operator; the exception's message may quote personal data, so it stays out.
    frames = Traceback("".join(traceback.format_tb(error.__traceback__)))
    # The route's pattern, not the path: paths can carry ids and single-use tokens.
    log.error("unhandled %s on %s %s\n%s", type(error).__name__, request.method, route, frames)
    return _http_error(InternalServerError())
