"""The SCIM credentials screen: list, issue once, live detail widgets, disable/enable/revoke (R9, R10, R11)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import event

from models import Role, ScimCredential, ScimRequest, db, utcnow
from services import accounts, audit, credentials, rollups, tenants, tokens
from services.driver_writes import DriverTransaction
from tests.admin import sign_in
from tests.helpers import reread

BASE = "/admin/learn/scim-credentials"
HX = {"HX-Request": "true"}
SAME_ORIGIN = {"Referer": "https://localhost/admin/learn/scim-credentials"}
OKTA = "Okta SCIM Client 1.0.0"


@pytest.fixture
def credential(tenant) -> ScimCredential:
    return credentials.issue(tenant, "Okta production", "okta-prod")[0]


def logged(credential, status=200, operation=None, failure=None, user_agent=OKTA, ago=timedelta(0), **kw):
    """Add a request log row as the SCIM side records it."""
    row = ScimRequest(
        tenant_id=credential.tenant_id if credential else kw.pop("tenant_id"),
        credential_id=credential.id if credential else None,
        at=kw.pop("at", None) or utcnow() - ago,
        method=kw.pop("method", "GET"),
        path=kw.pop("path", "/scim/v2/Users"),
        status=status,
        duration_ms=kw.pop("duration_ms", 4.2),
        ip=kw.pop("ip", "192.0.2.7"),
        user_agent=user_agent,
        operation=operation,
        failure=failure,
        count=kw.pop("count", 1),
        bucket=kw.pop("bucket", None),
    )
    db.session.add(row)
    db.session.commit()
    # The insert's triggers added its rollups; as services/audit.py does (there in the row's own transaction),
    # note its first-seen operations.
    values = {c.key: getattr(row, c.key) for c in ScimRequest.__table__.columns}
    with DriverTransaction(db.engine) as transaction:
        rollups.note_first_seen(transaction, rollups.unseen_operations(values), values["at"])
    return row


def fresh(credential) -> ScimCredential:
    return reread(ScimCredential, credential.id)


def text(response) -> str:
    return response.get_data(as_text=True)


def issued_token(html: str) -> str:
    match = re.search(r'<code id="new-token" class="token">([^<]+)</code>', html)
    assert match, "no #new-token on the page"
    return match.group(1)


# --- the feature switch (R10) --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", ""),
        ("POST", ""),
        ("GET", "/{id}"),
        ("GET", "/{id}/requests"),
        ("GET", "/{id}/histogram"),
        ("GET", "/{id}/checklist"),
        ("POST", "/{id}/disable"),
        ("POST", "/{id}/enable"),
        ("POST", "/{id}/revoke"),
    ],
)
def test_with_scim_off_every_credentials_path_is_absent(admin_client, tenant, credential, method, path):
    tenants.set_scim(tenant, False)
    response = admin_client.open(BASE + path.format(id=credential.id), method=method, data={"name": "x"})
    assert response.status_code == 404
    assert fresh(credential).state == "active"


def test_with_scim_off_the_navigation_has_no_credentials_link(admin_client, tenant):
    tenants.set_scim(tenant, False)
    assert BASE not in text(admin_client.get("/admin/users"))


def test_with_scim_off_the_screen_is_absent_before_any_sign_in(client, tenant, credential):
    """R10: the guard asks about the feature first, so not even a sign-in redirect says the screen exists."""
    tenants.set_scim(tenant, False)
    for path in ("", f"/{credential.id}", f"/{credential.id}/requests"):
        assert client.get(BASE + path).status_code == 404
    assert client.post(f"{BASE}/{credential.id}/revoke").status_code == 404
    assert client.get("/admin/learn/api-keys").status_code == 404
    assert fresh(credential).state == "active"


def test_anonymous_visitors_are_sent_to_sign_in(client, credential):
    for path in ("", f"/{credential.id}", f"/{credential.id}/requests"):
        assert client.get(BASE + path).location.startswith("/admin/login")
    assert client.post(f"{BASE}/{credential.id}/revoke").location.startswith("/admin/login")
    assert fresh(credential).state == "active"


# --- list -----------------------------------------------------------------------------------------------


def test_the_list_says_so_when_there_is_no_credential(admin_client):
    response = admin_client.get(BASE)
    assert response.status_code == 200
    assert "No credentials yet." in text(response)
    assert 'name="name"' in text(response) and 'name="slug"' in text(response)


def test_the_list_shows_name_slug_hint_dates_state_and_counts(admin_client, tenant, credential):
    spare = credentials.issue(tenant, "Entra staging")[0]
    credentials.revoke(spare)
    logged(credential, 200)
    logged(credential, 201)
    logged(credential, 409, failure="uniqueness")
    logged(credential, 200, ago=timedelta(days=2))  # outside the 24 h counts, still "last used"
    html = text(admin_client.get(BASE))
    row = re.search(rf'<tr data-credential-id="{credential.id}".*?</tr>', html, re.S).group(0)
    assert "Okta production" in row and "<code>okta-prod</code>" in row
    assert f"…{credential.token_hint}" in row
    assert 'data-state="active"' in row
    assert re.search(r'count-2xx"><span class="count-label">2xx</span> 2<', row)
    assert re.search(r'count-4xx"><span class="count-label">4xx</span> 1<', row)
    assert row.count("<time") == 2  # created and last used
    other = re.search(rf'<tr data-credential-id="{spare.id}".*?</tr>', html, re.S).group(0)
    assert 'data-state="revoked"' in other and "never" in other
    assert html.index(f'data-credential-id="{spare.id}"') < html.index(f'data-credential-id="{credential.id}"')


def test_the_list_counts_every_credential_in_one_query(admin_client, tenant, credential):
    others = [credentials.issue(tenant, f"IdP {i}")[0] for i in range(4)]
    for i, other in enumerate(others):
        logged(other, 200 + i)
    seen: list[str] = []
    record = lambda _conn, _cursor, statement, *_args: seen.append(statement)  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert admin_client.get(BASE).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert len([s for s in seen if "FROM scim_request_rollups" in s and "sum(scim_request_rollups.count)" in s]) == 1
    assert not [s for s in seen if "FROM scim_requests" in s and "sum(" in s.lower()]  # no scan of the log


def test_list_counts_answer_every_credential_asked_for(tenant, credential):
    quiet = credentials.issue(tenant, "Quiet")[0]
    logged(credential, 200)
    logged(credential, 204)
    logged(credential, 404)
    logged(credential, 503)
    logged(credential, 500, ago=timedelta(days=2))
    since = utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    counts = rollups.counts_for([credential.id, quiet.id], since)
    assert counts == {
        credential.id: {"2xx": 2, "4xx": 1, "5xx": 1},
        quiet.id: {"2xx": 0, "4xx": 0, "5xx": 0},
    }
    assert counts[credential.id] == audit.status_counts(credential, since)
    assert rollups.counts_for([], since) == {}


@pytest.mark.parametrize("path", ["", "/requests", "/histogram", "/checklist", "/disable", "/enable", "/revoke"])
@pytest.mark.parametrize("credential_id", ["99999999999999999999999", "2147483648"])
def test_credential_ids_beyond_the_database_integer_are_404(admin_client, credential_id, path):
    method = "POST" if path in ("/disable", "/enable", "/revoke") else "GET"
    assert admin_client.open(f"{BASE}/{credential_id}{path}", method=method).status_code == 404


def test_a_credential_is_stored_as_the_shared_digest_and_found_by_it(tenant):
    credential, token = credentials.issue(tenant, "Digest")
    assert credential.token_hash == tokens.digest(token)
    assert credentials.find(tenant, token).id == credential.id
    assert credentials.find(tenant, token + "x") is None


def test_slug_and_name_rules_are_defined_once():
    from services import bearer_secrets, validation
    from services import tenants as tenant_service

    assert credentials.SLUG is tenant_service.SLUG is validation.SLUG
    assert bearer_secrets.LINE_BREAKING is tenant_service.LINE_BREAKING is validation.LINE_BREAKING


# --- issue ----------------------------------------------------------------------------------------------


def test_issuing_shows_the_token_once_on_the_new_credentials_page(admin_client, tenant, super_admin):
    response = admin_client.post(BASE, data={"name": "  Okta production ", "slug": "Okta-Prod"}, headers=HX)
    html = text(response)
    assert response.status_code == 201
    token = issued_token(html)
    assert re.fullmatch(r"ms_scim_[A-Za-z0-9_-]{43}", token)
    assert "shown only this once" in html and "Copy token" in html
    assert response.headers["Cache-Control"] == "no-store"

    [credential] = credentials.for_tenant(tenant)
    assert (credential.name, credential.slug) == ("Okta production", "okta-prod")
    assert credential.created_by_id == super_admin.id
    assert credential.token_hash != token and token not in credential.token_hash
    found = credentials.find(tenant, token)
    assert (found.id, found.state) == (credential.id, "active")
    assert response.headers["HX-Push-Url"] == f"{BASE}/{credential.id}"

    # Reloading (or coming back) never shows it again.
    again = text(admin_client.get(f"{BASE}/{credential.id}"))
    assert token not in again and 'id="new-token"' not in again
    assert token not in text(admin_client.get(BASE))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "slug": ""}, "Give the credential a name."),
        ({"name": "x" * 101, "slug": ""}, "Field cannot be longer than 100 characters."),
        ({"name": "Okta", "slug": "-bad-"}, "Use lowercase letters, digits and hyphens"),
        ({"name": "Okta", "slug": "has space"}, "Use lowercase letters, digits and hyphens"),
    ],
)
def test_an_invalid_issue_form_is_shown_again_with_errors(admin_client, tenant, data, message):
    response = admin_client.post(BASE, data=data, headers=HX)
    assert response.status_code == 422  # htmx is configured to swap 422 (form errors)
    assert message in text(response)
    assert 'id="new-token"' not in text(response)
    assert credentials.for_tenant(tenant) == []


def test_a_slug_is_unique_per_tenant(admin_client, tenant, credential):
    response = admin_client.post(BASE, data={"name": "Another", "slug": "okta-prod"})
    assert response.status_code == 422
    assert "Another credential of this tenant already has this slug." in text(response)
    assert len(credentials.for_tenant(tenant)) == 1
    other = tenants.create_tenant("acme")
    assert credentials.issue(other, "Acme Okta", "okta-prod")[0].slug == "okta-prod"


def test_without_a_slug_several_credentials_can_coexist(admin_client, tenant):
    for name in ("Okta", "Okta (rotation)"):
        assert admin_client.post(BASE, data={"name": name, "slug": ""}).status_code == 201
    assert [c.state for c in credentials.for_tenant(tenant)] == ["active", "active"]


# --- detail page ----------------------------------------------------------------------------------------


def test_a_credential_without_traffic_says_so_and_keeps_waiting(admin_client, credential):
    html = text(admin_client.get(f"{BASE}/{credential.id}"))
    assert "No requests with this credential yet" in html
    assert 'data-2xx="0" data-4xx="0" data-5xx="0"' in html
    assert html.count('data-done="false"') == 6
    for widget, every in (("request-log", "2s"), ("status-histogram", "2s"), ("first-sync-checklist", "3s")):
        root = re.search(rf'<div id="{widget}"[^>]*>', html, re.S).group(0)
        assert f'hx-trigger="every {every}"' in root and 'hx-swap="outerHTML"' in root


def test_the_detail_page_gives_the_base_url_and_a_curl_line(admin_client, credential, app, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://learn.example.com")
    html = text(admin_client.get(f"{BASE}/{credential.id}"))
    assert '<code id="scim-base-url">https://learn.example.com/scim/v2</code>' in html
    assert 'curl -H "Authorization: Bearer ms_scim_…" https://learn.example.com/scim/v2/ServiceProviderConfig' in html


def test_the_base_url_follows_the_tenants_host(client, super_admin, credential, monkeypatch, app):
    monkeypatch.setitem(app.config, "PUBLIC_URL", None)
    monkeypatch.setitem(app.config, "TENANT_BASE_DOMAIN", "example.test")
    host = "https://default.example.test"
    sign_in(client, super_admin, base_url=host)
    html = text(client.get(f"{BASE}/{credential.id}", base_url=host))
    assert '<code id="scim-base-url">https://default.example.test/scim/v2</code>' in html


@pytest.mark.parametrize("configured", [True, False], ids=["public-url", "nothing-configured"])
def test_the_base_url_never_comes_from_the_host_header(client, super_admin, credential, app, monkeypatch, configured):
    # The suite's app trusts any Host (TRUSTED_HOSTS is fixed at start-up): the page must still not echo it.
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://learn.example.com" if configured else None)
    sign_in(client, super_admin, base_url="http://attacker.example")
    html = text(
        client.get(
            f"{BASE}/{credential.id}",
            base_url="http://attacker.example",
            headers={"X-Forwarded-Host": "forwarded.example"},
        )
    )
    assert "attacker.example" not in html and "forwarded.example" not in html
    if configured:
        assert '<code id="scim-base-url">https://learn.example.com/scim/v2</code>' in html
    else:
        # Only the path, and what to configure to see the rest.
        assert '<code id="scim-base-url">/scim/v2</code>' in html and "PUBLIC_URL" in html


def test_the_request_log_lists_recent_requests_with_status_time_ip_and_client(admin_client, credential):
    logged(credential, 200, "connection.tested", path="/scim/v2/ServiceProviderConfig", duration_ms=3.14)
    logged(credential, 201, "user.created", method="POST", user_agent="Mozilla/5.0 (Azure AD provisioning)")
    logged(credential, 404, failure="not_visible", method="PATCH", path="/scim/v2/Users/abc")
    response = admin_client.get(f"{BASE}/{credential.id}/requests", headers=HX)
    html = text(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="request-log"')
    rows = re.findall(r'<tr data-status="(\d+)"', html)
    assert rows == ["404", "201", "200"]  # newest first
    assert "/scim/v2/ServiceProviderConfig" in html and "3.1 ms" in html and "192.0.2.7" in html
    assert "connection test" in html and "user created" in html
    assert ">Okta<" in html and ">Entra ID<" in html
    assert "not SCIM-managed, or its role is above member (2)" in html


@pytest.mark.parametrize(
    ("status", "failure", "advice"),
    [
        (404, "not_visible", "Manage it in the dashboard"),
        (503, "no_super_admin", "Groups need a super-admin (role 5)"),
        (409, "uniqueness", "already has this userName or externalId"),
        (400, "invalidFilter", "filter this service does not support"),
        (500, "server_error", "failed on our side"),
    ],
)
def test_failing_requests_carry_what_to_do(admin_client, credential, status, failure, advice):
    logged(credential, status, failure=failure)
    assert advice in text(admin_client.get(f"{BASE}/{credential.id}/requests", headers=HX))


def test_the_log_shows_only_this_credentials_latest_25(admin_client, tenant, credential):
    other = credentials.issue(tenant, "Other")[0]
    logged(other, 200, path="/scim/v2/Groups")
    for minutes in range(30):
        logged(credential, 200, ago=timedelta(minutes=minutes))
    html = text(admin_client.get(f"{BASE}/{credential.id}/requests", headers=HX))
    assert len(re.findall(r"<tr data-status=", html)) == 25
    assert "/scim/v2/Groups" not in html


def test_refusals_without_a_valid_token_show_beside_the_log(admin_client, tenant, credential):
    logged(None, 401, failure="invalid_token", tenant_id=tenant.id)
    logged(None, 401, failure="invalid_token", tenant_id=tenant.id, ago=timedelta(hours=2))  # too old
    html = text(admin_client.get(f"{BASE}/{credential.id}/requests", headers=HX))
    assert re.search(r'id="refused-requests" data-count="1" data-throttled="0"', html)
    assert "1 request to this tenant\n      was refused</strong> in the last hour" in html


def test_counted_refusals_show_as_requests_per_address_with_their_window(admin_client, tenant, credential):
    credential.created_at = utcnow() - timedelta(hours=2)
    db.session.commit()
    minute = utcnow().replace(second=0, microsecond=0)
    flood = {"tenant_id": tenant.id, "ip": "198.51.100.7"}

    def counted(status, failure, count, minutes_ago, **kw):
        at = minute - timedelta(minutes=minutes_ago)
        return logged(None, status, failure=failure, count=count, bucket=f"{status}|{at}|{kw['ip']}", at=at, **kw)

    counted(401, "invalid_token", 30, 3, **flood)
    counted(429, "too_many_failures", 1200, 3, **flood)
    counted(429, "too_many_failures", 800, 1, **flood)
    counted(401, "invalid_token", 2, 2, tenant_id=tenant.id, ip="2001:db8:1:2::/64")
    counted(401, "invalid_token", 9, 90, **flood)  # older than the hour shown
    logged(credential, 200)  # the credential's own traffic is not a refusal
    html = text(admin_client.get(f"{BASE}/{credential.id}/requests", headers=HX))
    assert re.search(r'id="refused-requests" data-count="2032" data-throttled="2000"', html)
    assert "2,032 requests to this tenant\n      were refused</strong>" in html
    assert "2,000 of them came after too many failures from one\n      address and were answered 429" in html
    sources = re.findall(r'<li data-ip="([^"]+)" data-requests="(\d+)">', html)
    assert sources == [("198.51.100.7", "2030"), ("2001:db8:1:2::/64", "2")]  # most refusals first
    start, end = (minute - timedelta(minutes=3)).strftime("%H:%M"), minute.strftime("%H:%M")
    assert re.search(rf">{start}</time>–<time [^>]+>{end}</time> \(2,000 answered 429\)</li>", html)


def test_refusals_counted_in_the_minute_a_credential_was_issued_concern_it(admin_client, tenant, credential):
    # A counted row's time is its minute's start, which can precede the credential by up to a minute.
    minute = credential.created_at.replace(second=0, microsecond=0)
    logged(None, 401, failure="invalid_token", tenant_id=tenant.id, count=4, bucket="b", at=minute)
    html = text(admin_client.get(f"{BASE}/{credential.id}/requests", headers=HX))
    assert re.search(r'id="refused-requests" data-count="4"', html)


def test_a_counted_row_in_a_credentials_log_shows_its_requests_and_minute(admin_client, tenant, credential):
    credentials.disable(credential)
    logged(credential, 401, failure="credential_disabled")
    row = logged(credential, 429, failure="too_many_failures", count=57, bucket="k")
    html = text(admin_client.get(f"{BASE}/{credential.id}/requests", headers=HX))
    assert re.findall(r'<tr data-status="(\d+)"', html) == ["429", "401"]
    assert '<td class="path" data-requests="57"><strong>57 requests</strong>' in html
    start, end = row.at.strftime("%b %d %H:%M"), (row.at + timedelta(minutes=1)).strftime("%H:%M")
    assert re.search(rf">{start}</time>–<time [^>]+>{end}</time>", html)
    assert "answered 429 for up to a minute; valid tokens still work" in html


def test_histogram_and_list_add_up_counted_rows(admin_client, credential):
    logged(credential, 200)
    logged(credential, 401, failure="credential_disabled")
    logged(credential, 429, failure="too_many_failures", count=57, bucket="k")
    html = text(admin_client.get(f"{BASE}/{credential.id}/histogram", headers=HX))
    assert 'data-2xx="1" data-4xx="58" data-5xx="0"' in html and "59 requests in the last hour" in html
    since = utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    assert rollups.counts_for([credential.id], since)[credential.id] == {"2xx": 1, "4xx": 58, "5xx": 0}
    assert re.search(r'count-4xx"><span class="count-label">4xx</span> 58<', text(admin_client.get(BASE)))


def test_the_histogram_counts_by_status_class_over_the_chosen_window(admin_client, credential):
    logged(credential, 200)
    logged(credential, 204)
    logged(credential, 404, failure="not_found")
    logged(credential, 500, failure="server_error", ago=timedelta(hours=3))
    logged(credential, 200, ago=timedelta(days=3))
    logged(credential, 200, ago=timedelta(days=9))

    def counts(window: str | None) -> tuple[str, ...]:
        html = text(admin_client.get(f"{BASE}/{credential.id}/histogram", query_string={"window": window}, headers=HX))
        assert html.lstrip().startswith('<div id="status-histogram"')
        return re.search(r'data-window="(\w+)" data-2xx="(\d+)" data-4xx="(\d+)" data-5xx="(\d+)"', html).groups()

    assert counts(None) == ("hour", "2", "1", "0")
    assert counts("day") == ("day", "2", "1", "1")
    assert counts("week") == ("week", "3", "1", "1")
    assert counts("year") == ("hour", "2", "1", "0")


def test_the_histogram_keeps_polling_the_chosen_window(admin_client, credential):
    html = text(admin_client.get(f"{BASE}/{credential.id}?window=week"))
    assert f'hx-get="{BASE}/{credential.id}/histogram?window=week"' in html
    assert re.search(r'aria-current="true">Last week</a>', html)


def test_the_checklist_ticks_itself_from_the_operations_seen(admin_client, credential):
    logged(credential, 200, "users.searched")
    logged(credential, 201, "user.created")
    logged(credential, 409, "user.updated", failure="uniqueness")  # a failure proves nothing
    html = text(admin_client.get(f"{BASE}/{credential.id}/checklist", headers=HX))
    done = dict(re.findall(r'<li data-step="(\w+)" data-done="(\w+)"', html))
    assert done == {
        "connection": "true",
        "user_created": "true",
        "user_updated": "false",
        "user_deactivated": "false",
        "group_created": "false",
        "members_changed": "false",
    }
    assert 'hx-trigger="every 3s"' in html


def test_a_complete_checklist_stops_polling(admin_client, credential):
    for operation in ("user.created", "user.updated", "user.deleted", "group.created", "group.members_changed"):
        logged(credential, 200, operation)
    html = text(admin_client.get(f"{BASE}/{credential.id}/checklist", headers=HX))
    assert html.count('data-done="true"') == 6
    assert "hx-trigger" not in html and "First sync complete" in html


def test_another_tenants_credential_is_not_found(admin_client, tenant):
    other = tenants.create_tenant("acme")
    theirs = credentials.issue(other, "Acme Okta")[0]
    for path in ("", "/requests", "/histogram", "/checklist"):
        assert admin_client.get(f"{BASE}/{theirs.id}{path}").status_code == 404
    assert admin_client.post(f"{BASE}/{theirs.id}/revoke").status_code == 404
    assert fresh(theirs).state == "active"
    assert admin_client.get(f"{BASE}/999999").status_code == 404


# --- disable, enable, revoke ----------------------------------------------------------------------------


def test_buttons_are_named_for_what_they_do(admin_client, credential):
    html = text(admin_client.get(f"{BASE}/{credential.id}"))
    assert '<button type="submit" class="btn">Disable</button>' in html
    assert '<button type="submit" class="btn btn-danger">Revoke</button>' in html
    assert "hx-confirm=" in html and ">Enable<" not in html


def test_disable_then_enable_switches_scim_access_off_and_on(admin_client, client, credential, tenant):
    token = credentials.issue(tenant, "With a known token")[1]
    mine = credentials.find(tenant, token)
    scim = {"Authorization": f"Bearer {token}"}
    assert client.get("/scim/v2/ServiceProviderConfig", headers=scim).status_code == 200

    response = admin_client.post(f"{BASE}/{mine.id}/disable")
    assert response.status_code == 303 and response.location == f"{BASE}/{mine.id}"
    assert fresh(mine).state == "disabled"
    assert client.get("/scim/v2/ServiceProviderConfig", headers=scim).status_code == 401
    html = text(admin_client.get(f"{BASE}/{mine.id}"))
    assert "disabled; its requests now answer 401" in html and ">Enable</button>" in html

    admin_client.post(f"{BASE}/{mine.id}/enable")
    assert fresh(mine).state == "active"
    assert client.get("/scim/v2/ServiceProviderConfig", headers=scim).status_code == 200


def test_revoke_refuses_the_next_request_and_is_final(admin_client, client, tenant):
    credential, token = credentials.issue(tenant, "Okta")
    scim = {"Authorization": f"Bearer {token}"}
    assert client.get("/scim/v2/Users", headers=scim).status_code == 200
    assert admin_client.post(f"{BASE}/{credential.id}/revoke").status_code == 303
    assert client.get("/scim/v2/Users", headers=scim).status_code == 401

    html = text(admin_client.get(f"{BASE}/{credential.id}"))
    assert 'data-state="revoked"' in html and "revocation is final" in html
    assert ">Revoke</button>" not in html and ">Disable</button>" not in html
    # The refused request is logged against the revoked credential itself, with what to do.
    assert html.count('data-status="401"') == 1
    assert "revoked for good. Issue a new one" in html

    admin_client.post(f"{BASE}/{credential.id}/enable")
    assert fresh(credential).state == "revoked"
    assert "A revoked credential cannot be enabled." in text(admin_client.get(f"{BASE}/{credential.id}"))


def test_state_changes_are_posts_only(admin_client, credential):
    for action in ("disable", "enable", "revoke"):
        assert admin_client.get(f"{BASE}/{credential.id}/{action}").status_code == 405
    assert fresh(credential).state == "active"


# --- CSRF -----------------------------------------------------------------------------------------------


@pytest.fixture
def csrf_admin(make_app, app, super_admin):
    """A client of an app with CSRF on, signed in, with the page's token from both places."""
    client = make_app(WTF_CSRF_ENABLED=True).test_client()
    sign_in(client, super_admin)
    html = text(client.get(BASE))
    field = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    header = re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)
    return client, field, header


