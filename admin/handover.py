"""The members page's "Possible duplicates" panel: SCIM twins of local accounts, and the merge."""

from __future__ import annotations

from flask import request, url_for

from admin import bp
from admin.context import current_tenant, login_required
from admin.member_forms import ActionForm
from admin.pages import redirect_after_post, sentence
from services import handover
from services.errors import DomainError


def duplicates_context() -> dict:
    """Return the pairs the panel lists (where the tenant's SCIM feature is on)."""
    tenant = current_tenant()
    return {"duplicates": handover.duplicate_pairs(tenant.id) if tenant.learn_scim else []}


@bp.post("/users/merge")
@login_required
def users_merge():
    """Merge a SCIM twin into the local account it duplicates; the local account keeps its id and history."""
    form = ActionForm()
    scim_user_id = request.form.get("scim_user", type=int)
    local_user_id = request.form.get("local_user", type=int)
    back = url_for("admin.users_index") + "#duplicates"
    if not form.validate_on_submit() or scim_user_id is None or local_user_id is None:
        return redirect_after_post(back, error="That choice is not available; reload the page and try again.")
    try:
        user = handover.merge(current_tenant(), scim_user_id, local_user_id)
    except DomainError as error:
        return redirect_after_post(back, error=sentence(error.message))
    message = f"{user.label}: merged; the identity provider now manages this account as {user.user_name}."
    return redirect_after_post(back, message=message)
