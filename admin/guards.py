"""The sign-in guard: every dashboard view needs a signed-in admin of the tenant, unless it is marked public.

It is the admin blueprint's own before_request, so it sees dashboard views only: SCIM and the API never
reach it. Views opt out with @public (signing in, links from mails) and declare the SCIM feature with
@scim_feature; the guard reads both marks, so a view protected by it can call require_admin().
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from flask import abort, current_app, redirect, request, url_for
from flask.typing import ResponseReturnValue
from htmx_flask import request as htmx_request

from admin import bp
from admin.context import current_admin, current_tenant

# The marks @public and @scim_feature set on a view function.
_PUBLIC, _SCIM_FEATURE = "public", "scim_feature"


View = TypeVar("View", bound=Callable[..., ResponseReturnValue])


def public(view: View) -> View:
    """Mark a view anyone may reach: signing in, signing out, and the pages behind links in mails."""
    setattr(view, _PUBLIC, True)  # a mark of our own on the function: the guard reads it with getattr
    return view


def scim_feature(view: View) -> View:
    """Mark a view absent (404) where the tenant's SCIM feature is off: the whole screen is absent (R10)."""
    setattr(view, _SCIM_FEATURE, True)  # as above
    return view


@bp.before_request
def _guard() -> ResponseReturnValue | None:
    """Answer 404 for a SCIM screen the tenant lacks, then send anonymous visitors to the sign-in page.

    In that order: a tenant without SCIM has no such screen, whoever asks.
    """
    rule = request.url_rule
    if request.method == "OPTIONS" and getattr(rule, "provide_automatic_options", False):
        return None  # Flask answers it with the allowed methods; no view runs
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, _SCIM_FEATURE, False) and not current_tenant().learn_scim:
        abort(404)
    if getattr(view, _PUBLIC, False) or current_admin() is not None:
        return None
    if htmx_request.htmx:
        # A polled or swapped fragment is no page to come back to: return to the page it sits on.
        response = current_app.response_class(status=204)
        response.headers["HX-Redirect"] = url_for("admin.login", next=_page_of_fragment())
        return response
    return redirect(url_for("admin.login", next=request.full_path if request.method == "GET" else None))


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
