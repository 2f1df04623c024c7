"""What one request resolves once and keeps on `flask.g` (above all, the tenant its Host names), and the work
it leaves for after its response.

SCIM, the API and the dashboard all take the request's tenant from here (docs/design.md §8 for the Host
rules, services.tenants for the lookup), so it is looked up at most once per request, however many views,
guards and templates ask.

Flask pushes a fresh app context, and with it an empty `g`, for every request, unless an app context is
already pushed (as in tests): the request then shares that one, and so does the work it leaves for after its
response. So `g` is emptied first thing in every request and before that work: nothing one request resolved
reaches the next, nor outlives the database session it was read in.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable

from flask import Flask, Response, after_this_request, copy_current_request_context, current_app, g, request

import logsafe
from logsafe import Traceback
from models import Tenant, db
from services import tenants

log = logsafe.logger(__name__)


def init_app(app: Flask) -> None:
    """Start every request with an empty `g`; call it before anything else registers a request hook."""
    app.before_request(forget)


def forget() -> None:
    """Drop everything kept on `g`, so the next question is answered afresh; all but Flask-WTF's CSRF token.

    Flask-WTF keeps the signed token on `g` for as long as the app context lives, and signs it again (with a
    new timestamp) only when it is gone: it stays as Flask-WTF leaves it, so a page is the same from one
    request to the next in a shared app context, as before.
    """
    token = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    for name in list(g):
        if name != token:
            g.pop(name)


def host_slug() -> str | None:
    """Return the slug of the tenant the request's Host names, or None when it names none (no query)."""
    return tenants.host_slug(request.host, current_app.config.get("TENANT_BASE_DOMAIN"))


def tenant() -> Tenant | None:
    """Return the tenant the request's Host names, or None; looked up once per request."""
    if "tenant" not in g:
        g.tenant = tenants.resolve_host(request.host, current_app.config.get("TENANT_BASE_DOMAIN"))
    found: Tenant | None = g.tenant
    return found


def after_response(work: Callable[[], None]) -> None:
    """Run `work` once the response has been sent, in a copy of this request's context.

    For work whose duration must not show in the response time (such as whether a mail went out).
    It runs with a database session of its own; a failure is logged by kind and frames, never raised.
    """

    def guarded() -> None:
        forget()  # what the request kept on `g` (its tenant, its admin) belongs to its finished database session
        try:
            work()
        except Exception as error:  # noqa: BLE001 - the response is gone; there is no one left to tell
            db.session.rollback()
            frames = Traceback("".join(traceback.format_tb(error.__traceback__)))
            log.error("after-response work failed: %s\n%s", type(error).__name__, frames)

    run = copy_current_request_context(guarded)

    @after_this_request
    def _schedule(response: Response) -> Response:
        response.call_on_close(run)
        return response
