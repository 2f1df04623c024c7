"""A way in for the owner of an admin account whose password sign-in the per-account limit paused.

Twenty wrong passwords from anywhere pause password sign-in for the account, the right one included,
so guessing stays bounded. The owner is then mailed, once per pause, what happened and a single-use
sign-in link (a POST from its page uses it up: mail scanners that prefetch links change nothing).
"""

from __future__ import annotations

from contextlib import suppress
from datetime import timedelta

from flask import current_app, flash, redirect, render_template, request, url_for
from limits import RateLimitItemPerSecond

from admin import bp
from admin.context import current_admin, current_tenant, start_session
from admin.limits import account_window, note_failed_sign_in, throttle_link
from admin.member_forms import ConfirmForm
from admin.pages import render_form, render_page
from admin.verification import link_origin, mail_link
from app import limiter
from models import Tenant, User, db, utcnow
from services import accounts, lockout, mail, verification
from services.errors import DomainError
from services.verification import SIGN_IN, InvalidLink

SUBJECT = "Failed sign-ins on your mobieusLearn account"
CONFIRM = "admin/lockout/confirm.html"
INVALID = "admin/lockout/invalid.html"
UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def link_minutes() -> int:
    """Return how long a mailed sign-in link works, in minutes."""
    return int(current_app.config.get("SIGN_IN_LINK_MINUTES") or 15)


def period_text(period: timedelta, *, article: bool = False) -> str:
    """Describe a limit's period in words: "hour" ("an hour" with `article`), "2 hours", "30 minutes"."""
    seconds = max(int(period.total_seconds()), 1)
    unit, size = next((unit, size) for unit, size in UNITS if seconds % size == 0)
    count = seconds // size
    if count > 1:
        return f"{count} {unit}s"
    return f"{'an' if unit == 'hour' else 'a'} {unit}" if article else unit


def note_failure(tenant_id: int, email: str, client: str) -> None:
    """Record a failed sign-in on the account behind `email`, if it is one that can sign in.

    Runs after the answer has gone out: whether the email has an account must not show in its timing.
    """
    user = _account(tenant_id, email)
    if lockout.can_sign_in(user):
        lockout.record_failure(user, client, keep=account_window())


def mail_sign_in_link(tenant_id: int, email: str) -> None:
    """Mail the paused account's owner what happened and a sign-in link, at most once per pause.

    Runs after the answer has gone out, for the same reason as note_failure.
    """
    user = _account(tenant_id, email)
    if not lockout.can_sign_in(user):
        return
    window = account_window()
    if verification.recently_issued(user, SIGN_IN, within=window):
        return
    # The database check above spans restarts; this one is atomic, so a burst of refused attempts
    # arriving together still mails once (across workers too, when the limiter's storage is shared).
    once = RateLimitItemPerSecond(1, max(int(window.total_seconds()), 1))
    if not limiter.limiter.hit(once, "sign-in-link-mail", str(user.id)):
        return
    if link_origin(user.tenant) is None:
        return  # no configured origin to link to: issue no token that cannot be sent (the log says why)
    minutes = link_minutes()
    token = verification.issue(user, SIGN_IN, minutes / 60)
    body = render_template(
        "mail/sign_in.txt",
        user=user,
        tenant=user.tenant,
        attempts=lockout.attempts_since(user, utcnow() - window),
        period=period_text(window),
        pause=period_text(window, article=True),
        link=mail_link(user.tenant, "admin.sign_in_link", token=token),
        minutes=minutes,
    )
    with suppress(DomainError):  # e.g. an address mail headers cannot carry: there is no one to tell
        mail.send(user.email, SUBJECT, body)


def _account(tenant_id: int, email: str) -> User | None:
    tenant = db.session.get(Tenant, tenant_id)
    return accounts.find_by_email(tenant, email) if tenant is not None else None


@bp.route("/sign-in/<token>", methods=["GET", "POST"])
@throttle_link
def sign_in_link(token: str):
    """Show the sign-in button of a mailed link; on POST use the link up and start a fresh session."""
    tenant = current_tenant()
    form = ConfirmForm()
    try:
        user = verification.peek(tenant, token, SIGN_IN)
        if form.validate_on_submit():
            user = verification.sign_in(tenant, token)
            start_session(user)  # a fresh session: nothing from before survives it
            if current_admin() is None:  # the gate every dashboard request passes
                raise InvalidLink("invalid link")
            flash(_what_happened(user), "error")
            return redirect(url_for("admin.index"))
    except InvalidLink:
        if request.method == "POST":
            note_failed_sign_in()
        return render_page(INVALID, minutes=link_minutes(), status=400, private=True)
    # A POST without a valid CSRF token: 400, as on the sign-in form.
    return render_form(CONFIRM, form, on_errors=400, user=user, token=token, private=True)


def _what_happened(user: User) -> str:
    """Tell the admin who came in by link why password sign-in was paused."""
    window = account_window()
    attempts = lockout.attempts_since(user, utcnow() - window)
    tries = f"{attempts.count} failed sign-in attempt{'' if attempts.count == 1 else 's'}"
    sources = len(attempts.by_client)
    where = f"{sources} network address{'' if sources == 1 else 'es'}"
    return (
        f"You signed in with the link we mailed you. Your account had {tries} from {where} in the last "
        f"{period_text(window)}, so password sign-in for it is paused for up to "
        f"{period_text(window, article=True)}. If they were not yours, someone may be guessing your "
        "password: make sure it is long and used nowhere else."
    )
