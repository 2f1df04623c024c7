"""SCIM credentials at /admin/learn/scim-credentials: issue, watch the first sync live, disable, revoke."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps

from flask import abort, current_app, request, url_for

import origins
from admin import bp, sync_status
from admin.context import current_admin, current_tenant, login_required
from admin.forms import IssueCredentialForm
from admin.pages import redirect_after_post, render_form, render_page, sentence, shown_once
from models import ScimCredential, utcnow
from services import credentials, histogram, rollups
from services.errors import Conflict, DomainError, InvalidInput, NotFound

INDEX = "admin/credentials/index.html"
SHOW = "admin/credentials/show.html"
# Histogram windows: query value -> (label, ...).
WINDOWS = histogram.WINDOWS
LIST_COUNTS_HOURS = 24
# A credential with no request (or, never used, no creation) this recent is idle: its page polls slowly.
IDLE_AFTER = timedelta(minutes=15)
FAST_POLL = {"histogram": "2s", "requests": "2s", "checklist": "3s"}
SLOW_POLL_SECONDS = 30
# Right after a revoke or disable the admin watches the IdP's next calls being refused: full rate this long.
STATE_CHANGE_GRACE = timedelta(minutes=2)


def scim_feature(view: Callable) -> Callable:
    """Answer 404 where the tenant's SCIM feature is off: the whole screen is absent (R10)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_tenant().learn_scim:
            abort(404)
        return view(*args, **kwargs)

    return wrapped


def scim_view(view: Callable) -> Callable:
    """Guard a view of the SCIM screens: absent where the feature is off (R10), else for signed-in admins."""
    return scim_feature(login_required(view))


@bp.get("/learn/scim-credentials")
@scim_view
def credentials_index():
    """List the tenant's credentials with their state and traffic, and offer to issue one."""
    return _index_page(IssueCredentialForm())


@bp.post("/learn/scim-credentials")
@scim_view
def credentials_issue():
    """Issue a credential and show its token this once, on the new credential's live page."""
    form = IssueCredentialForm()
    if form.validate_on_submit():
        try:
            credential, token = credentials.issue(
                current_tenant(), form.name.data, form.slug.data or None, created_by=current_admin()
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
@scim_view
def credentials_show(credential_id: int):
    """Show one credential: setup snippet, live request log, status histogram, first-sync checklist."""
    credential = _credential(credential_id)
    return render_page(SHOW, **_show_context(credential, _window()), token=None)


@bp.get("/learn/scim-credentials/<id:credential_id>/requests")
@scim_view
def credentials_requests(credential_id: int):
    """Render the request log widget (polled by htmx)."""
    credential = _credential(credential_id)
    return render_page("admin/credentials/_requests.html", credential=credential, **_log_context(credential))


@bp.get("/learn/scim-credentials/<id:credential_id>/histogram")
@scim_view
def credentials_histogram(credential_id: int):
    """Render the 2xx/4xx/5xx histogram widget for ?window=hour|day|week (polled by htmx)."""
    credential = _credential(credential_id)
    context = _histogram_context(credential, _window())
    return render_page("admin/credentials/_histogram.html", credential=credential, **context)


@bp.get("/learn/scim-credentials/<id:credential_id>/checklist")
@scim_view
def credentials_checklist(credential_id: int):
    """Render the first-sync checklist widget (polled by htmx until every step is done)."""
    credential = _credential(credential_id)
    return render_page("admin/credentials/_checklist.html", credential=credential, **_checklist_context(credential))


@bp.post("/learn/scim-credentials/<id:credential_id>/disable")
@scim_view
def credentials_disable(credential_id: int):
    """Disable a credential: its next request answers 401 until it is enabled again."""
    return _change_state(credential_id, credentials.disable, "disabled; its requests now answer 401 until enabled")


@bp.post("/learn/scim-credentials/<id:credential_id>/enable")
@scim_view
def credentials_enable(credential_id: int):
    """Enable a disabled credential again."""
    return _change_state(credential_id, credentials.enable, "enabled; it is accepted again from the next request")


@bp.post("/learn/scim-credentials/<id:credential_id>/revoke")
@scim_view
def credentials_revoke(credential_id: int):
    """Revoke a credential for good: its next request answers 401."""
    return _change_state(credential_id, credentials.revoke, "revoked; its next request answers 401")


def _change_state(credential_id: int, action: Callable[[ScimCredential], ScimCredential], done: str):
    credential = _credential(credential_id)
    back = url_for("admin.credentials_show", credential_id=credential.id)
    try:
        action(credential)
    except DomainError as error:
        return redirect_after_post(back, error=sentence(error.message))
    return redirect_after_post(back, message=f"“{credential.name}” {done}.")


def _credential(credential_id: int) -> ScimCredential:
    try:
        return credentials.get(current_tenant(), credential_id)
    except NotFound:
        abort(404)


def _window() -> str:
    window = request.args.get("window", "hour")
    return window if window in WINDOWS else "hour"


def _index_page(form: IssueCredentialForm):
    tenant = current_tenant()
    rows = credentials.for_tenant(tenant)
    ids = [c.id for c in rows]
    used = rollups.last_used(ids)  # one index probe per credential
    # The last 24 hourly rollups, the current hour included: one grouped query over a few rows each.
    since = utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(hours=LIST_COUNTS_HOURS - 1)
    counts = rollups.counts_for(ids, since)
    from admin.offboarding import attention_context  # it imports this module for scim_feature

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


def _show_context(credential: ScimCredential, window: str) -> dict:
    return {
        "credential": credential,
        "base_url": _scim_base_url(),
        "base_path": url_for("scim.service_provider_config").removesuffix("/ServiceProviderConfig"),
        **_log_context(credential),
        **_histogram_context(credential, window),
        **_checklist_context(credential),
    }


def _log_context(credential: ScimCredential) -> dict:
    from admin.request_log import log_context  # it imports this module for its own routes

    return log_context(credential)


def _histogram_context(credential: ScimCredential, window: str) -> dict:
    bars = histogram.series(credential.id, window, utcnow())
    return {"series": bars, "counts": bars.totals, "window": window, "windows": WINDOWS, **polling(credential)}


def _checklist_context(credential: ScimCredential) -> dict:
    steps = sync_status.checklist(rollups.operations_seen(credential.id))
    return {"steps": steps, "complete": all(step.done for step in steps), **polling(credential)}


def polling(credential: ScimCredential) -> dict:
    """Say how often the page's widgets refresh: every few seconds while the credential is in use, else slowly.

    A revoked or disabled credential gets no new successes to watch (after STATE_CHANGE_GRACE, in which the
    admin sees the first refusals arrive), and an idle one (no request for IDLE_AFTER) rarely changes: their
    widgets ask every SLOW_POLL_SECONDS instead, and the page says so.
    """
    cached = getattr(request, "_credential_polling", None)
    if cached is not None and cached[0] == credential.id:
        return cached[1]
    now = utcnow()
    if credential.state != "active":
        moments = [moment for moment in (credential.revoked_at, credential.disabled_at) if moment]
        changed = max(moments, default=credential.created_at)
        slow = now - changed > STATE_CHANGE_GRACE
    else:
        latest = rollups.last_used([credential.id]).get(credential.id) or credential.created_at
        slow = now - latest > IDLE_AFTER
    every = {key: f"{SLOW_POLL_SECONDS}s" for key in FAST_POLL} if slow else FAST_POLL
    result = {"poll": every, "poll_slow": slow, "slow_poll_seconds": SLOW_POLL_SECONDS}
    request._credential_polling = (credential.id, result)
    return result
