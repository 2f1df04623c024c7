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


# What each kind of response gets, unless it set the header itself (a page may choose its own Referrer-Policy).
_SCIM_HEADERS = (
    # Never guess a type: a SCIM body that quotes client text must not become HTML or script.
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", API_CSP),
)
_PAGE_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", DASHBOARD_CSP),
    ("X-Frame-Options", "DENY"),  # frame-ancestors for browsers that predate it
    # Our own pages still get the full Referer (Flask-WTF checks it on HTTPS posts); other sites get none.
    ("Referrer-Policy", "same-origin"),
)
_HTTPS_HEADERS = (("Strict-Transport-Security", HSTS),)


def _add_headers(response: Response) -> Response:
    wanted: tuple[tuple[str, str], ...] = _SCIM_HEADERS if is_scim_path(request.path) else _PAGE_HEADERS
    if served_over_https():
        wanted += _HTTPS_HEADERS
    headers = response.headers
    # The names present, read in one pass: each `setdefault` on werkzeug's Headers scans them and raises a
    # KeyError inside when the name is absent, which made these headers 4 % of a SCIM GET's CPU.
    present = {name.lower() for name, _ in headers}
    for name, value in wanted:
        if name.lower() not in present:
            headers.add(name, value)
    return response
