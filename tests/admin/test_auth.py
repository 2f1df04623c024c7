"""Signing in and out: who gets in (roles 4-5, verified, own tenant), sessions, throttling, CSRF."""

from __future__ import annotations

import re

import pytest

from admin.limits import limiter
from models import Role, User, db, utcnow
from services import members, tenants

OWNER = {"email": "owner@example.com", "password": "pw-owner-1"}
REFUSED = "That email and password do not match an admin account of this tenant."
# The test client speaks https (PREFERRED_URL_SCHEME), where Flask-WTF also checks a same-origin Referer.
SAME_ORIGIN = {"Referer": "https://localhost/admin/login"}


def signed_in_user_id(client) -> int | None:
    with client.session_transaction() as session:
        return session.get("user_id")


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def local_admin(tenant, email: str, role: int = Role.ADMIN, **kwargs) -> User:
    return members.create_local_user(tenant, email, role, password="pw-admin-12", verified=True, **kwargs)


# --- the page -----------------------------------------------------------------------------------------


def test_login_page_has_the_form_csrf_and_htmx_from_our_origin(client, tenant):
    response = client.get("/admin/login")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'name="email"' in html and 'name="password"' in html
    assert 'autocomplete="current-password"' in html
    assert '<label for="email">Email</label>' in html
    assert 'hx-headers=\'{"X-CSRFToken": ' in html
    assert 'src="/static/vendor/htmx.min.js"' in html
    assert "https://" not in re.sub(r'href="https://localhost[^"]*"', "", html)  # no CDN, no third party


def test_the_vendor_htmx_is_served(client):
    response = client.get("/static/vendor/htmx.min.js")
    assert response.status_code == 200
    assert b'version:"2.' in response.data


def test_login_page_hints_at_first_run_setup_only_while_there_is_no_admin(client, tenant):
    assert "one-time setup link" in client.get("/admin/login").get_data(as_text=True)
    local_admin(tenant, "admin@example.com")
    assert "one-time setup link" not in client.get("/admin/login").get_data(as_text=True)


# --- who gets in ----------------------------------------------------------------------------------------


def test_a_verified_super_admin_signs_in_and_lands_on_credentials(client, super_admin):
    response = client.post("/admin/login", data=OWNER)
    assert response.status_code == 302
    assert response.location == "/admin/"
    assert signed_in_user_id(client) == super_admin.id
    landing = client.get("/admin/")
    assert landing.status_code == 302 and landing.location == "/admin/learn/scim-credentials"
    assert client.get("/admin/learn/scim-credentials").status_code == 200


def test_a_verified_admin_role_4_signs_in(client, tenant):
    admin = local_admin(tenant, "admin@example.com")
    response = client.post("/admin/login", data={"email": "ADMIN@example.com ", "password": "pw-admin-12"})
    assert response.status_code == 302
    assert signed_in_user_id(client) == admin.id


def test_with_scim_off_the_landing_page_is_users(client, tenant, super_admin):
    tenants.set_scim(tenant, False)
    client.post("/admin/login", data=OWNER)
    assert client.get("/admin/").location == "/admin/users"


def _unverified_admin(tenant) -> dict:
    user = local_admin(tenant, "unverified@example.com")
    user.email_verified_at = None  # e.g. the address changed since; R4 bars sign-in
    db.session.commit()
    return {"email": "unverified@example.com", "password": "pw-admin-12"}


def _moderator(tenant) -> dict:
    local_admin(tenant, "mod@example.com", role=Role.MODERATOR)
    return {"email": "mod@example.com", "password": "pw-admin-12"}


def _member(tenant) -> dict:
    local_admin(tenant, "member@example.com", role=Role.MEMBER)
    return {"email": "member@example.com", "password": "pw-admin-12"}


def _other_tenants_admin(tenant) -> dict:
    other = tenants.create_tenant("acme")
    local_admin(other, "acme-admin@example.com", role=Role.SUPER_ADMIN)
    return {"email": "acme-admin@example.com", "password": "pw-admin-12"}


def _deprovisioned_admin(tenant) -> dict:
    user = local_admin(tenant, "gone@example.com")
    user.deprovisioned_at = utcnow()
    db.session.commit()
    return {"email": "gone@example.com", "password": "pw-admin-12"}


