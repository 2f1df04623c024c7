"""Response headers that limit what a browser does with our pages: CSP, framing, sniffing, referrers, HTTPS."""

from __future__ import annotations

from flask import Flask, current_app, request
from flask.wrappers import Response

from scim import is_scim_path

# Everything the dashboard loads comes from its own origin (htmx included, under /static/vendor), and it
# needs no inline script, no eval and no inline style (templates/base.html configures htmx for that).
DASHBOARD_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
        "frame-ancestors 'none'",  # no other site may frame a page to trick a click (revoke, ban ...)
    )
)
# JSON is never a document to render: nothing may load from it, nothing may frame it.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# A year; not includeSubDomains: the operator's other hosts under the same name are not ours to decide.
HSTS = "max-age=31536000"


def init_app(app: Flask) -> None:
    """Add the headers to every response, error pages and static files included."""
    app.after_request(_add_headers)


def served_over_https() -> bool:
    """Tell whether the browser reached us over HTTPS: the request says so, or the operator does.

    SESSION_COOKIE_SECURE is the operator saying TLS ends at a proxy the app cannot see.
    """
    return request.is_secure or bool(current_app.config.get("SESSION_COOKIE_SECURE"))


def _add_headers(response: Response) -> Response:
    headers = response.headers
    # Never guess a type: a SCIM body that quotes client text must not become HTML or script.
    headers.setdefault("X-Content-Type-Options", "nosniff")
    if is_scim_path(request.path):
        headers.setdefault("Content-Security-Policy", API_CSP)
    else:
        headers.setdefault("Content-Security-Policy", DASHBOARD_CSP)
        headers.setdefault("X-Frame-Options", "DENY")  # frame-ancestors for browsers that predate it
        # Our own pages still get the full Referer (Flask-WTF checks it on HTTPS posts); other sites get none.
        headers.setdefault("Referrer-Policy", "same-origin")
    if served_over_https():
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response
