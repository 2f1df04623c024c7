"""API keys at /admin/learn/api-keys: issue a key to the public request-log API, see when it was used, revoke it."""

from __future__ import annotations

from flask import abort, flash, make_response, redirect, url_for

from admin import bp
from admin.context import current_tenant, render_page, require_admin
from admin.guards import scim_feature
from admin.log_forms import IssueApiKeyForm
from services import api_keys
from services.errors import InvalidInput, NotFound

INDEX = "admin/api_keys/index.html"


@bp.get("/learn/api-keys")
@scim_feature
def api_keys_index():
    """List the tenant's API keys and offer to issue one."""
    return _index_page(IssueApiKeyForm())


@bp.post("/learn/api-keys")
@scim_feature
def api_keys_issue():
    """Issue a key and show it this once."""
    form = IssueApiKeyForm()
    if form.validate_on_submit():
        try:
            key, token = api_keys.issue(current_tenant(), form.name.data, form.expires.data, created_by=require_admin())
        except InvalidInput as error:
            form.form_errors.append(error.message[:1].upper() + error.message[1:] + ".")
        else:
            response = _index_page(IssueApiKeyForm(formdata=None), status=201, new_key=key, token=token)
            # Neither the browser cache nor a reload may bring the key back.
            response.headers["Cache-Control"] = "no-store"
            response.headers["HX-Push-Url"] = url_for("admin.api_keys_index")
            return response
    return _index_page(form, status=422)


@bp.post("/learn/api-keys/<int(max=2147483647):key_id>/revoke")
@scim_feature
def api_keys_revoke(key_id: int):
    """Revoke a key for good: its next request answers 401."""
    try:
        key = api_keys.get(current_tenant(), key_id)
    except NotFound:
        abort(404)
    api_keys.revoke(key)
    flash(f"API key “{key.name}” revoked; its next request answers 401.", "ok")
    return redirect(url_for("admin.api_keys_index"), code=303)


def _index_page(form: IssueApiKeyForm, status: int = 200, **extra):
    keys = api_keys.for_tenant(current_tenant())
    page = render_page(INDEX, form=form, keys=keys, scopes=api_keys.SCOPES, **{"new_key": None, "token": None, **extra})
    return make_response(page, status)