def test_with_csrf_on_issuing_needs_the_token_in_the_field_or_the_htmx_header(csrf_admin, tenant):
    client, field, header = csrf_admin
    assert client.post(BASE, data={"name": "No token"}, headers=SAME_ORIGIN).status_code == 400
    assert credentials.for_tenant(tenant) == []
    plain = client.post(BASE, data={"name": "Form", "csrf_token": field}, headers=SAME_ORIGIN)
    assert plain.status_code == 201
    htmx = client.post(BASE, data={"name": "Htmx"}, headers={**SAME_ORIGIN, **HX, "X-CSRFToken": header})
    assert htmx.status_code == 201
    assert sorted(c.name for c in credentials.for_tenant(tenant)) == ["Form", "Htmx"]


def test_with_csrf_on_revoking_needs_the_token(csrf_admin, credential):
    client, field, header = csrf_admin
    assert client.post(f"{BASE}/{credential.id}/revoke", headers=SAME_ORIGIN).status_code == 400
    assert client.post(f"{BASE}/{credential.id}/disable", headers=SAME_ORIGIN).status_code == 400
    assert fresh(credential).state == "active"
    response = client.post(f"{BASE}/{credential.id}/revoke", headers={**SAME_ORIGIN, **HX, "X-CSRFToken": header})
    assert response.status_code == 303
    assert fresh(credential).state == "revoked"


def test_a_role_4_admin_manages_credentials_too(client, tenant, credential):
    admin = accounts.create_local_user(tenant, "admin@example.com", Role.ADMIN, password="pw-admin-12", verified=True)
    sign_in(client, admin)
    assert client.get(f"{BASE}/{credential.id}").status_code == 200
    assert client.post(f"{BASE}/{credential.id}/disable").status_code == 303
