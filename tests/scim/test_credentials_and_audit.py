"""Credentials (docs/design.md R9), the feature switch (R10), the request log (R11) and tenant isolation (R12)."""

from __future__ import annotations

import logging
import re

from sqlalchemy import select

from models import ScimCredential, ScimRequest, db
from services import audit, credentials, tenants, tokens
from tests.conftest import ScimClient, scim_error
from tests.helpers import USER


def log_rows() -> list[ScimRequest]:
    db.session.expire_all()
    return list(db.session.scalars(select(ScimRequest).order_by(ScimRequest.id)))


def test_r9_token_format_and_only_a_hash_is_stored(tenant):
    credential, token = credentials.issue(tenant, "Okta production", "okta")
    assert re.fullmatch(r"ms_scim_[A-Za-z0-9_-]{43}", token)  # 32 random bytes, base64url
    stored = db.session.get(ScimCredential, credential.id)
    columns = [str(getattr(stored, c.key)) for c in ScimCredential.__table__.columns]
    assert all(token not in value for value in columns)
    assert stored.token_hash == tokens.digest(token)
    assert stored.token_hint == token[-4:]


def test_r9_several_active_credentials_for_rotation(client, tenant):
    _, old = credentials.issue(tenant, "old")
    _, new = credentials.issue(tenant, "new")
    assert ScimClient(client, old).get("/Users").status_code == 200
    assert ScimClient(client, new).get("/Users").status_code == 200


def test_r9_disabled_and_revoked_answer_401_from_the_next_request(client, tenant):
    credential, token = credentials.issue(tenant, "idp")
    scim = ScimClient(client, token)
    assert scim.get("/ServiceProviderConfig").status_code == 200
    credentials.disable(credential)
    scim_error(scim.get("/ServiceProviderConfig"), 401)
    credentials.enable(credentials.get(tenant, credential.id))
    assert scim.get("/ServiceProviderConfig").status_code == 200
    credentials.revoke(credentials.get(tenant, credential.id))
    scim_error(scim.get("/ServiceProviderConfig"), 401)


def test_r9_slug_unique_per_tenant(tenant):
    credentials.issue(tenant, "a", "okta")
    other = tenants.create_tenant("acme")
    credentials.issue(other, "a", "okta")
    try:
        credentials.issue(tenant, "b", "okta")
    except Exception as error:  # noqa: BLE001
        assert type(error).__name__ == "Conflict"
    else:
        raise AssertionError("duplicate slug accepted")


def test_r10_feature_off_answers_404_everywhere_even_with_a_valid_token(scim, tenant):
    tenants.set_scim(tenant, False)
    for path in ("/ServiceProviderConfig", "/Users", "/Schemas", "/ResourceTypes", "/Groups", "/nope"):
        body = scim_error(scim.get(path), 404)
        assert "SCIM" in body["detail"]
    scim_error(scim.post("/Users", {"schemas": [USER], "userName": "x@example.com"}), 404)
    tenants.set_scim(tenant, True)
    assert scim.get("/ServiceProviderConfig").status_code == 200


def test_r11_every_request_is_recorded_without_body_query_or_token(scim, client, scim_token):
    created = scim.post(
        "/Users",
        {"schemas": [USER], "userName": "secret.person@example.com", "password": "hunter2"},
        headers={"User-Agent": "Okta SCIM Client 1.0.0"},
    )
    assert created.status_code == 201
    scim.get('/Users?filter=userName eq "secret.person@example.com"')
    scim.get("/Users/does-not-exist")
    client.get("/scim/v2/Users", headers={"Authorization": "Bearer wrong"})
    scim.post("/Users", {"schemas": [USER], "userName": "secret.person@example.com"})

    rows = log_rows()
    assert [(r.method, r.path, r.status) for r in rows] == [
        ("POST", "/scim/v2/Users", 201),
        ("GET", "/scim/v2/Users", 200),
        ("GET", "/scim/v2/Users/does-not-exist", 404),
        ("GET", "/scim/v2/Users", 401),
        ("POST", "/scim/v2/Users", 409),
    ]
    assert rows[0].operation == "user.created" and rows[0].user_agent == "Okta SCIM Client 1.0.0"
    assert rows[1].operation == "users.searched"
    assert rows[2].failure == "not_found"  # never existed; "not_visible" is for hidden accounts (R3)
    assert rows[3].failure == "invalid_token" and rows[3].credential_id is None
    assert rows[4].failure == "uniqueness"
    assert all(r.ip == "127.0.0.1" and r.duration_ms >= 0 for r in rows)
    for row in rows:
        text = " ".join(str(getattr(row, c.key)) for c in ScimRequest.__table__.columns)
        for secret in ("secret.person", "hunter2", scim_token, "filter", "wrong"):
            assert secret not in text


