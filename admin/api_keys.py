"""API keys at /admin/learn/api-keys: issue a key to the public request-log API, see when it was used, revoke it."""

from __future__ import annotations

from flask import abort, url_for

from admin import bp
from admin.context import current_admin, current_tenant
from admin.credentials import scim_view
from admin.log_forms import IssueApiKeyForm
from admin.pages import form_status, redirect_after_post, render_page, sentence, shown_once
from services import api_keys
from services.errors import InvalidInput, NotFound

INDEX = "admin/api_keys/index.html"


@bp.get("/learn/api-keys")
@scim_view
def api_keys_index():
    """List the tenant's API keys and offer to issue one."""
    return _index_page(IssueApiKeyForm())


@bp.post("/learn/api-keys")
@scim_view
def api_keys_issue():
    """Issue a key and show it this once."""
    form = IssueApiKeyForm()
    if form.validate_on_submit():
        try:
            key, token = api_keys.issue(current_tenant(), form.name.data, form.expires.data, created_by=current_admin())
        except InvalidInput as error:
            form.form_errors.append(sentence(error.message))
        else:
            page = _index_page(IssueApiKeyForm(formdata=None), status=201, new_key=key, token=token)
            return shown_once(page, url_for("admin.api_keys_index"))
    return _index_page(form)


@bp.post("/learn/api-keys/<id:key_id>/revoke")
@scim_view
def api_keys_revoke(key_id: int):
    """Revoke a key for good: its next request answers 401."""
    try:
        key = api_keys.get(current_tenant(), key_id)
    except NotFound:
        abort(404)
    api_keys.revoke(key)
    message = f"API key “{key.name}” revoked; its next request answers 401."
    return redirect_after_post(url_for("admin.api_keys_index"), message=message)


def _index_page(form: IssueApiKeyForm, status: int | None = None, **extra):
    """Render the page with the tenant's keys and `form`; its status follows the form unless given."""
    keys = api_keys.for_tenant(current_tenant())
    context = {"keys": keys, "scopes": api_keys.SCOPES, "new_key": None, "token": None, **extra}
    return render_page(INDEX, form=form, status=status or form_status(form), **context)
