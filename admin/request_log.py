"""A credential's request log on its page: newest first, back through all history, filtered, as CSV."""

from __future__ import annotations

from datetime import timedelta

from flask import Response, current_app, request, stream_with_context

from admin import bp
from admin.context import login_required
from admin.credentials import _credential, scim_feature
from admin.log_forms import LogFilterForm
from models import ScimCredential, utcnow
from services import request_log, sync_status
from services.request_log_export import csv_chunks

LOG_ROWS = 25
REFUSALS_WINDOW = timedelta(hours=1)


def log_context(credential: ScimCredential) -> dict:
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
        "refusals": sync_status.refusals(credential.tenant_id, since),
        "log_form": form,
        "log_args": args,
        "before": before,
        "older": older,
        "filtered": bool(args),
        "retention_days": current_app.config["REQUEST_LOG_DAYS"],
    }


@bp.get("/learn/scim-credentials/<int(max=2147483647):credential_id>/requests.csv")
@scim_feature
@login_required
def credentials_requests_csv(credential_id: int):
    """Download the credential's requests the filters select, oldest first: the rows the API gives."""
    credential = _credential(credential_id)
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
