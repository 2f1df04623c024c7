"""GET /api/v1/scim-credentials, /scim-requests and /scim-credentials/{id}/requests (JSON, or CSV on request)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Response, current_app, g, jsonify, request, url_for
from marshmallow import ValidationError

from api import bp
from api.auth import requires
from api.export import csv_response
from api.problems import ApiProblem
from api.schemas import LIST_PARAMETERS, RequestLogQuery, encode_cursor
from services import api_keys, credentials, request_log
from services.errors import NotFound

JSON = "application/json"
CSV = "text/csv"


@bp.get("/scim-credentials")
@requires(api_keys.READ_REQUEST_LOG)
def list_credentials() -> Response:
    """List the tenant's SCIM credentials (never a token), oldest first."""
    rows = request_log.credentials_with_last_use(g.api_tenant.id)
    data = [
        {
            "id": credential.id,
            "name": credential.name,
            "slug": credential.slug,
            "state": credential.state,
            "created": request_log.rfc3339(credential.created_at),
            "last_used": request_log.rfc3339(last_used) if last_used else None,
        }
        for credential, last_used in rows
    ]
    return jsonify({"data": data})


@bp.get("/scim-requests")
@requires(api_keys.READ_REQUEST_LOG)
def list_requests() -> Response:
    """Page through every SCIM request of the tenant."""
    return _request_log(credential_id=None)


@bp.get("/scim-credentials/<id:credential_id>/requests")
@requires(api_keys.READ_REQUEST_LOG)
def list_credential_requests(credential_id: int) -> Response:
    """Page through the SCIM requests made with one credential of the tenant."""
    try:
        credential = credentials.get(g.api_tenant, credential_id)  # another tenant's id is a 404 (R12)
    except NotFound:
        raise ApiProblem(404, "no such SCIM credential") from None
    return _request_log(credential_id=credential.id)


def _request_log(credential_id: int | None) -> Response:
    wants_csv = _wants_csv()
    params = _parameters()
    filters = request_log.Filters(
        tenant_id=g.api_tenant.id,
        credential_id=credential_id,
        since=params.get("since"),
        until=params.get("until"),
        statuses=tuple(params["status"]),
        methods=tuple(params["method"]),
        operations=tuple(params["operation"]),
    )
    settle = timedelta(seconds=float(current_app.config["REQUEST_LOG_SETTLE_SECONDS"]))
    if wants_csv:
        limit = params["limit"] if "limit" in request.args else None  # without one, CSV is the whole range
        return csv_response(filters, params.get("after"), limit, settle)
    page = request_log.forward(filters, params.get("after"), params["limit"], settle=settle)
    next_url = _next_url(page.after) if page.more else None
    response = jsonify({"data": [request_log.entry(row) for row in page.rows], "next": next_url})
    if next_url:
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    response.headers["Vary"] = "Accept"
    return response


def _wants_csv() -> bool:
    """Pick JSON or CSV from the Accept header (JSON when it names neither first)."""
    if not request.headers.get("Accept"):
        return False
    best = request.accept_mimetypes.best_match([JSON, CSV])
    if best is None:
        raise ApiProblem(406, f"this endpoint answers {JSON} or {CSV}")
    return best == CSV


def _parameters() -> dict[str, Any]:
    """Load the query string, or raise a 400 problem naming every parameter that is wrong."""
    raw: dict[str, str | list[str]] = {}
    invalid: list[dict[str, str]] = []
    for name in request.args:
        values = request.args.getlist(name)
        if name in LIST_PARAMETERS:
            raw[name] = values
        elif len(values) > 1:
            invalid.append({"name": name, "reason": "give it once"})
        else:
            raw[name] = values[0]
    try:
        params: dict[str, Any] = RequestLogQuery().load(raw)
    except ValidationError as error:
        invalid.extend(_reasons(error.messages_dict))  # a Schema's errors are keyed by field
        params = {}
    if invalid:
        raise ApiProblem(400, "invalid query parameters", invalid_params=invalid)
    return params


def _reasons(messages: dict[str, Any]) -> list[dict[str, str]]:
    """Flatten marshmallow's messages into RFC 9457 invalid_params entries (one per parameter)."""
    reasons: list[dict[str, str]] = []
    for name, found in messages.items():
        if isinstance(found, dict):  # a repeated parameter: {index: [messages]}
            found = [message for nested in found.values() for message in nested]
        text = "; ".join(dict.fromkeys("unknown parameter" if m == "Unknown field." else m for m in found))
        reasons.append({"name": name, "reason": text})
    return reasons


def _next_url(after: int | None) -> str:
    """Return this request's URL with `after` moved on; every other parameter is kept as given."""
    endpoint = request.endpoint
    assert endpoint is not None  # a view of ours is answering
    args = request.args.to_dict(flat=False)
    args.pop("after", None)
    if after is not None:
        args["after"] = [encode_cursor(after)]
    values: dict[str, Any] = {**args, **(request.view_args or {})}
    return url_for(endpoint, **values, _external=True)
