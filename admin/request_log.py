"""A credential's request log on its page: newest first, back through all history, filtered, as CSV."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Response, abort, current_app, request, stream_with_context, url_for
from sqlalchemy import select

from admin import bp, sync_status
from admin.credential_watch import polling, tenant_credential
from admin.guards import scim_feature
from admin.log_forms import LogFilterForm
from admin.pages import render_page
from models import Cohort, ScimCredential, User, db, utcnow
from services import first_sync, request_log
from services.request_log_export import csv_chunks

LOG_ROWS = 25
REFUSALS_WINDOW = timedelta(hours=1)


def log_context(credential: ScimCredential) -> dict[str, Any]:
    """Return what the log widget shows for this request's filters and page (`before`, an id)."""
    form = LogFilterForm(request.args)
    valid = form.validate()
    before = request.args.get("before", type=int)
    filters = _filters(credential, form if valid else None)
    rows, older = request_log.backward(filters, before, LOG_ROWS)
    entries = sync_status.log_entries(rows)
    # Refusals older than the credential cannot concern it; counted ones are dated by their minute's start.
    since = max(utcnow() - REFUSALS_WINDOW, credential.created_at.replace(second=0, microsecond=0))
    args = form.query_args() if valid else {}
    return {
        "entries": entries,
        "clients": sync_status.clients_seen(entry.request for entry in entries),
        "refusals": first_sync.refusals(credential.tenant_id, since),
        "log_form": form,
        "log_args": args,
        "before": before,
        "older": older,
        "filtered": bool(args),
        "retention_days": current_app.config["REQUEST_LOG_DAYS"],
        **polling(credential),
    }


@bp.get("/learn/scim-credentials/<id:credential_id>/requests.csv")
@scim_feature
def credentials_requests_csv(credential_id: int) -> Response:
    """Download the credential's requests the filters select, oldest first: the rows the API gives."""
    credential = tenant_credential(credential_id)
    form = LogFilterForm(request.args)
    if not form.validate():
        return Response("The filters are not valid; fix them on the credential's page.\n", 400, mimetype="text/plain")
    settle = timedelta(seconds=float(current_app.config["REQUEST_LOG_SETTLE_SECONDS"]))
    rows = request_log.every_row(_filters(credential, form), settle=settle)
    name = f"scim-requests-{credential.slug or credential.id}-{utcnow():%Y%m%d-%H%M}.csv"
    response = Response(stream_with_context(csv_chunks(rows)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _filters(credential: ScimCredential, form: LogFilterForm | None) -> request_log.Filters:
    if form is None:
        return request_log.Filters(tenant_id=credential.tenant_id, credential_id=credential.id)
    return request_log.Filters(
        tenant_id=credential.tenant_id,
        credential_id=credential.id,
        since=form.since.data,
        until=form.until.data,
        statuses=(form.status.data,) if form.status.data else (),
        methods=(form.method.data,) if form.method.data else (),
    )


@bp.get("/learn/scim-credentials/<id:credential_id>/requests/<id:request_id>")
@scim_feature
def credentials_request(credential_id: int, request_id: int) -> Response:
    """Show one logged request: every recorded field, the hint, what it names, and why it failed."""
    credential = tenant_credential(credential_id)  # of this tenant, else 404
    row = request_log.one(credential.id, request_id)
    if row is None:
        abort(404)
    entry = sync_status.log_entries([row])[0]
    return render_page(
        "admin/credentials/request.html",
        credential=credential,
        entry=entry,
        operations=sync_status.operation_labels(row.operation),
        reason=sync_status.reason_text(row.reason),
        target=_target(credential.tenant_id, row.path),
    )


def _target(tenant_id: int, path: str) -> dict[str, str | None] | None:
    """Return the user or group the path names, with a link to where the dashboard shows it, if it still exists."""
    named = request_log.resource(path)
    if named is None:
        return None
    kind, scim_id = named
    label = url = None
    if kind == "User":
        user = db.session.scalar(select(User).where(User.tenant_id == tenant_id, User.scim_id == scim_id))
        if user is not None:
            label, url = user.label, url_for("admin.users_index", q=user.email or user.user_name)
    else:
        cohort = db.session.scalar(select(Cohort).where(Cohort.tenant_id == tenant_id, Cohort.scim_id == scim_id))
        if cohort is not None:
            label, url = cohort.name, url_for("admin.cohorts_show", cohort_id=cohort.id)
    return {"kind": kind, "scim_id": scim_id, "label": label, "url": url}