def test_r11_failed_audit_insert_never_breaks_the_response(scim, monkeypatch):
    def broken_insert(*args, **kwargs):
        raise RuntimeError("database is gone")

    monkeypatch.setattr(audit, "insert", broken_insert)
    assert scim.get("/Users").status_code == 200
    assert log_rows() == []


def test_r11_operations_for_the_checklist(scim):
    user = scim.post("/Users", {"schemas": [USER], "userName": "ops@example.com"}).get_json()
    scim.put(f"/Users/{user['id']}", {"schemas": [USER], "userName": "ops@example.com", "title": "x"})
    patch = {"Operations": [{"op": "replace", "path": "active", "value": False}]}
    scim.patch(f"/Users/{user['id']}", patch)
    patch["Operations"][0]["value"] = True
    scim.patch(f"/Users/{user['id']}", patch)
    scim.delete(f"/Users/{user['id']}")
    operations = [r.operation for r in log_rows()]
    assert operations == ["user.created", "user.updated", "user.deactivated", "user.reactivated", "user.deleted"]


def test_r12_token_only_sees_its_own_tenant(make_app, tenant):
    app = make_app(TENANT_BASE_DOMAIN="example.com")
    acme = tenants.create_tenant("acme")
    beta = tenants.create_tenant("beta")
    _, acme_token = credentials.issue(acme, "acme idp")
    _, beta_token = credentials.issue(beta, "beta idp")
    client = app.test_client()
    acme_scim = ScimClient(client, acme_token, host="acme.example.com")
    created = acme_scim.post("/Users", {"schemas": [USER], "userName": "only.acme@example.com"})
    assert created.status_code == 201
    acme_id = created.get_json()["id"]

    # Beta's token on acme's host is simply not valid there.
    scim_error(ScimClient(client, beta_token, host="acme.example.com").get("/Users"), 401)
    beta_scim = ScimClient(client, beta_token, host="beta.example.com")
    assert beta_scim.get("/Users").get_json()["totalResults"] == 0
    scim_error(beta_scim.get(f"/Users/{acme_id}"), 404)
    scim_error(beta_scim.delete(f"/Users/{acme_id}"), 404)
    assert acme_scim.get(f"/Users/{acme_id}").status_code == 200
    # An unknown subdomain or the bare domain names no tenant.
    scim_error(ScimClient(client, acme_token, host="nope.example.com").get("/Users"), 404)
    scim_error(ScimClient(client, acme_token, host="example.com").get("/Users"), 404)


def test_r11_refusals_of_a_known_credential_are_logged_against_it(client, tenant):
    credential, token = credentials.issue(tenant, "idp")
    credentials.disable(credential)
    scim_error(ScimClient(client, token).get("/Users"), 401)
    credentials.revoke(credentials.get(tenant, credential.id))
    scim_error(ScimClient(client, token).get("/Users"), 401)
    rows = log_rows()
    assert [(r.credential_id, r.status, r.failure) for r in rows] == [
        (credential.id, 401, "credential_disabled"),
        (credential.id, 401, "credential_revoked"),
    ]


def test_r11_nul_is_stripped_before_the_log_insert(app):
    # PostgreSQL refuses NUL in text: the whole log row was lost for `GET /Users/a%00b`.
    audit.record(
        audit.RequestRecord(
            tenant_id=None,
            credential_id=None,
            method="GET",
            path="/scim/v2/Users/a\x00b",
            status=404,
            duration_ms=1.0,
            ip="127.0.0.1",
            user_agent="agent\x00/1.0",
            operation=None,
            failure="not_found",
        )
    )
    [row] = log_rows()
    assert (row.path, row.user_agent, row.failure) == ("/scim/v2/Users/ab", "agent/1.0", "not_found")


def test_r11_failed_audit_insert_logs_no_personal_data(scim, monkeypatch, caplog):
    def broken_insert(*args, **kwargs):
        # What SQLAlchemy's message looks like: it quotes the parameters.
        raise RuntimeError("[parameters: ('127.0.0.1', 'Secret-Agent/7.0', '/scim/v2/Users/ada@example.com')]")

    monkeypatch.setattr(audit, "insert", broken_insert)
    with caplog.at_level(logging.WARNING, logger="services.audit"):
        response = scim.get("/Users/ada@example.com", headers={"User-Agent": "Secret-Agent/7.0"})
    scim_error(response, 404)
    records = [r for r in caplog.records if r.name == "services.audit"]
    assert records and all(r.exc_info is None and r.exc_text is None for r in records)
    assert "RuntimeError" in caplog.text and "404" in caplog.text
    for secret in ("Secret-Agent", "127.0.0.1", "ada@example.com", "parameters"):
        assert secret not in caplog.text
