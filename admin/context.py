"""Who is signed in, for which tenant, and work that runs after the response (pages: admin/pages.py)."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from flask import (
    abort,
    after_this_request,
    copy_current_request_context,
    current_app,
    redirect,
    request,
    session,
    url_for,
)
from htmx_flask import request as htmx_request

import logsafe
from logsafe import Traceback
from models import Role, Tenant, User, db
from services import tenants

log = logsafe.logger(__name__)


def current_tenant() -> Tenant:
    """Return the tenant the Host names (docs/design.md §8); 404 when it names none."""
    # Cached on the request, not on `g`: an app context can outlive one request (as in tests).
    cached = getattr(request, "_admin_tenant", None)
    if cached is None:
        cached = tenants.resolve_host(request.host, current_app.config.get("TENANT_BASE_DOMAIN"))
        if cached is None:
            abort(404)
        request._admin_tenant = cached
    return cached


def current_admin() -> User | None:
    """Return the signed-in admin of this tenant, or None.

    Re-checked on every request: a demoted, unverified or other-tenant account loses access at once,
    and so does a session that was ended (sign-out, new password) or is older than ADMIN_SESSION_HOURS.
    """
    if not hasattr(request, "_admin_user"):
        user = None
        user_id = session.get("user_id")
        if user_id is not None:
            user = db.session.get(User, user_id)
            tenant = current_tenant()
            if (
                user is None
                or user.tenant_id != tenant.id
                or user.role < Role.ADMIN
                or not user.email_verified
                or user.deprovisioned_at is not None
                or not _session_is_current(user)
            ):
                session.clear()
                user = None
        request._admin_user = user
    return request._admin_user


# Tolerated when app hosts' clocks disagree about a session signed a moment ago.
CLOCK_SKEW_SECONDS = 60


def session_values(user: User) -> dict:
    """Return what a dashboard session holds: who, which of their session epochs, and since when (UTC)."""
    return {"user_id": user.id, "epoch": user.session_epoch, "issued_at": int(time.time())}


def start_session(user: User) -> None:
    """Sign `user` in with a fresh session: nothing from before signing in survives it."""
    session.clear()
    session.update(session_values(user))
    vars(request).pop("_admin_user", None)  # decided again on the next current_admin()


def _session_is_current(user: User) -> bool:
    """Tell whether the session still counts: its epoch is the account's, and it is young enough."""
    issued_at = session.get("issued_at")
    if session.get("epoch") != user.session_epoch or not isinstance(issued_at, int | float):
        return False
    age = time.time() - issued_at
    max_age = float(current_app.config.get("ADMIN_SESSION_HOURS") or 12) * 3600
    return -CLOCK_SKEW_SECONDS <= age < max_age


def login_required(view):
    """Send anonymous visitors to the sign-in page (htmx requests get a client-side redirect)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if current_admin() is None:
            if htmx_request.htmx:
                # A polled or swapped fragment is no page to come back to: return to the page it sits on.
                response = current_app.response_class(status=204)
                response.headers["HX-Redirect"] = url_for("admin.login", next=_page_of_fragment())
                return response
            return redirect(url_for("admin.login", next=request.full_path if request.method == "GET" else None))
        return view(*args, **kwargs)

    return wrapped


def _page_of_fragment() -> str | None:
    """Return the path and query of the page an htmx request came from, when it is on this site; else None.

    htmx names it in HX-Current-URL; the Referer is the fallback. Another host's page is never a target.
    """
    for candidate in (request.headers.get("HX-Current-URL"), request.referrer):
        if not candidate:
            continue
        parts = urlsplit(candidate)
        if parts.netloc != request.host or parts.scheme not in ("http", "https"):
            continue
        path = parts.path or "/"
        if not path.startswith("/") or path.startswith("//") or "\\" in path:
            continue
        return path + (f"?{parts.query}" if parts.query else "")
    return None


def after_response(work: Callable[[], None]) -> None:
    """Run `work` once the response has been sent, in a copy of this request's context.

    For work whose duration must not show in the response time (such as whether a mail went out).
    It runs with a database session of its own; a failure is logged by kind and frames, never raised.
    """

    def guarded() -> None:
        # The request's cached tenant and admin belong to its finished database session.
        vars(request).pop("_admin_tenant", None)
        vars(request).pop("_admin_user", None)
        try:
            work()
        except Exception as error:  # noqa: BLE001 - the response is gone; there is no one left to tell
            db.session.rollback()
            frames = Traceback("".join(traceback.format_tb(error.__traceback__)))
            log.error("after-response work failed: %s\n%s", type(error).__name__, frames)

    run = copy_current_request_context(guarded)

    @after_this_request
    def _schedule(response):
        response.call_on_close(run)
        return response
