"""Email verification and set-password links (docs/design.md R4): public pages, no sign-in needed.

A link is used up only by a POST from its page: mail scanners that prefetch links with GET change nothing.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import timedelta
from functools import partial
from pathlib import Path

from flask import Response, current_app, render_template, request

from admin import bp
from admin.context import current_tenant
from admin.guards import public
from admin.limits import throttle_resend
from admin.member_forms import ConfirmForm, ResendForm, SetPasswordForm
from admin.pages import render_form, render_page
from models import Tenant, User, db, utcnow
from origins import NO_ORIGIN, link_origin, mail_link
from request_scope import after_response
from services import accounts, mail, verification
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
        link=mail_link(user.tenant, ENDPOINTS[purpose], token=token),
        hours=int(hours) if hours.is_integer() else hours,
        invited_by=invited_by,
    )
    assert user.email is not None  # verification.issue refuses an account without an address
    return mail.send(user.email, SUBJECTS[purpose], body)


def _invalid_link() -> Response:
    return render_page("admin/verify/invalid.html", status=400, private=True)


@bp.route("/verify/<token>", methods=["GET", "POST"])
@public
def verify_email(token: str) -> Response:
    """Show the confirm button for a verification link, and use the link up on POST."""
    tenant = current_tenant()
    form = ConfirmForm()
    try:
        user = verification.peek(tenant, token, VERIFY)
        if form.validate_on_submit():
            user = verification.verify_email(tenant, token)
            return render_page("admin/verify/verified.html", user=user, private=True)
    except InvalidLink:
        return _invalid_link()
    return render_page("admin/verify/confirm.html", form=form, user=user, token=token, private=True)


@bp.route("/verify/resend", methods=["GET", "POST"])
@public
@throttle_resend
def verify_resend() -> Response:
    """Let someone ask for a new link; the answer is the same whether or not the address is known."""
    tenant = current_tenant()
    form = ResendForm()
    if request.method == "POST" and link_origin(tenant) is None:
        # Said before the address is even read: the answer is the same for every address.
        form.form_errors.append(f"No link can be sent: {NO_ORIGIN}. Please tell the administrator.")
        return render_page("admin/verify/resend.html", form=form, status=503)
    if not form.validate_on_submit():
        return render_form("admin/verify/resend.html", form)
    # Everything that depends on the address (lookup, new link, mail) runs after the answer has gone
    # out, so neither the answer nor how long it takes tells whether the address has an account.
    after_response(partial(_resend_link, tenant.id, form.email.data))
    return render_page("admin/verify/resend_sent.html", email=form.email.data)


def _resend_link(tenant_id: int, email: str) -> None:
    """Mail a new link if the account needs one and has not had too many (limits kept in the database)."""
    tenant = db.session.get(Tenant, tenant_id)
    user = accounts.find_by_email(tenant, email) if tenant is not None else None
    if user is None:
        return
    purpose = verification.link_purpose(user)
    if purpose is None or verification.recently_issued(user, purpose):
        return
    per_day = int(current_app.config.get("VERIFY_RESEND_PER_DAY") or 5)
    if verification.issued_since(user, utcnow() - timedelta(days=1)) >= per_day:
        return
    with suppress(DomainError):  # e.g. an address mail headers cannot carry: there is no one to tell
        send_link(user, purpose)


@bp.route("/password/<token>", methods=["GET", "POST"])
@public
def password_set(token: str) -> Response:
    """Let an invited user choose a password; doing so also verifies their email."""
    tenant = current_tenant()
    form = SetPasswordForm()
    try:
        user = verification.peek(tenant, token, SET_PASSWORD)
        if form.validate_on_submit():
            user = verification.set_password(tenant, token, accounts.hash_password(form.password.data))
            return render_page("admin/verify/password_done.html", user=user, private=True)
    except InvalidLink:
        return _invalid_link()
    return render_form("admin/verify/password.html", form, user=user, token=token, private=True)
