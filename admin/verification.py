"""Email verification and set-password links (R4): public pages, no sign-in needed.

A link is used up only by a POST from its page: mail scanners that prefetch links with GET change nothing.
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path

from flask import current_app, render_template, url_for

from admin import bp
from admin.context import current_tenant
from admin.member_forms import ConfirmForm, ResendForm, SetPasswordForm
from models import User
from services import mail, members, verification
from services.errors import DomainError
from services.verification import SET_PASSWORD, VERIFY, InvalidLink

SUBJECTS = {
    VERIFY: "Confirm your email address",
    SET_PASSWORD: "Choose your mobieusLearn password",
}
TEMPLATES = {VERIFY: "mail/verify.txt", SET_PASSWORD: "mail/set_password.txt"}
ENDPOINTS = {VERIFY: "admin.verify_email", SET_PASSWORD: "admin.password_set"}


def send_link(user: User, purpose: str, *, invited_by: User | None = None) -> Path | None:
    """Issue a fresh link and mail it; return the outbox file when SMTP was not used."""
    hours = float(current_app.config.get("VERIFY_LINK_HOURS") or 48)
    token = verification.issue(user, purpose, hours)
    body = render_template(
        TEMPLATES[purpose],
        user=user,
        tenant=user.tenant,
        link=_external_url(ENDPOINTS[purpose], token=token),
        hours=int(hours) if hours.is_integer() else hours,
        invited_by=invited_by,
    )
    return mail.send(user.email, SUBJECTS[purpose], body)


def _external_url(endpoint: str, **values) -> str:
    """Build the absolute link for a mail.

    A link built from the request's Host could be pointed at someone else's server by a forged header,
    so PUBLIC_URL wins when set. With TENANT_BASE_DOMAIN the Host has already been checked against it.
    """
    config = current_app.config
    public = config.get("PUBLIC_URL")
    if public and not config.get("TENANT_BASE_DOMAIN"):
        return public.rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def _private(response_body, status: int = 200):
    """Answer a page whose URL holds a token: never cached, never sent to another site as a Referer."""
    response = current_app.make_response((response_body, status))
    response.headers["Cache-Control"] = "no-store"
    # same-origin, not no-referrer: Flask-WTF checks the Referer of HTTPS form posts to our own origin.
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _invalid_link():
    return _private(render_template("admin/verify/invalid.html"), 400)


@bp.route("/verify/<token>", methods=["GET", "POST"])
def verify_email(token: str):
    """Show the confirm button for a verification link, and use the link up on POST."""
    tenant = current_tenant()
    form = ConfirmForm()
    try:
        user = verification.peek(tenant, token, VERIFY)
        if form.validate_on_submit():
            user = verification.verify_email(tenant, token)
            return _private(render_template("admin/verify/verified.html", user=user))
    except InvalidLink:
        return _invalid_link()
    return _private(render_template("admin/verify/confirm.html", form=form, user=user, token=token))


@bp.route("/verify/resend", methods=["GET", "POST"])
def verify_resend():
    """Let someone ask for a new link; the answer is the same whether or not the address is known."""
    tenant = current_tenant()
    form = ResendForm()
    if not form.validate_on_submit():
        status = 422 if form.errors else 200  # a form with errors, as everywhere in the dashboard
        return render_template("admin/verify/resend.html", form=form), status
    user = members.find_by_email(tenant, form.email.data)
    purpose = verification.link_purpose(user) if user else None
    # Throttled per account in the database, so every app host sees the same limit.
    if user and purpose and not verification.recently_issued(user, purpose):
        # A refusal is answered exactly as an unknown address is.
        with suppress(DomainError):
            send_link(user, purpose)
    return render_template("admin/verify/resend_sent.html", email=form.email.data)


@bp.route("/password/<token>", methods=["GET", "POST"])
def password_set(token: str):
    """Let an invited user choose a password; doing so also verifies their email."""
    tenant = current_tenant()
    form = SetPasswordForm()
    try:
        user = verification.peek(tenant, token, SET_PASSWORD)
        if form.validate_on_submit():
            user = verification.set_password(tenant, token, members.hash_password(form.password.data))
            return _private(render_template("admin/verify/password_done.html", user=user))
    except InvalidLink:
        return _invalid_link()
    status = 422 if form.errors else 200  # a form with errors, as everywhere in the dashboard
    return _private(render_template("admin/verify/password.html", form=form, user=user, token=token), status)