@pytest.mark.parametrize(
    "attempt",
    [
        lambda tenant: {"email": "owner@example.com", "password": "wrong-password"},
        lambda tenant: {"email": "nobody@example.com", "password": "pw-owner-1"},
        lambda tenant: {"email": "owner@example.com", "password": "x" * 100},  # longer than bcrypt reads
        _unverified_admin,
        _moderator,
        _member,
        _other_tenants_admin,
        _deprovisioned_admin,
    ],
    ids=[
        "wrong-password",
        "unknown-email",
        "overlong-password",
        "unverified",
        "role-3",
        "role-2",
        "other-tenant",
        "deprovisioned",
    ],
)
def test_every_refusal_says_the_same_and_signs_nobody_in(client, tenant, super_admin, attempt):
    response = client.post("/admin/login", data=attempt(tenant))
    html = response.get_data(as_text=True)
    assert response.status_code == 401
    assert REFUSED in html
    assert signed_in_user_id(client) is None
    assert client.get("/admin/learn/scim-credentials").status_code == 302


def test_an_empty_form_is_answered_with_field_errors(client, tenant):
    response = client.post("/admin/login", data={"email": "", "password": ""})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Enter your email." in html and "Enter your password." in html
    assert 'aria-invalid="true"' in html


# --- sessions -------------------------------------------------------------------------------------------


def test_signing_in_starts_a_fresh_session(client, super_admin):
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    client.post("/admin/login", data=OWNER)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["user_id"] == super_admin.id


def test_session_cookie_is_httponly_samesite_and_secure_over_https(client, super_admin):
    response = client.post("/admin/login", data=OWNER, base_url="https://localhost")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_session_cookie_over_plain_http_is_not_secure_unless_configured(make_app, app, super_admin):
    response = app.test_client().post("/admin/login", data=OWNER, base_url="http://localhost")
    assert "Secure" not in response.headers["Set-Cookie"]
    forced = make_app(SESSION_COOKIE_SECURE=True).test_client()
    response = forced.post("/admin/login", data=OWNER, base_url="http://localhost")
    assert "Secure" in response.headers["Set-Cookie"]


def test_after_signing_in_a_safe_next_path_is_followed(client, super_admin):
    response = client.post("/admin/login?next=/admin/users?q=x", data=OWNER)
    assert response.location == "/admin/users?q=x"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"])
def test_after_signing_in_an_offsite_next_is_ignored(client, super_admin, target):
    response = client.post("/admin/login", query_string={"next": target}, data=OWNER)
    assert response.location == "/admin/"


def test_a_signed_in_admin_visiting_login_goes_on(client, super_admin):
    client.post("/admin/login", data=OWNER)
    assert client.get("/admin/login").location == "/admin/"


def test_anonymous_visitors_are_sent_to_sign_in_and_htmx_gets_a_client_redirect(client, tenant):
    response = client.get("/admin/learn/scim-credentials")
    assert response.status_code == 302
    assert response.location.startswith("/admin/login?next=")
    polled = client.get("/admin/learn/scim-credentials/1/requests", headers={"HX-Request": "true"})
    assert polled.status_code == 204
    assert polled.headers["HX-Redirect"].startswith("/admin/login")


def test_logout_is_a_post_that_forgets_the_session(client, super_admin):
    client.post("/admin/login", data=OWNER)
    assert client.get("/admin/logout").status_code == 405
    response = client.post("/admin/logout")
    assert response.status_code == 302 and response.location == "/admin/login"
    assert signed_in_user_id(client) is None
    assert "You are signed out." in client.get("/admin/login").get_data(as_text=True)


def test_a_demoted_admin_loses_the_dashboard_on_the_next_request(client, super_admin):
    client.post("/admin/login", data=OWNER)
    members.set_role(super_admin, Role.MEMBER)
    assert client.get("/admin/learn/scim-credentials").status_code == 302
    assert signed_in_user_id(client) is None


