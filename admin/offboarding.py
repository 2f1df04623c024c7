"""The "Needs attention" panel of the SCIM credentials page and its actions (offboarding_notice.py mails it).

It lists people whose deactivation or deletion the IdP sent while their role hid them from SCIM (R3), so
the IdP's request answered 404 and changed nothing (services.offboarding). An admin bans them or makes them
members again right there; either closes the item.
"""

from __future__ import annotations

from typing import Any

from flask import abort, url_for
from flask.typing import ResponseReturnValue
from htmx_flask import request as htmx_request
from werkzeug.wrappers import Response as BaseResponse

from admin import bp
from admin.context import current_tenant, require_admin
from admin.guards import scim_feature
from admin.member_forms import ActionForm
from admin.pages import redirect_after_post, render_page
from models import Role
from services import accounts, offboarding, offboarding_settle
from services.errors import DomainError, NotFound

PANEL = "admin/credentials/_attention.html"


def attention_context() -> dict[str, Any]:
    """Return what the panel shows: the tenant's open items, oldest first."""
    return {"attention": offboarding.open_requests(current_tenant().id)}


@bp.post("/learn/scim-credentials/attention/<id:user_id>/ban")
@scim_feature
def attention_ban(user_id: int) -> ResponseReturnValue:
    """Ban the person, as their IdP asked (a deletion also deprovisions them, R8)."""
    return _settle(user_id, Role.BANNED, "banned")


@bp.post("/learn/scim-credentials/attention/<id:user_id>/member")
@scim_feature
def attention_member(user_id: int) -> ResponseReturnValue:
    """Demote the person to member: SCIM sees them again (R1) and the IdP's next deactivation applies."""
    return _settle(user_id, Role.MEMBER, "demoted to member; your identity provider can deactivate them now")


def _settle(user_id: int, role: int, done: str) -> BaseResponse:
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
            offboarding_settle.settle(require_admin(), user, role)
        except DomainError as exc:
            error = f"{label}: {exc.message}"
        else:
            message = f"{label}: {done}."
    if htmx_request.htmx:
        return render_page(PANEL, **attention_context(), message=message, error=error)
    return redirect_after_post(url_for("admin.credentials_index") + "#attention", message=message, error=error)
