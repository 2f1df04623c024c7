"""Signing in and out, the first-run setup link, and the dashboard's landing page."""

from __future__ import annotations

from functools import cache, partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import bcrypt
from flask import Response, current_app, flash, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_limiter import RateLimitExceeded

import request_scope
from admin import bp, lockout
from admin.context import current_admin, current_tenant, start_session
from admin.forms import BCRYPT_MAX_BYTES, LoginForm, SetupForm
from admin.guards import public
from admin.limits import (
    ACCOUNT,
    breaches,
    note_failed_sign_in,
    throttle_account,
    throttle_address,
    throttle_email,
)
from admin.member_forms import ResendForm
from admin.pages import form_status, render_form, render_page
from extensions import client_key
from models import User
from request_scope import after_response
from services import accounts, setup
from services.errors import DomainError, NotFound
from services.validation import EMAIL_MAX_LENGTH

LOGIN = "admin/login/index.html"
SETUP = "admin/setup/index.html"
# One message for every refusal, so the form never tells which emails have accounts or which role they hold.
SIGN_IN_REFUSED = "That email and password do not match an admin account of this tenant."
# Said for any email once its account's limit is reached, so it does not tell whether the account exists.
ACCOUNT_PAUSED = (
    "Password sign-in for this account is paused after too many failed attempts (at most {limit}). "
    "If it is an admin account of this tenant, a single-use sign-in link has been mailed to its address "
    "(one per pause; it works for {minutes} minutes). Otherwise, try again later."
)


@bp.app_context_processor
def _navigation() -> dict[str, Any]:
    """Give base.html the signed-in admin and the SCIM switch, also on error pages of unknown hosts."""
    tenant = request_scope.tenant()
    if tenant is None:
        return {"nav_admin": None, "nav_scim": False}
    return {"nav_admin": current_admin(), "nav_scim": tenant.learn_scim}


@bp.get("/")
def index() -> ResponseReturnValue:
    """Land on the credentials page where SCIM is on, else on users."""
    if current_tenant().learn_scim:
        return redirect(url_for("admin.credentials_index"))
    return redirect(url_for("admin.users_index"))


@bp.route("/login", methods=["GET", "POST"])
@public
@throttle_address
@throttle_email
@throttle_account
def login() -> ResponseReturnValue:
    """Sign a tenant admin in with email and password."""
    tenant = current_tenant()
    if request.method == "GET" and current_admin() is not None:
        return redirect(_next_url())
    form = LoginForm()
    if not form.validate_on_submit():
        return _login_page(form, status=form_status(form, on_errors=400))

    user = accounts.find_by_email(tenant, form.email.data)
    password_ok = _password_matches(user, form.password.data)
    # A fresh session on every attempt: nothing from before signing in survives it.
    session.clear()
    if password_ok and user is not None:  # a password matches only an account's own
        start_session(user)
    # The same gate every request passes (role 4-5, verified, this tenant, not deprovisioned)
    # decides the sign-in, and clears the session again when it says no.
    if not password_ok or current_admin() is None:
        note_failed_sign_in()
        # Kept for the notice a paused account's owner gets; recorded after the answer, like every
        # step that depends on whether the email has an account.
        after_response(partial(lockout.note_failure, tenant.id, form.email.data, client_key(request.remote_addr)))
        form.form_errors.append(SIGN_IN_REFUSED)
        return _login_page(form, status=401)
    return redirect(_next_url())


@bp.post("/logout")
@public
def logout() -> ResponseReturnValue:
    """Sign out: end every session of the account (also copies of this cookie) and forget this one."""
    admin = current_admin()
    if admin is not None:
        accounts.end_sessions(admin)
    session.clear()
    flash("You are signed out.", "ok")
    return redirect(url_for("admin.login"))


@bp.route("/setup/<token>", methods=["GET", "POST"])
@public
def setup_account(token: str) -> ResponseReturnValue:
    """Create the tenant's first super-admin through the one-time link `flask bootstrap` printed."""
    tenant = current_tenant()
    store = _setup_store()
    if not setup.is_valid(tenant, token, store):
        return _invalid_setup_link()
    form = SetupForm()
    if form.validate_on_submit():
        try:
            user = setup.create_first_admin(tenant, token, store, form.email.data, form.password.data)
        except NotFound:
            return _invalid_setup_link()
        except DomainError as error:
            form.form_errors.append(error.message)
        else:
            start_session(user)
            flash("Your super-admin account is ready, and the setup link no longer works.", "ok")
            return redirect(url_for("admin.index"))
    return render_form(SETUP, form, invalid=False, private=True)


@bp.errorhandler(RateLimitExceeded)
def _too_many_attempts(error: RateLimitExceeded) -> Response:
    """Answer a throttled sign-in (or link request) with the form and a plain explanation, not an error page."""
    if request.endpoint == "admin.verify_resend":
        form = ResendForm()
        form.form_errors.append(
            f"Too many requests for new links from your network (at most {error.description}). "
            "Wait a while, then try again."
        )
        return render_page("admin/verify/resend.html", form=form, status=429)
    if request.endpoint != "admin.login":
        return render_page("errors/error.html", error=error, status=429)
    form = LoginForm()
    email = request.form.get("email", "")
    # Only the account's own limit refused this attempt, not a per-address one: its owner gets a
    # way in. The answer is the same for every email; the lookup and the mail come after it.
    if breaches() == {ACCOUNT} and 0 < len(email) <= EMAIL_MAX_LENGTH:
        after_response(partial(lockout.mail_sign_in_link, current_tenant().id, email))
        form.form_errors.append(ACCOUNT_PAUSED.format(limit=error.description, minutes=lockout.link_minutes()))
    else:
        form.form_errors.append(
            f"Too many failed sign-in attempts (at most {error.description}). Wait a little, then try again."
        )
    response = _login_page(form, status=429)
    if error.limit is not None:
        response.headers["Retry-After"] = str(error.limit.limit.get_expiry())
    return response


def _login_page(form: LoginForm, status: int) -> Response:
    return render_page(LOGIN, form=form, needs_setup=not setup.has_admin(current_tenant()), status=status)


def _invalid_setup_link() -> Response:
    return render_page(SETUP, form=None, invalid=True, status=404, private=True)


def _password_matches(user: User | None, password: str) -> bool:
    """Check the password, spending the same bcrypt work when there is no account to check against."""
    # bcrypt refuses passwords over 72 bytes, so no stored hash can match one; answer it like a wrong password.
    fits = len(password.encode("utf-8")) <= BCRYPT_MAX_BYTES
    if user is not None and user.password_hash and fits:
        return accounts.check_password(user, password)
    bcrypt.checkpw(password.encode("utf-8")[:BCRYPT_MAX_BYTES], _dummy_hash(current_app.config["BCRYPT_ROUNDS"]))
    return False


@cache
def _dummy_hash(rounds: int) -> bytes:
    # The same cost as real hashes, so a missing account takes as long to refuse as a wrong password.
    return bcrypt.hashpw(b"no account here", bcrypt.gensalt(rounds))


def _next_url() -> str:
    """Return the page to go to after signing in: a same-site path from ?next=, else the landing page."""
    target = request.args.get("next") or ""
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and "\\" not in target and not parts.netloc:
        return target
    return url_for("admin.index")


def _setup_store() -> Path:
    return setup.token_file(current_app.config.get("SETUP_TOKEN_FILE"), current_app.instance_path)
