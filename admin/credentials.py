"""SCIM credentials at /admin/learn/scim-credentials: issue, watch the first sync live, disable, revoke."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Response, current_app, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response as BaseResponse

import origins
from admin import bp, sync_status
from admin.context import current_tenant, require_admin
from admin.credential_watch import polling, tenant_credential
from admin.forms import IssueCredentialForm
from admin.guards import scim_feature
from admin.offboarding import attention_context
from admin.pages import redirect_after_post, render_form, render_page, sentence, shown_once
from admin.request_log import log_context
from models import ScimCredential, utcnow
from services import credentials, histogram, rollups
from services.errors import Conflict, DomainError, InvalidInput

INDEX = "admin/credentials/index.html"
SHOW = "admin/credentials/show.html"
# Histogram windows: query value -> (label, ...).
WINDOWS = histogram.WINDOWS
LIST_COUNTS_HOURS = 24


@bp.get("/learn/scim-credentials")
@scim_feature
def credentials_index() -> Response:
    """List the tenant's credentials with their state and traffic, and offer to issue one."""
    return _index_page(IssueCredentialForm())


@bp.post("/learn/scim-credentials")
@scim_feature
def credentials_issue() -> Response:
    """Issue a credential and show its token this once, on the new credential's live page."""
    form = IssueCredentialForm()
    if form.validate_on_submit():
        try:
            credential, token = credentials.issue(
                current_tenant(), form.name.data, form.slug.data or None, created_by=require_admin()
            )
        except Conflict:
            form.slug.errors.append("Another credential of this tenant already has this slug.")
        except InvalidInput as error:
            form.form_errors.append(error.message)
        else:
            # A reload shows the credential's page, never the token again.
            page = render_page(SHOW, **_show_context(credential, "hour"), token=token, status=201)
            return shown_once(page, url_for("admin.credentials_show", credential_id=credential.id))
    return _index_page(form)


@bp.get("/learn/scim-credentials/<id:credential_id>")
@scim_feature
def credentials_show(credential_id: int) -> Response:
    """Show one credential: setup snippet, live request log, status histogram, first-sync checklist."""
    credential = tenant_credential(credential_id)
    return render_page(SHOW, **_show_context(credential, _window()), token=None)


@bp.get("/learn/scim-credentials/<id:credential_id>/requests")
@scim_feature
def credentials_requests(credential_id: int) -> Response:
    """Render the request log widget (polled by htmx)."""
    credential = tenant_credential(credential_id)
    return render_page("admin/credentials/_requests.html", credential=credential, **_log_context(credential))


@bp.get("/learn/scim-credentials/<id:credential_id>/histogram")
@scim_feature
def credentials_histogram(credential_id: int) -> Response:
    """Render the 2xx/4xx/5xx histogram widget for ?window=hour|day|week (polled by htmx)."""
    credential = tenant_credential(credential_id)
    context = _histogram_context(credential, _window())
    return render_page("admin/credentials/_histogram.html", credential=credential, **context)


@bp.get("/learn/scim-credentials/<id:credential_id>/checklist")
@scim_feature
def credentials_checklist(credential_id: int) -> Response:
    """Render the first-sync checklist widget (polled by htmx until every step is done)."""
    credential = tenant_credential(credential_id)
    return render_page("admin/credentials/_checklist.html", credential=credential, **_checklist_context(credential))


@bp.post("/learn/scim-credentials/<id:credential_id>/disable")
@scim_feature
def credentials_disable(credential_id: int) -> ResponseReturnValue:
    """Disable a credential: its next request answers 401 until it is enabled again."""
    return _change_state(credential_id, credentials.disable, "disabled; its requests now answer 401 until enabled")


@bp.post("/learn/scim-credentials/<id:credential_id>/enable")
@scim_feature
def credentials_enable(credential_id: int) -> ResponseReturnValue:
    """Enable a disabled credential again."""
    return _change_state(credential_id, credentials.enable, "enabled; it is accepted again from the next request")


@bp.post("/learn/scim-credentials/<id:credential_id>/revoke")
@scim_feature
def credentials_revoke(credential_id: int) -> ResponseReturnValue:
    """Revoke a credential for good: its next request answers 401."""
    return _change_state(credential_id, credentials.revoke, "revoked; its next request answers 401")


def _change_state(credential_id: int, action: Callable[[ScimCredential], ScimCredential], done: str) -> BaseResponse:
    credential = tenant_credential(credential_id)
    back = url_for("admin.credentials_show", credential_id=credential.id)
    try:
        action(credential)
    except DomainError as error:
        return redirect_after_post(back, error=sentence(error.message))
    return redirect_after_post(back, message=f"“{credential.name}” {done}.")


def _window() -> str:
    window = request.args.get("window", "hour")
    return window if window in WINDOWS else "hour"


def _index_page(form: IssueCredentialForm) -> Response:
    tenant = current_tenant()
    rows = credentials.for_tenant(tenant)
    ids = [c.id for c in rows]
    used = rollups.last_used(ids)  # one index probe per credential
    # The last 24 hourly rollups, the current hour included: one grouped query over a few rows each.
    since = utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(hours=LIST_COUNTS_HOURS - 1)
    counts = rollups.counts_for(ids, since)
    return render_form(INDEX, form, credentials=rows, last_used=used, counts=counts, **attention_context())


def _scim_base_url() -> str | None:
    """Return this tenant's SCIM base URL as the IdP must reach it, from configuration (origins.py).

    None when nothing configures the public address: the page then names only the path, rather than
    echo a Host header an admin would paste into their IdP.
    """
    origin = origins.public_origin(current_app.config, current_tenant().slug)
    if origin is None:
        return None
    return origin + url_for("scim.service_provider_config").removesuffix("/ServiceProviderConfig")


def _show_context(credential: ScimCredential, window: str) -> dict[str, Any]:
    return {
        "credential": credential,
        "base_url": _scim_base_url(),
        "base_path": url_for("scim.service_provider_config").removesuffix("/ServiceProviderConfig"),
        **_log_context(credential),
        **_histogram_context(credential, window),
        **_checklist_context(credential),
    }


def _log_context(credential: ScimCredential) -> dict[str, Any]:

    return log_context(credential)


def _histogram_context(credential: ScimCredential, window: str) -> dict[str, Any]:
    bars = histogram.series(credential.id, window, utcnow())
    return {"series": bars, "counts": bars.totals, "window": window, "windows": WINDOWS, **polling(credential)}


def _checklist_context(credential: ScimCredential) -> dict[str, Any]:
    steps = sync_status.checklist(rollups.operations_seen(credential.id))
    return {"steps": steps, "complete": all(step.done for step in steps), **polling(credential)}
