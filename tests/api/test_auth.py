"""Who may read /api/v1: API keys of the tenant only, never SCIM credentials; revocation and expiry at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from models import ApiKey, ScimRequest, db, utcnow
from services import api_keys, credentials, tenants
from tests.api.conftest import ApiClient, log_row, problem
from tests.conftest import ScimClient, scim_error

ENDPOINTS = ["/scim-requests", "/scim-credentials", "/scim-credentials/1/requests", "/no-such-endpoint"]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_no_key_or_a_wrong_one_is_a_401_problem(client, tenant, api_token, path):
    for token in (None, "", "ms_api_" + "x" * 43, api_token[:-1], api_token + "x", "Basic " + api_token):
        response = ApiClient(client, token).get(path)
        body = problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="mobieusLearn API", error="invalid_token"')
        assert api_token not in response.get_data(as_text=True)
        assert "API key" in body["detail"]


def test_a_scim_credential_never_opens_the_api_and_an_api_key_never_opens_scim(client, tenant, api_token):
    _, scim_token = credentials.issue(tenant, "Okta")
    problem(ApiClient(client, scim_token).get("/scim-requests"), 401)
    scim_error(ScimClient(client, api_token).get("/ServiceProviderConfig"), 401)
    assert ScimClient(client, scim_token).get("/ServiceProviderConfig").status_code == 200
    assert ApiClient(client, api_token).get("/scim-requests").status_code == 200


def test_a_revoked_key_is_refused_from_its_very_next_request(api, tenant):
    assert api.get("/scim-requests").status_code == 200
    api_keys.revoke(api_keys.find(tenant, api.token))
    body = problem(api.get("/scim-requests"), 401)
    assert body["detail"] == "this API key is revoked"


def test_an_expired_key_is_refused_from_its_very_next_request(api, tenant):
    key = api_keys.find(tenant, api.token)
    key.expires_at = utcnow() + timedelta(minutes=1)
    db.session.commit()
    assert api.get("/scim-credentials").status_code == 200
    key.expires_at = utcnow() - timedelta(microseconds=1)
    db.session.commit()
    assert problem(api.get("/scim-credentials"), 401)["detail"] == "this API key is expired"


def test_another_tenants_key_is_refused_whatever_the_host_says(make_app, app, client, tenant):
    acme = tenants.create_tenant("acme")
    _, acme_token = api_keys.issue(acme, "Acme SIEM")
    _, default_token = api_keys.issue(tenant, "Default SIEM")
    log_row(tenant.id, path="/scim/v2/Users/default-only")
    problem(ApiClient(client, acme_token).get("/scim-requests"), 401)

    hosted = make_app(TENANT_BASE_DOMAIN="example.com").test_client()
    problem(ApiClient(hosted, default_token, host="acme.example.com").get("/scim-requests"), 401)
    own = ApiClient(hosted, acme_token, host="acme.example.com").get("/scim-requests")
    assert own.status_code == 200 and own.get_json()["data"] == []
    problem(ApiClient(hosted, acme_token, host="nope.example.com").get("/scim-requests"), 404)


def test_a_tenant_with_scim_off_answers_404_even_with_a_valid_key(api, tenant):
    tenants.set_scim(tenant, False)
    for path in [*ENDPOINTS, "/openapi.json"]:
        problem(api.get(path), 404)
    tenants.set_scim(tenant, True)
    assert api.get("/scim-requests").status_code == 200


def test_a_key_without_the_scope_gets_403_insufficient_scope(api, tenant):
    key = api_keys.find(tenant, api.token)
    key.scopes = "some-future:scope"
    db.session.commit()
    response = api.get("/scim-requests")
    body = problem(response, 403)
    assert body["required_scope"] == api_keys.READ_REQUEST_LOG
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


def test_using_a_key_records_its_last_use(api, tenant):
    key_id = api_keys.find(tenant, api.token).id
    assert db.session.get(ApiKey, key_id).last_used_at is None
    api.get("/scim-credentials")
    db.session.expire_all()
    assert db.session.get(ApiKey, key_id).last_used_at is not None


def test_api_requests_are_not_written_to_the_scim_request_log(api, tenant):
    api.get("/scim-requests")
    api.get("/nothing-here")
    assert db.session.scalars(select(ScimRequest)).all() == []


def test_each_key_is_rate_limited_with_a_problem_429_and_an_integer_retry_after(make_app, tenant, api_token):
    app = make_app(RATELIMIT_ENABLED=True, API_RATE_LIMIT="3 per minute")
    limited = ApiClient(app.test_client(), api_token)
    assert [limited.get("/scim-requests").status_code for _ in range(3)] == [200, 200, 200]
    response = limited.get("/scim-credentials")
    problem(response, 429)
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    # Another key of the tenant is not starved by the first; the public document is never limited.
    _, other = api_keys.issue(tenant, "Second")
    assert ApiClient(app.test_client(), other).get("/scim-requests").status_code == 200
    assert limited.get("/openapi.json").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nope", 404),
        ("GET", "/scim-credentials/abc/requests", 404),
        ("GET", "/scim-credentials/99999999999/requests", 404),
        ("POST", "/scim-requests", 405),
        ("DELETE", "/scim-credentials", 405),
        ("GET", "/scim-requests?since=%00", 400),
    ],
)
def test_flask_errors_on_the_api_are_problem_details(api, method, path, status):
    response = api.client.open("/api/v1" + path, method=method, headers={"Authorization": f"Bearer {api.token}"})
    problem(response, status)
    if status == 405:
        assert "GET" in response.headers["Allow"]


def test_an_unexpected_error_is_a_500_problem_without_internals(api, monkeypatch):
    from services import request_log

    def broken(*_args, **_kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(request_log, "forward", broken)
    response = api.get("/scim-requests")
    body = problem(response, 500)
    assert "secret" not in response.get_data(as_text=True) and body["detail"] == "the request failed on our side"


def test_no_cookie_or_csrf_token_is_needed(make_app, tenant, api_token):
    app = make_app(WTF_CSRF_ENABLED=True)
    assert ApiClient(app.test_client(), api_token).get("/scim-requests").status_code == 200


def test_the_api_never_answers_html(api):
    log_row(None)
    for path in ("/", "/scim-requests?limit=x", "/scim-credentials/0/requests"):
        assert "<html" not in api.get(path).get_data(as_text=True).lower()
