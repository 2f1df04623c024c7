"""Sign-in protections: failed-login throttling (Flask-Limiter) and the session cookie's Secure flag."""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from flask.wrappers import Response
from flask_limiter import Limiter


def _client_and_email() -> str:
    """Key an attempt by client IP and the email it tries: one guesser cannot lock everyone else out."""
    email = (request.form.get("email") or "").strip().lower()[:320]
    return f"{request.remote_addr or 'unknown'}|{email}"


def _client() -> str:
    return request.remote_addr or "unknown"


# Storage comes from RATELIMIT_STORAGE_URI at init_app (memory:// by default; redis:// lets
# several hosts share one count).
limiter = Limiter(key_func=_client_and_email)


def _login_limit() -> str:
    return current_app.config.get("LOGIN_LIMIT", "5 per minute")


def _address_limit() -> str:
    # A looser cap per address alone stops one client trying a few passwords on many emails.
    return current_app.config.get("LOGIN_ADDRESS_LIMIT", "30 per minute")


def _sign_in_failed(_response: Response) -> bool:
    """Count only failed attempts, so an admin who signs in often is never throttled."""
    return bool(g.get("sign_in_failed"))


def _limits_off() -> bool:
    # The limiter is one object for the process; each app (tests build several) decides for itself.
    return not current_app.config.get("RATELIMIT_ENABLED", True)


throttle_email = limiter.limit(
    _login_limit, methods=["POST"], deduct_when=_sign_in_failed, exempt_when=_limits_off, scope="sign-in"
)
throttle_address = limiter.limit(
    _address_limit,
    key_func=_client,
    methods=["POST"],
    deduct_when=_sign_in_failed,
    exempt_when=_limits_off,
    scope="sign-in-address",
)


def note_failed_sign_in() -> None:
    """Mark this request as a failed sign-in, to be counted by the throttle."""
    g.sign_in_failed = True


class HardenedSessionInterface(SecureCookieSessionInterface):
    """Signed cookie sessions whose cookie is Secure whenever the request came over HTTPS.

    SESSION_COOKIE_SECURE=True forces the flag, for TLS ended at a proxy the app cannot see.
    HttpOnly and SameSite=Lax come from the config defaults.
    """

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or (has_request_context() and request.is_secure)


def init_app(app: Flask) -> None:
    """Bind the throttle's storage and install the hardened session cookie."""
    limiter.init_app(app)
    app.session_interface = HardenedSessionInterface()
