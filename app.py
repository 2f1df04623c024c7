"""Application factory: config, extensions, blueprints, CLI and app-wide error handlers."""

from __future__ import annotations

import traceback
from importlib.resources import files
from pathlib import Path

from flask import Blueprint, Flask, current_app, redirect, render_template, request, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx
from sqlalchemy import event
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.middleware.proxy_fix import ProxyFix

import config
from models import db

csrf = CSRFProtect()
migrate = Migrate()
htmx = Htmx()
# One limiter for both interfaces (failed sign-ins, SCIM requests per credential); its storage is
# RATELIMIT_STORAGE_URI: memory:// counts per process, redis:// shares counts across workers and hosts.
limiter = Limiter(key_func=get_remote_address)

# htmx is served from the PyPI package that ships it, from our own origin (no CDN, no copied file).
vendor = Blueprint(
    "vendor",
    __name__,
    static_folder=str(files("js_lib_htmx") / "static" / "htmx"),
    static_url_path="/static/vendor",
)


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure the app."""
    app = Flask(__name__, instance_relative_config=True, instance_path=config.instance_path(test_config))
    config.load(app, test_config)
    app.json.sort_keys = False  # keep "schemas" and "id" first, as SCIM examples read
    hops = int(app.config.get("PROXY_HOPS") or 0)
    if hops:
        # Behind TLS-terminating proxies: trust their X-Forwarded-* so links say https, the right
        # host, and the request log keeps the client's address rather than the proxy's.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(_root() / "migrations"))
    csrf.init_app(app)
    htmx.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)

    from admin import bp as admin_bp
    from admin.limits import init_app as init_sign_in_protection
    from api import bp as api_bp
    from api import init_app as init_api
    from cli import register as register_cli
    from scim import bp as scim_bp
    from scim import init_app as init_scim

    init_scim(app)
    init_api(app)
    # After the SCIM and API hooks: a throttled request is authenticated first, so the log names its credential
    # and a tenant without SCIM answers 404 rather than 429.
    limiter.init_app(app)
    init_sign_in_protection(app)  # session cookie Secure flag
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
    def home():
        return redirect(url_for("admin.index"))

    return app


def _root() -> Path:
    return Path(__file__).resolve().parent


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL and a busy timeout let several workers share one SQLite file; enforce foreign keys."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _is_scim() -> bool:
    from scim import is_scim_path

    return is_scim_path(request.path)


def _is_api() -> bool:
    from api import is_api_path

    return is_api_path(request.path)


def _http_error(error: HTTPException):
    """Answer Flask's own errors in the protocol of the path: SCIM JSON, problem details, or an HTML page."""
    if _is_api():
        from api.problems import from_http_error

        return from_http_error(error)
    if _is_scim():
        from scim.errors import error_response

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


def _unexpected_error(error: Exception):
    """Roll back, log, and answer 500 without leaking internals."""
    if isinstance(error, HTTPException):
        return _http_error(error)
    db.session.rollback()
    # The frames help an operator; the exception's message may quote personal data, so it stays out.
    frames = "".join(traceback.format_tb(error.__traceback__))
    # The route's pattern, not the path: paths can carry ids and single-use tokens.
    route = request.url_rule.rule if request.url_rule else "(no route)"
    current_app.logger.error("unhandled %s on %s %s\n%s", type(error).__name__, request.method, route, frames)
    return _http_error(InternalServerError())
