"""GET /api/v1/scim-requests, /scim-credentials/{id}/requests and /scim-credentials: entries, filters, errors."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from models import utcnow
from services import api_keys, credentials, tenants
from tests.api.conftest import ApiClient, log_row, problem
from tests.conftest import ScimClient
from tests.helpers import USER

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def ids(response) -> list[int]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [entry["id"] for entry in response.get_json()["data"]]


def test_an_entry_has_every_field_and_nothing_else(api, tenant, credential):
    at = utcnow().replace(microsecond=123456) - timedelta(minutes=5)
    row = log_row(
        tenant.id,
        credential.id,
        at=at,
        method="PATCH",
        path="/scim/v2/Users/2819c223-7f76-453a-919d-413861904646",
        status=200,
        duration_ms=12.5,
        ip="2001:db8::1",
        user_agent="Okta SCIM Client 1.0.0",
        operation="user.deactivated",
    )
    response = api.get("/scim-requests")
    assert response.mimetype == "application/json"
    [entry] = response.get_json()["data"]
    assert entry == {
        "id": row.id,
        "time": at.strftime("%Y-%m-%dT%H:%M:%S.123Z"),
        "credential_id": credential.id,
        "method": "PATCH",
        "path": "/scim/v2/Users/2819c223-7f76-453a-919d-413861904646",
        "status": 200,
        "duration_ms": 12.5,
        "client_ip": "2001:db8::1",
        "user_agent": "Okta SCIM Client 1.0.0",
        "operations": ["user.deactivated"],
        "failure": None,
        "count": 1,
        "skipped_members": 0,
        "resource_type": "User",
        "resource_id": "2819c223-7f76-453a-919d-413861904646",
    }


def test_a_counted_refusal_row_waits_until_its_minute_is_over(app, client, tenant, api, monkeypatch):
    from services import audit, request_log

    moment = utcnow().replace(second=30, microsecond=0) - timedelta(minutes=2)
    monkeypatch.setattr(audit, "utcnow", lambda: moment)
    for _ in range(3):
        ScimClient(client, "ms_scim_wrong-token-value").get("/Users")
    monkeypatch.setitem(app.config, "REQUEST_LOG_SETTLE_SECONDS", 0)
    # 10 s later the row's minute may still gain refusals: a SIEM would get a partial count.
    monkeypatch.setattr(request_log, "utcnow", lambda: moment + timedelta(seconds=10))
    assert api.get("/scim-requests").get_json()["data"] == []
    # Once the minute is over the row is final, and delivered once.
    monkeypatch.setattr(request_log, "utcnow", lambda: moment + timedelta(seconds=40))
    [entry] = api.get("/scim-requests").get_json()["data"]
    assert (entry["status"], entry["count"]) == (401, 3)


@pytest.mark.parametrize(
    ("path", "resource"),
    [
        ("/scim/v2/Groups/abc-1", ["Group", "abc-1"]),
        ("/scim/v2/Users/abc-1/", ["User", "abc-1"]),
        ("/scim/v2/Users", [None, None]),
        ("/scim/v2/Users/.search", [None, None]),
        ("/scim/v2/ServiceProviderConfig", [None, None]),
        ("/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", [None, None]),
        ("/scim/v2/Users/a/b", [None, None]),
    ],
)
def test_the_resource_is_read_from_the_path(api, tenant, path, resource):
    log_row(tenant.id, path=path, status=404, failure="not_found")
    [entry] = api.get("/scim-requests").get_json()["data"]
    assert [entry["resource_type"], entry["resource_id"]] == resource
    assert entry["operations"] == [] and entry["failure"] == "not_found" and entry["credential_id"] is None


def test_real_scim_traffic_shows_no_query_string_body_or_token(app, client, tenant, api, monkeypatch):
    _, scim_token = credentials.issue(tenant, "Okta")
    idp = ScimClient(client, scim_token)
    secret = "jane.secret@example.com"
    created = idp.post("/Users", {"schemas": [USER], "userName": secret, "emails": [{"value": secret}]})
    assert created.status_code == 201
    user_id = created.get_json()["id"]
    idp.get(f'/Users?filter=userName eq "{secret}"&count=5')
    idp.patch(f"/Users/{user_id}?x={secret}", {"Operations": [{"op": "replace", "value": {"active": False}}]})
    ScimClient(client, "ms_scim_wrong-token-value").get("/Users?access_token=ms_scim_wrong-token-value")
    # Let the rows settle without waiting: the API sees them as a reader 70 s from now would (past the minute
    # that the counted 401 row keeps counting in).
    monkeypatch.setitem(app.config, "REQUEST_LOG_SETTLE_SECONDS", -70)
    response = api.get("/scim-requests?limit=1000")
    entries = response.get_json()["data"]
    assert len(entries) == 4
    text = json.dumps(entries)
    for leaked in (secret, "filter", "count=5", "?", "access_token", scim_token, "wrong-token", api.token):
        assert leaked not in text, leaked
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("POST", "/scim/v2/Users", 201),
        ("GET", "/scim/v2/Users", 200),
        ("PATCH", f"/scim/v2/Users/{user_id}", 200),
        ("GET", "/scim/v2/Users", 401),
    ]
    assert entries[0]["operations"] == ["user.created"] and entries[2]["operations"] == ["user.deactivated"]
    assert entries[2]["resource_id"] == user_id and entries[3]["failure"] == "invalid_token"
    assert all(TIME.match(e["time"]) for e in entries)


def test_the_tenant_log_holds_every_credential_and_refusals_but_no_other_tenant(api, tenant, credential):
    other_credential = credentials.issue(tenant, "Entra")[0]
    acme = tenants.create_tenant("acme")
    acme_credential = credentials.issue(acme, "Acme IdP")[0]
    mine = [
        log_row(tenant.id, credential.id).id,
        log_row(tenant.id, other_credential.id).id,
        log_row(tenant.id, None, status=401).id,
    ]
    log_row(acme.id, acme_credential.id)
    log_row(None, None, status=404)  # unknown host: no tenant
    assert ids(api.get("/scim-requests")) == mine
    assert ids(api.get(f"/scim-credentials/{credential.id}/requests")) == [mine[0]]
    assert ids(api.get(f"/scim-credentials/{other_credential.id}/requests")) == [mine[1]]


def test_another_tenants_credential_id_is_a_404(api, tenant):
    acme_credential = credentials.issue(tenants.create_tenant("acme"), "Acme IdP")[0]
    log_row(acme_credential.tenant_id, acme_credential.id)
    body = problem(api.get(f"/scim-credentials/{acme_credential.id}/requests"), 404)
    assert body["detail"] == "no such SCIM credential"
    assert problem(api.get("/scim-credentials/424242/requests"), 404) == body


def test_a_revoked_credentials_requests_stay_readable(api, tenant, credential):
    row = log_row(tenant.id, credential.id)
    credentials.revoke(credential)
    assert ids(api.get(f"/scim-credentials/{credential.id}/requests")) == [row.id]


def test_status_filters_by_class_and_code_repeatable(api, tenant):
    rows = {status: log_row(tenant.id, status=status).id for status in (200, 201, 204, 401, 404, 409, 500, 503)}
    assert ids(api.get("/scim-requests?status=2xx")) == [rows[200], rows[201], rows[204]]
    assert ids(api.get("/scim-requests?status=404")) == [rows[404]]
    assert ids(api.get("/scim-requests?status=5xx&status=404")) == [rows[404], rows[500], rows[503]]
    assert ids(api.get("/scim-requests?status=4xx&status=404")) == [rows[401], rows[404], rows[409]]
    assert ids(api.get("/scim-requests?status=3xx")) == []


def test_method_and_operation_filters(api, tenant):
    created = log_row(tenant.id, method="POST", operation="user.created", status=201).id
    deleted = log_row(tenant.id, method="DELETE", operation="user.deleted", status=204).id
    log_row(tenant.id, method="GET", operation="users.searched")
    failed = log_row(tenant.id, method="DELETE", status=404, failure="not_found").id
    assert ids(api.get("/scim-requests?method=DELETE")) == [deleted, failed]
    assert ids(api.get("/scim-requests?method=DELETE&method=POST")) == [created, deleted, failed]
    assert ids(api.get("/scim-requests?operation=user.deleted&operation=user.created")) == [created, deleted]
    assert ids(api.get("/scim-requests?method=DELETE&status=2xx")) == [deleted]


def test_since_and_until_select_a_half_open_range(api, tenant):
    base = utcnow().replace(microsecond=0) - timedelta(days=3)
    rows = [log_row(tenant.id, at=base + timedelta(hours=h)).id for h in range(6)]
    stamp = (base + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (base + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(api.get(f"/scim-requests?since={stamp}")) == rows[2:]
    assert ids(api.get(f"/scim-requests?until={end}")) == rows[:4]
    assert ids(api.get(f"/scim-requests?since={stamp}&until={end}")) == rows[2:4]
    # Any offset is accepted and read as the same instant.
    shifted = (base + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S") + "%2B00:00"
    assert ids(api.get(f"/scim-requests?since={shifted}")) == rows[2:]
    local = (base + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M:%S") + "%2B02:00"
    assert ids(api.get(f"/scim-requests?since={local}")) == rows[2:]


def test_limit_defaults_to_100_and_allows_1000(api, tenant):
    from models import ScimRequest, db

    at = utcnow() - timedelta(minutes=1)
    db.session.add_all(
        ScimRequest(tenant_id=tenant.id, at=at, method="GET", path="/scim/v2/Users", status=200, duration_ms=1)
        for _ in range(1001)
    )
    db.session.commit()
    assert len(ids(api.get("/scim-requests"))) == 100
    assert len(ids(api.get("/scim-requests?limit=1000"))) == 1000
    assert len(ids(api.get("/scim-requests?limit=1"))) == 1


@pytest.mark.parametrize(
    ("query", "name", "reason"),
    [
        ("limit=0", "limit", "greater than or equal to 1"),
        ("limit=1001", "limit", "less than or equal to 1000"),
        ("limit=ten", "limit", "Not a valid integer"),
        ("limit=1&limit=2", "limit", "give it once"),
        ("since=yesterday", "since", "Not a valid datetime"),
        ("since=2026-11-01T00:00:00", "since", "Not a valid aware datetime"),
        ("until=2026-11-01", "until", "Not a valid aware datetime"),
        ("since=2026-11-02T00:00:00Z&until=2026-11-01T00:00:00Z", "until", "later than since"),
        ("since=0001-01-01T00:00:00%2B01:00", "since", "between the years"),
        ("until=0001-01-01T00:00:01Z", "until", "between the years"),
        ("until=9999-12-31T23:59:59Z", "until", "between the years"),
        ("status=2XX", "status", "a class such as 4xx"),
        ("status=600", "status", "a class such as 4xx"),
        ("status=", "status", "a class such as 4xx"),
        ("method=get", "method", "an HTTP method"),
        ("operation=" + "x" * 41, "operation", "Length must be between"),
        ("after=not-a-cursor", "after", "not a cursor from a next link"),
        ("after=cjE6LTE", "after", "not a cursor from a next link"),
        ("after=%FF", "after", "not a cursor from a next link"),
        ("page=2", "page", "unknown parameter"),
        ("filter=x", "filter", "unknown parameter"),
    ],
)
def test_a_bad_parameter_is_a_400_problem_naming_it(api, tenant, query, name, reason):
    body = problem(api.get(f"/scim-requests?{query}"), 400)
    assert body["detail"] == "invalid query parameters"
    [invalid] = [p for p in body["invalid_params"] if p["name"] == name]
    assert reason in invalid["reason"]


def test_several_bad_parameters_are_named_together(api, tenant):
    body = problem(api.get("/scim-credentials/1/requests?limit=0&status=9&x=1"), 404)
    assert body["detail"] == "no such SCIM credential"
    body = problem(api.get("/scim-requests?limit=0&status=9&x=1"), 400)
    assert {p["name"] for p in body["invalid_params"]} == {"limit", "status", "x"}


def test_an_unsupported_accept_is_a_406_problem(api, tenant):
    problem(api.get("/scim-requests", headers={"Accept": "application/xml"}), 406)
    assert api.get("/scim-requests", headers={"Accept": "*/*"}).mimetype == "application/json"
    assert api.get("/scim-requests", headers={"Accept": "application/json, */*;q=0.1"}).status_code == 200


def test_the_credentials_list_has_state_dates_and_last_use_but_no_token(api, tenant, credential):
    spare, spare_token = credentials.issue(tenant, "Entra")
    credentials.disable(spare)
    acme = credentials.issue(tenants.create_tenant("acme"), "Acme IdP")[0]
    log_row(tenant.id, credential.id, ago=600)
    last = log_row(tenant.id, credential.id, ago=120).at
    log_row(acme.tenant_id, acme.id, ago=1)
    response = api.get("/scim-credentials")
    assert response.status_code == 200
    data = response.get_json()["data"]
    assert [(c["id"], c["name"], c["slug"], c["state"]) for c in data] == [
        (credential.id, "Okta production", "okta", "active"),
        (spare.id, "Entra", None, "disabled"),
    ]
    assert data[0]["last_used"] == last.strftime("%Y-%m-%dT%H:%M:%S.") + f"{last.microsecond // 1000:03d}Z"
    assert data[1]["last_used"] is None and TIME.match(data[1]["created"])
    assert spare_token not in response.get_data(as_text=True) and "token" not in response.get_data(as_text=True)


def test_a_key_reads_only_its_own_tenants_credentials(client, tenant, credential):
    acme = tenants.create_tenant("acme")
    _, acme_token = api_keys.issue(acme, "Acme SIEM")
    assert ApiClient(client, acme_token, host="localhost").get("/scim-credentials").status_code == 401


def test_a_group_push_that_skipped_members_says_how_many_in_json_and_csv(api, tenant, credential):
    log_row(
        tenant.id,
        credential.id,
        method="PATCH",
        path="/scim/v2/Groups/g-1",
        operation="group.members_changed",
        skipped_members=3,
    )
    [entry] = api.get("/scim-requests").get_json()["data"]
    assert entry["skipped_members"] == 3 and entry["operations"] == ["group.members_changed"]
    csv_text = api.get("/scim-requests", headers={"Accept": "text/csv"}).get_data(as_text=True)
    header, line = csv_text.splitlines()[:2]
    assert line.split(",")[header.split(",").index("skipped_members")] == "3"
