"""The public API at /api/v1: the SCIM request log for scripts and SIEMs, read with API keys.

A third interface over the same services as scim/ and admin/, and imports neither.
"""

from __future__ import annotations

import hashlib

from flask import Blueprint, Flask, current_app, request

from api import problems
from api.auth import PUBLIC_ENDPOINTS, authenticate, bearer_token
from extensions import limiter

PREFIX = "/api/v1"

bp = Blueprint("api", __name__, url_prefix=PREFIX)


def is_api_path(path: str) -> bool:
    """Tell whether a request path belongs to the API."""
    return path == PREFIX or path.startswith(PREFIX + "/")


def init_app(app: Flask) -> None:
    """Install the app-wide API hook and error handler, the views, and the per-key rate limit.

    The hook is app-level, not blueprint-level, so paths under /api/v1 that match no route are resolved
    to a tenant and answered as problem details too.
    """
    app.before_request(_before_api_request)
    app.register_error_handler(problems.ApiProblem, problems.render)
    limiter.shared_limit(_rate_limit, scope="api", key_func=_key, exempt_when=_unlimited)(bp)


def _before_api_request() -> None:
    if is_api_path(request.path):
        authenticate()


def _rate_limit() -> str:
    return current_app.config["API_RATE_LIMIT"] or "1 per second"  # unused when empty: see _unlimited


def _unlimited() -> bool:
    return (
        not current_app.config.get("RATELIMIT_ENABLED", True)
        or not current_app.config["API_RATE_LIMIT"]
        or request.endpoint in PUBLIC_ENDPOINTS
    )


def _key() -> str:
    """Key the limit by the presented key (hashed): one runaway script cannot starve another."""
    return "api:" + hashlib.sha256(bearer_token().encode("utf-8", "replace")).hexdigest()[:16]


# Last: the view modules register their routes on `bp`, defined above.
from api import openapi, views  # noqa: E402, F401
