"""`Accept: text/csv`: the same rows as the JSON pages, with a header line, streamed in keyset batches."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from models import ScimRequest, db, utcnow
from services import credentials, request_log
from services.request_log_export import COLUMNS
from tests.api.conftest import log_row, problem
from tests.conftest import ScimClient, statements

CSV = {"Accept": "text/csv"}


def read_csv(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv" and response.mimetype_params.get("charset") == "utf-8"
    lines = list(csv.reader(io.StringIO(response.get_data(as_text=True), newline="")))
    assert tuple(lines[0]) == COLUMNS
    return [dict(zip(COLUMNS, line, strict=True)) for line in lines[1:]]


def as_csv_cells(entry: dict) -> dict:
    """Render a JSON entry the way the CSV writes it."""
    cells = {}
    for name in COLUMNS:
        value = entry[name]
        cells[name] = "" if value is None else " ".join(value) if name == "operations" else str(value)
    return cells


def all_json(api, url: str) -> list[dict]:
    entries = []
    while url:
        body = api.get(url).get_json()
        entries.extend(body["data"])
        url = body["next"] if body["data"] else None
    return entries


@pytest.fixture
def mixed_log(tenant, credential):
    start = utcnow() - timedelta(days=2)
    variants = [
        {"method": "POST", "path": "/scim/v2/Users", "status": 201, "operation": "user.created"},
        {"method": "GET", "path": "/scim/v2/Users/abc", "status": 404, "failure": "not_found", "ip": None},
        {"method": "PATCH", "path": "/scim/v2/Groups/g-1", "status": 200, "operation": "group.members_changed"},
        {"method": "GET", "path": "/scim/v2/Users", "status": 401, "failure": "invalid_token", "user_agent": None},
        {"method": "DELETE", "path": "/scim/v2/Users/a,b", "status": 500, "user_agent": 'Quote " and, comma'},
    ]
    return [
        log_row(tenant.id, credential.id if i % 3 else None, at=start + timedelta(minutes=i), **variants[i % 5]).id
        for i in range(23)
    ]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?status=4xx&status=201",
        "?method=PATCH&method=DELETE",
        "?operation=user.created",
        "?since={since}&until={until}",
    ],
)
def test_csv_equals_json_for_the_same_range(api, tenant, mixed_log, query):
    start = utcnow() - timedelta(days=2)
    query = query.format(
        since=(start + timedelta(minutes=4)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        until=(start + timedelta(minutes=17)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    )
    joiner = "&" if query else "?"
    entries = all_json(api, f"/scim-requests{query}{joiner}limit=4")
    assert entries
    rows = read_csv(api.get(f"/scim-requests{query}", headers=CSV))
    assert rows == [as_csv_cells(entry) for entry in entries]


def test_csv_of_one_credential_and_of_an_empty_range(api, tenant, credential, mixed_log):
    mine = [e for e in all_json(api, "/scim-requests?limit=1000") if e["credential_id"] == credential.id]
    rows = read_csv(api.get(f"/scim-credentials/{credential.id}/requests", headers=CSV))
    assert rows == [as_csv_cells(entry) for entry in mine]
    empty = read_csv(api.get("/scim-requests?status=3xx", headers=CSV))
    assert empty == []


def test_csv_takes_after_and_limit_like_a_page(api, tenant, mixed_log):
    first = api.get("/scim-requests?limit=5").get_json()
    rows = read_csv(api.get(first["next"].replace("limit=5", "limit=7"), headers=CSV))
    assert [int(r["id"]) for r in rows] == mixed_log[5:12]


def test_csv_is_chosen_by_accept_and_streamed_in_batches(app, api, tenant):
    at = utcnow() - timedelta(minutes=1)
    db.session.add_all(
        ScimRequest(tenant_id=tenant.id, at=at, method="GET", path="/scim/v2/Users", status=200, duration_ms=1)
        for _ in range(4500)
    )
    db.session.commit()
    with statements() as seen:
        response = api.get("/scim-requests", headers={"Accept": "application/json;q=0.5, text/csv"})
        assert response.is_streamed
        rows = read_csv(response)
    assert len(rows) == 4500
    batches = [s for s in seen if "scim_requests.user_agent" in s]
    assert len(batches) == 3  # 2,000 + 2,000 + 500: never the whole result at once
    assert api.get("/scim-requests", headers={"Accept": "text/csv;q=0.5, application/json"}).is_json


def test_a_cell_a_spreadsheet_would_run_is_neutralised(api, tenant):
    log_row(tenant.id, user_agent='=HYPERLINK("http://x")', status=400)
    log_row(tenant.id, user_agent="@SUM(1)", status=400)
    [one, two] = read_csv(api.get("/scim-requests", headers=CSV))
    assert one["user_agent"] == '\'=HYPERLINK("http://x")' and two["user_agent"] == "'@SUM(1)"


def test_csv_errors_are_problem_details_before_any_row(api, tenant):
    problem(api.get("/scim-requests?limit=0", headers=CSV), 400)
    problem(api.get("/scim-credentials/999/requests", headers=CSV), 404)


def test_csv_of_real_traffic_has_no_query_string_body_or_token(app, client, tenant, api, monkeypatch):
    _, scim_token = credentials.issue(tenant, "Okta")
    idp = ScimClient(client, scim_token)
    secret = "sam.private@example.com"
    idp.post("/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": secret})
    idp.get(f'/Users?filter=userName eq "{secret}"')
    monkeypatch.setitem(app.config, "REQUEST_LOG_SETTLE_SECONDS", -10)
    text = api.get("/scim-requests", headers=CSV).get_data(as_text=True)
    assert text.count("\r\n") == 3
    for leaked in (secret, "filter", "?", scim_token, api.token):
        assert leaked not in text


def test_every_row_holds_its_bound_while_the_response_streams(app, tenant):
    rows = [log_row(tenant.id, ago=100 - i).id for i in range(5)]
    stream = request_log.every_row(request_log.Filters(tenant_id=tenant.id), batch=2)
    for _ in range(3):
        log_row(tenant.id, ago=0)  # arrives after the export began, stamped inside the settle window
    assert [r.id for r in stream] == rows
