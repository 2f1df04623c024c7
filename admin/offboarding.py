"""The "Needs attention" panel of the SCIM credentials page, its actions, and the mail to the super-admins.

It lists people whose deactivation or deletion the IdP sent while their role hid them from SCIM (R3), so
the IdP's request answered 404 and changed nothing (services.offboarding). An admin bans them or makes them
members again right there; either closes the item.
"""

from __future__ import annotations

from contextlib import suppress

from flask import abort, render_template, url_for
from htmx_flask import request as htmx_request
from sqlalchemy import select

from admin import bp
from admin.context import current_admin, current_tenant
from admin.credentials import scim_view
from admin.member_forms import ActionForm
from admin.pages import redirect_after_post, render_page
from admin.verification import link_origin, mail_link
from models import Role, User, db
from services import accounts, mail, offboarding, offboarding_settle
from services.errors import DomainError, NotFound

PANEL = "admin/credentials/_attention.html"
SUBJECT = "Your identity provider offboarded someone mobieusLearn could not"


def attention_context() -> dict:
    """Return what the panel shows: the tenant's open items, oldest first."""
    return {"attention": offboarding.open_requests(current_tenant().id)}


@bp.post("/learn/scim-credentials/attention/<id:user_id>/ban")
@scim_view
def attention_ban(user_id: int):
    """Ban the person, as their IdP asked (a deletion also deprovisions them, R8)."""
    return _settle(user_id, Role.BANNED, "banned")


@bp.post("/learn/scim-credentials/attention/<id:user_id>/member")
@scim_view
def attention_member(user_id: int):
    """Demote the person to member: SCIM sees them again (R1) and the IdP's next deactivation applies."""
    return _settle(user_id, Role.MEMBER, "demoted to member; your identity provider can deactivate them now")


def _settle(user_id: int, role: int, done: str):
    try:
        user = accounts.get_user(current_tenant(), user_id)
    except NotFound:
        abort(404)
    label = user.label
    message = error = None
    if not ActionForm().validate_on_submit():
        error = "That choice is not available; reload the page and try again."
    else:
        try:
            offboarding_settle.settle(current_admin(), user, role)
        except DomainError as exc:
            error = f"{label}: {exc.message}"
        else:
            message = f"{label}: {done}."
    if htmx_request.htmx:
        return render_page(PANEL, **attention_context(), message=message, error=error)
    return redirect_after_post(url_for("admin.credentials_index") + "#attention", message=message, error=error)


def notify_super_admins(request_id: int) -> None:
    """Mail every verified super-admin of the tenant about a newly opened item (runs after the SCIM answer)."""
    row = offboarding.get(request_id)
    if row is None or row.resolved_at is not None:
        return
    user, tenant = row.user, row.user.tenant
    link = None
    if link_origin(tenant) is not None:  # only a configured origin, never the IdP's Host header
        link = mail_link(tenant, "admin.credentials_index", _anchor="attention")
    recipients = db.session.scalars(
        select(User).where(
            User.tenant_id == tenant.id,
            User.role == Role.SUPER_ADMIN,
            User.email_verified_at.is_not(None),
            User.deprovisioned_at.is_(None),
            User.email.is_not(None),
        )
    )
    for admin in recipients:
        context = {"admin": admin, "user": user, "tenant": tenant, "row": row, "link": link}
        body = render_template("mail/offboarding.txt", **context, role_name=user.role.label)
        with suppress(DomainError):  # an address a mail header cannot carry: the others still get theirs
            mail.send(admin.email, SUBJECT, body)
