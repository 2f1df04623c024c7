"""The API keys page: issue a key shown once, list with expiry and last use, revoke; absent where SCIM is off."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from models import ApiKey, Role, db, utcnow
from services import accounts, api_keys, tenants, tokens
from tests.admin import sign_in

BASE = "/admin/learn/api-keys"
HX = {"HX-Request": "true"}
SAME_ORIGIN = {"Referer": "https://localhost/admin/learn/api-keys"}


def text(response) -> str:
    return response.get_data(as_text=True)


def key_row(key_id: int) -> ApiKey:
    db.session.expire_all()
    return db.session.get(ApiKey, key_id)


def shown_key(html: str) -> str:
    match = re.search(r'<code id="new-token" class="token">([^<]+)</code>', html)
    assert match, "no #new-token on the page"
    return match.group(1)


@pytest.fixture
def key(tenant) -> ApiKey:
    return api_keys.issue(tenant, "SIEM export")[0]


@pytest.mark.parametrize(("method", "path"), [("GET", ""), ("POST", ""), ("POST", "/{id}/revoke")])
def test_with_scim_off_the_page_is_absent(admin_client, tenant, key, method, path):
    tenants.set_scim(tenant, False)
    response = admin_client.open(BASE + path.format(id=key.id), method=method, data={"name": "x"})
    assert response.status_code == 404
    assert key_row(key.id).state == "active"
    assert len(api_keys.for_tenant(tenant)) == 1
    assert BASE not in text(admin_client.get("/admin/users"))


def test_anonymous_visitors_are_sent_to_sign_in(client, key):
    assert client.get(BASE).location.startswith("/admin/login")
    assert client.post(BASE, data={"name": "x"}).location.startswith("/admin/login")
    assert client.post(f"{BASE}/{key.id}/revoke").location.startswith("/admin/login")
    assert key_row(key.id).state == "active"


def test_the_navigation_links_the_page_beside_the_credentials(admin_client):
    html = text(admin_client.get("/admin/users"))
    assert f'href="{BASE}"' in html and 'href="/admin/learn/scim-credentials"' in html


def test_an_empty_page_offers_to_issue_one(admin_client):
    response = admin_client.get(BASE)
    assert response.status_code == 200
    assert "No API keys yet." in text(response)
    assert 'name="name"' in text(response) and 'name="expires"' in text(response)


def test_issuing_shows_the_key_once_and_stores_only_its_digest(admin_client, tenant, super_admin):
    day = (utcnow() + timedelta(days=10)).date()
    response = admin_client.post(BASE, data={"name": "SIEM export", "expires": day.isoformat()}, headers=HX)
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["HX-Push-Url"] == BASE
    token = shown_key(text(response))
    assert re.fullmatch(r"ms_api_[A-Za-z0-9_-]{43}", token)
    [key] = api_keys.for_tenant(tenant)
    key = key_row(key.id)
    assert key.token_hash == tokens.digest(token)
    assert (key.name, key.expires_at.date(), key.created_by_id) == ("SIEM export", day, super_admin.id)
    # The form is blank again, and the key never comes back.
    assert 'value="SIEM export"' not in text(response)
    again = text(admin_client.get(BASE))
    assert token not in again and "new-token" not in again
    assert f"…{token[-4:]}" in again


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": ""}, "Give the key a name."),
        ({"name": "x" * 101}, "Field cannot be longer than 100 characters."),
        ({"name": "a\tb"}, "control characters"),
        ({"name": "x", "expires": "2001-01-01"}, "The expiry date must be after today (UTC)."),
        ({"name": "x", "expires": "soon"}, "Not a valid date value."),
    ],
)
def test_a_form_error_answers_422_and_issues_nothing(admin_client, tenant, data, message):
    response = admin_client.post(BASE, data=data)
    assert response.status_code == 422
    assert message in text(response)
    assert api_keys.for_tenant(tenant) == []


def test_the_list_shows_state_expiry_and_last_use_newest_first(admin_client, tenant, key):
    soon = api_keys.issue(tenant, "Audit", utcnow().date() + timedelta(days=3))[0]
    gone = api_keys.issue(tenant, "Old")[0]
    api_keys.revoke(gone)
    lapsed = api_keys.issue(tenant, "Lapsed", utcnow().date() + timedelta(days=1))[0]
    lapsed.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    api_keys.note_use(key)
    html = text(admin_client.get(BASE))
    ids = [int(i) for i in re.findall(r'<tr data-key-id="(\d+)"', html)]
    assert ids == [lapsed.id, gone.id, soon.id, key.id]

    def row(k):
        return re.search(rf'<tr data-key-id="{k.id}".*?</tr>', html, re.S).group(0)

    assert 'data-state="active"' in row(key) and row(key).count("<time") == 2  # created, last used
    assert 'data-state="active"' in row(soon) and (utcnow().date() + timedelta(days=3)).isoformat() in row(soon)
    assert 'data-state="revoked"' in row(gone) and "Revoke" not in row(gone)
    assert 'data-state="expired"' in row(lapsed)
    assert "by owner@example.com" not in row(key)  # issued from the CLI: no one to name


def test_revoking_takes_effect_and_another_tenants_key_is_a_404(admin_client, tenant, key):
    other = api_keys.issue(tenants.create_tenant("acme"), "Acme")[0]
    assert admin_client.post(f"{BASE}/{other.id}/revoke").status_code == 404
    assert key_row(other.id).state == "active"
    response = admin_client.post(f"{BASE}/{key.id}/revoke", headers=HX)
    assert response.status_code == 303 and response.location == BASE
    assert key_row(key.id).state == "revoked"
    assert "revoked; its next request answers 401" in text(admin_client.get(BASE))


def test_a_role_4_admin_manages_keys_and_a_moderator_cannot(client, tenant, key):
    moderator = accounts.create_local_user(
        tenant, "mod@example.com", Role.MODERATOR, password="pw-mod-1234", verified=True
    )
    sign_in(client, moderator)
    assert client.get(BASE).location.startswith("/admin/login")
    admin = accounts.create_local_user(tenant, "admin@example.com", Role.ADMIN, password="pw-admin-12", verified=True)
    sign_in(client, admin)
    assert client.get(BASE).status_code == 200
    assert client.post(f"{BASE}/{key.id}/revoke").status_code == 303


def test_with_csrf_on_issuing_and_revoking_need_the_token(make_app, app, super_admin, tenant, key):
    client = make_app(WTF_CSRF_ENABLED=True).test_client()
    sign_in(client, super_admin)
    html = text(client.get(BASE))
    header = re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)
    field = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    assert client.post(BASE, data={"name": "No token"}, headers=SAME_ORIGIN).status_code == 400
    assert client.post(f"{BASE}/{key.id}/revoke", headers=SAME_ORIGIN).status_code == 400
    assert [k.name for k in api_keys.for_tenant(tenant)] == ["SIEM export"]
    assert client.post(BASE, data={"name": "Form", "csrf_token": field}, headers=SAME_ORIGIN).status_code == 201
    revoked = client.post(f"{BASE}/{key.id}/revoke", headers={**SAME_ORIGIN, **HX, "X-CSRFToken": header})
    assert revoked.status_code == 303
    assert key_row(key.id).state == "revoked"