def test_signed_in_pages_show_the_navigation_and_a_sign_out_form(client, tenant, super_admin):
    client.post("/admin/login", data=OWNER)
    html = client.get("/admin/learn/scim-credentials").get_data(as_text=True)
    assert 'aria-current="page">Credentials</a>' in html
    assert 'href="/admin/users"' in html and 'href="/admin/cohorts"' in html
    assert re.search(r'<form class="nav-signout" method="post" action="/admin/logout">', html)
    tenants.set_scim(tenant, False)
    html = client.get("/admin/users").get_data(as_text=True)
    assert "/admin/learn/scim-credentials" not in html


# --- throttling -----------------------------------------------------------------------------------------


@pytest.fixture
def throttled(make_app, app):
    """An app with the sign-in throttle on (3 failures a minute per address and email)."""
    limited = make_app(RATELIMIT_ENABLED=True, LOGIN_LIMIT="3 per minute", LOGIN_ADDRESS_LIMIT="5 per minute")
    limiter.reset()
    yield limited
    limiter.reset()


def test_failed_sign_ins_are_throttled_with_a_clear_form_error(throttled, super_admin):
    client = throttled.test_client()
    wrong = {"email": "owner@example.com", "password": "wrong-password"}
    assert [client.post("/admin/login", data=wrong).status_code for _ in range(3)] == [401, 401, 401]
    response = client.post("/admin/login", data=wrong)
    html = response.get_data(as_text=True)
    assert response.status_code == 429
    assert "Too many failed sign-in attempts (at most 3 per 1 minute)" in html
    assert 'name="email"' in html  # the form, not an error page
    assert int(response.headers["Retry-After"]) > 0
    # While throttled even the right password waits: the limit is not an oracle.
    assert client.post("/admin/login", data=OWNER).status_code == 429
    assert signed_in_user_id(client) is None


def test_the_throttle_is_per_email_and_counts_only_failures(throttled, tenant, super_admin):
    client = throttled.test_client()
    for _ in range(4):
        assert client.post("/admin/login", data=OWNER).status_code == 302  # successes never count
    for _ in range(3):
        client.post("/admin/login", data={"email": "owner@example.com", "password": "nope-nope"})
    local_admin(tenant, "admin@example.com")
    response = client.post("/admin/login", data={"email": "admin@example.com", "password": "pw-admin-12"})
    assert response.status_code == 302
    assert client.get("/admin/login").status_code in (200, 302)  # GET is never throttled


def test_one_address_trying_many_emails_is_throttled_too(throttled, super_admin):
    client = throttled.test_client()
    statuses = [
        client.post("/admin/login", data={"email": f"guess{i}@example.com", "password": "pw"}).status_code
        for i in range(6)
    ]
    assert statuses == [401] * 5 + [429]


# --- CSRF -----------------------------------------------------------------------------------------------


def test_with_csrf_on_login_and_logout_need_the_token(make_app, app, super_admin):
    client = make_app(WTF_CSRF_ENABLED=True).test_client()
    assert client.post("/admin/login", data=OWNER, headers=SAME_ORIGIN).status_code == 400
    assert signed_in_user_id(client) is None

    token = csrf_from(client.get("/admin/login").get_data(as_text=True))
    response = client.post("/admin/login", data={**OWNER, "csrf_token": token}, headers=SAME_ORIGIN)
    assert response.status_code == 302
    assert signed_in_user_id(client) == super_admin.id

    page = client.get("/admin/learn/scim-credentials").get_data(as_text=True)
    header_token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    assert client.post("/admin/logout", headers=SAME_ORIGIN).status_code == 400
    assert signed_in_user_id(client) == super_admin.id
    response = client.post("/admin/logout", headers={**SAME_ORIGIN, "X-CSRFToken": header_token})
    assert response.status_code == 302
    assert signed_in_user_id(client) is None


def test_error_pages_render_also_for_a_host_that_names_no_tenant(client, tenant, monkeypatch, app):
    assert "404" in client.get("/no-such-page").get_data(as_text=True)
    monkeypatch.setitem(app.config, "TENANT_BASE_DOMAIN", "example.test")
    response = client.get("/admin/login", base_url="https://example.test")
    assert response.status_code == 404
    assert "Sign out" not in response.get_data(as_text=True)
