"""Sign-in protections: failed-login throttling (Flask-Limiter) and the session cookie's Secure flag."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta

from flask import Flask, current_app, g, has_request_context, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from flask.wrappers import Request, Response
from flask_limiter import RequestLimit, RouteLimit
from limits import parse_many

from extensions import client_key, limiter
from services.identifiers import fold


def email_key(email: str | None) -> str:
    """Return the throttle key of an email: a short hash, so the address never reaches the limiter's log.

    Folded as accounts are looked up (services.identifiers.fold), so no spelling of one address gets a fresh count.
    """
    normalised = fold((email or "").strip())
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:16]


def _client() -> str:
    return client_key(request.remote_addr)


def _email() -> str:
    return email_key(request.form.get("email"))


def _client_and_email() -> str:
    """Key an attempt by client and the email it tries: one guesser cannot lock everyone else out."""
    return f"{_client()}|{_email()}"


def _login_limit() -> str:
    limit: str = current_app.config.get("LOGIN_LIMIT", "5 per minute")
    return limit


def _address_limit() -> str:
    # A looser cap per address alone stops one client trying a few passwords on many emails.
    limit: str = current_app.config.get("LOGIN_ADDRESS_LIMIT", "30 per minute")
    return limit


def _account_limit() -> str:
    # A cap per account, whatever the address: guessing one password from many addresses stops too.
    limit: str = current_app.config.get("LOGIN_ACCOUNT_LIMIT", "20 per hour")
    return limit


def _resend_limit() -> str:
    limit: str = current_app.config.get("VERIFY_RESEND_LIMIT", "10 per hour")
    return limit


def _sign_in_failed(_response: Response) -> bool:
    """Count only failed attempts, so an admin who signs in often is never throttled."""
    return bool(g.get("sign_in_failed"))


def account_window() -> timedelta:
    """Return how long the per-account limit counts a failed sign-in (the longest of its periods)."""
    return timedelta(seconds=max(item.get_expiry() for item in parse_many(_account_limit())))


# The request attribute holding the sign-in limits a request breached.
_BREACHES = "_sign_in_breaches"
# The scopes below, as recorded when a request breaches them.
ADDRESS_AND_EMAIL, ADDRESS, ACCOUNT = "sign-in", "sign-in-address", "sign-in-account"


def _noting_breach(scope: str) -> Callable[[RequestLimit], None]:
    """Return a breach callback that records `scope` on the request (RATELIMIT_FAIL_ON_FIRST_BREACH is off)."""

    def note(_limit: RequestLimit) -> None:
        # On the request, not on `g`: an app context can outlive one request (as in tests).
        setattr(request, _BREACHES, breaches() | {scope})  # an attribute of our own: Request declares none

    return note


def breaches() -> frozenset[str]:
    """Return the sign-in limits this request breached (every one is checked, not only the first)."""
    noted: frozenset[str] = getattr(request, _BREACHES, frozenset())
    return noted


def _limits_off() -> bool:
    # The limiter is one object for the process; each app (tests build several) decides for itself.
    return not current_app.config.get("RATELIMIT_ENABLED", True)


def _sign_in_throttle(
    limit: Callable[[], str], key: Callable[[], str], scope: str, *, noted: bool = True
) -> RouteLimit:
    """Throttle failed sign-ins (POSTs only) under `scope`; `noted` records a breach for the answer (breaches())."""
    return limiter.limit(
        limit,
        key_func=key,
        methods=["POST"],
        deduct_when=_sign_in_failed,
        exempt_when=_limits_off,
        scope=scope,
        on_breach=_noting_breach(scope) if noted else None,
    )


throttle_email = _sign_in_throttle(_login_limit, _client_and_email, ADDRESS_AND_EMAIL)
throttle_address = _sign_in_throttle(_address_limit, _client, ADDRESS)
throttle_account = _sign_in_throttle(_account_limit, _email, ACCOUNT)
# A mailed sign-in link is still a sign-in: failed uses count against the per-address limit.
throttle_link = _sign_in_throttle(_address_limit, _client, "sign-in-link", noted=False)
# Every request for a new link counts, known address or not, so the answer never depends on it.
throttle_resend = limiter.limit(
    _resend_limit, key_func=_client, methods=["POST"], exempt_when=_limits_off, scope="verify-resend"
)


def note_failed_sign_in() -> None:
    """Mark this request as a failed sign-in, to be counted by the throttle."""
    g.sign_in_failed = True


class HardenedSessionInterface(SecureCookieSessionInterface):
    """Signed cookie sessions whose cookie is Secure whenever the request came over HTTPS.

    SESSION_COOKIE_SECURE=True forces the flag, for TLS ended at a proxy the app cannot see.
    HttpOnly and SameSite=Lax come from the config defaults.
    """

    def __init__(self, sessionless: Callable[[str], bool] = lambda _path: False) -> None:
        super().__init__()
        self.sessionless = sessionless

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """Leave the cookie unread on sessionless paths (SCIM's: a request proves itself with its bearer token).

        Verifying and decoding a signed cookie that nothing reads cost every SCIM request; the empty session
        given instead is never modified there, so no cookie is set or removed in the answer either.
        """
        if self.sessionless(request.path):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Flask's own, which for a session nothing touched (every SCIM request's) sets no cookie and no Vary only
        after working out the cookie's name, domain, path and flags; here that costs nothing."""
        if session or session.modified or session.accessed:
            super().save_session(app, session, response)

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or (has_request_context() and request.is_secure)

    def get_cookie_name(self, app: Flask) -> str:
        """Over HTTPS, name the cookie `__Host-session`: browsers then keep it to this exact host.

        Tenant subdomains are same-site to each other; with the prefix, a page on acme.example.com can
        neither set nor shadow the session cookie of beta.example.com (a cookie with a Domain is refused).
        """
        name = super().get_cookie_name(app)
        if self.get_cookie_secure(app) and self.get_cookie_domain(app) is None and self.get_cookie_path(app) == "/":
            return "__Host-" + name
        return name


def init_app(app: Flask, sessionless: Callable[[str], bool]) -> None:
    """Install the hardened session cookie, left unread on the paths `sessionless` names (the limiter is bound in
    create_app)."""
    app.session_interface = HardenedSessionInterface(sessionless)
