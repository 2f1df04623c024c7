"""The SCIM 2.0 interface at /scim/v2 (RFC 7643/7644): one blueprint, one module per resource."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import Blueprint, Flask, Response, g, request
from limits import parse_many

from extensions import limiter
from scim import errors
from scim.audit import record_request
from scim.auth import authenticate
from scim.throttle import check_rate_limit
from services import database

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

PREFIX = "/scim/v2"

bp = Blueprint("scim", __name__, url_prefix=PREFIX)

# Resource names are matched case-insensitively (IdPs and hand-written clients vary).
_RESOURCES = {
    name.lower(): name for name in ("Users", "Groups", "Schemas", "ResourceTypes", "ServiceProviderConfig", ".search")
}
_SEGMENT = re.compile(r"^(/scim/v2)(/+)([^/]+)", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Methods no SCIM view writes for: their statements need no transaction around them.
_READ_ONLY = frozenset({"GET", "HEAD"})


def is_scim_path(path: str) -> bool:
    """Tell whether a request path belongs to the SCIM surface."""
    return path == PREFIX or path.startswith(PREFIX + "/")


class _NormalizeScimPath:
    """WSGI middleware: `/scim/v2//users/` reaches the same view as `/scim/v2/Users` without a redirect.

    Flask would answer `//Users` with a 308 and `/users` with a 404; IdPs append paths to the
    base URL the admin typed, with or without a trailing slash.
    """

    def __init__(self, wsgi_app: WSGIApplication) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path[: len(PREFIX)].lower() == PREFIX:
            path = PREFIX + re.sub(r"/{2,}", "/", path[len(PREFIX) :])
            match = _SEGMENT.match(path)
            if match:
                canonical = _RESOURCES.get(match.group(3).lower(), match.group(3))
                path = PREFIX + "/" + canonical + path[match.end() :]
            environ["PATH_INFO"] = path
        return self.wsgi_app(environ, start_response)


def init_app(app: Flask) -> None:
    """Install the path normaliser, the app-wide SCIM hooks, and the views.

    The hooks are app-level, not blueprint-level, so that requests for SCIM paths that match
    no route (404, 405) are authenticated, answered in SCIM JSON and recorded too (R11).
    """
    failure_limit = app.config.get("SCIM_AUTH_FAILURE_LIMIT")
    if failure_limit:
        parse_many(failure_limit)  # a typo stops the start, instead of answering 500 to every failed token
    app.wsgi_app = _NormalizeScimPath(app.wsgi_app)  # type: ignore[method-assign]  # Flask's documented middleware hook
    app.before_request(_before_scim_request)
    app.after_request(_after_scim_request)
    app.register_error_handler(errors.ScimError, errors.render)

    # Per credential, not per IP: Okta's and Entra's egress addresses are shared by many tenants. Counted by
    # scim.throttle in the hook below; Flask-Limiter's own per-request check skips SCIM paths.
    limiter.skip_paths(is_scim_path)


def _before_scim_request() -> None:
    if not is_scim_path(request.path):
        return
    g.scim_started = time.perf_counter()
    database.read_without_transaction(request.method in _READ_ONLY)
    authenticate()
    if _CONTROL.search(request.path):
        # No id holds a control character, and PostgreSQL cannot even compare one with NUL: answer exactly as
        # for an id that never existed (R3), without asking the database.
        raise errors.NotFound(errors.RESOURCE_NOT_FOUND, failure="not_found")
    # Authenticated first, so the log names the credential a 429 refused, and a tenant without SCIM answers 404.
    check_rate_limit()


def _after_scim_request(response: Response) -> Response:
    if is_scim_path(request.path):
        if request.method == "OPTIONS" and response.status_code == 200 and _automatic_options():
            _answer_options(response)
        record_request(response)
        database.read_without_transaction(False)  # for whatever else the session serves before it is closed
    return response


def _automatic_options() -> bool:
    """Tell whether Flask answered this OPTIONS itself (no view of ours handles OPTIONS)."""
    rule = request.url_rule
    return rule is not None and bool(getattr(rule, "provide_automatic_options", False))


def _answer_options(response: Response) -> None:
    """Turn Flask's empty 200 text/html answer to OPTIONS into a 204 that only says Allow.

    A SCIM path never answers HTML; what OPTIONS asks (the methods allowed) is all in Allow. Changed in
    place, so the headers other hooks set stay.
    """
    response.status_code = 204
    response.set_data(b"")
    response.headers.remove("Content-Type")
    response.headers.remove("Content-Length")


# Last: the view modules register their routes on `bp`, defined above.
from scim import discovery, groups, search, users  # noqa: E402, F401
