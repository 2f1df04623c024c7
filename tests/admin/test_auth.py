"""Signing in and out: who gets in (roles 4-5, verified, own tenant), sessions, throttling, CSRF."""

from __future__ import annotations

import logging
import re
import time
from datetime import timedelta

import pytest

from admin.limits import email_key
from extensions import client_key, limiter
from models import Role, User, db, utcnow
from services import accounts, roles, tenants, verification

OWNER = {"email": "owner@example.com", "password": "pw-owner-1"}
REFUSED = "That email and password do not match an admin account of this tenant."
# The test client speaks https (PREFERRED_URL_SCHEME), where Flask-WTF also checks a same-origin Referer.
SAME_ORIGIN = {"Referer": "https://localhost/admin/login"}
CREDENTIALS = "/admin/learn/scim-credentials"
WRONG = {"email": "owner@example.com", "password": "wrong-password"}


def signed_in_user_id(client) -> int | None:
    with client.session_transaction() as session:
        return session.get("user_id")


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def local_admin(tenant, email: str, role: int = Role.ADMIN, **kwargs) -> User:
    return accounts.create_local_user(tenant, email, role, password="pw-admin-12", verified=True, **kwargs)


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
    before = int(time.time())
    client.post("/admin/login", data=OWNER)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["user_id"] == super_admin.id
        assert session["epoch"] == super_admin.session_epoch == 0
        assert before <= session["issued_at"] <= time.time()


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


def test_a_demoted_admin_loses_the_dashboard_on_the_next_request(client, tenant, super_admin):
    client.post("/admin/login", data=OWNER)
    accounts.create_local_user(tenant, "second@example.com", Role.SUPER_ADMIN, verified=True)  # the tenant keeps one
    roles.set_role(super_admin, Role.MEMBER)
    assert client.get("/admin/learn/scim-credentials").status_code == 302
    assert signed_in_user_id(client) is None


def copy_of_cookie(app, client):
    """Another client holding a copy of `client`'s session cookie, as someone who copied it would."""
    other = app.test_client()
    name = "__Host-session"  # the test client speaks https (PREFERRED_URL_SCHEME)
    other.set_cookie(name, client.get_cookie(name).value)
    return other


def test_signing_out_ends_copies_of_the_session_cookie_too(app, client, super_admin):
    client.post("/admin/login", data=OWNER)
    copied = copy_of_cookie(app, client)
    assert copied.get(CREDENTIALS).status_code == 200
    client.post("/admin/logout")
    db.session.expire_all()
    assert db.session.get(User, super_admin.id).session_epoch == 1
    assert copied.get(CREDENTIALS).status_code == 302
    # Signing in again starts a session of the new epoch; the copy stays dead.
    client.post("/admin/login", data=OWNER)
    assert client.get(CREDENTIALS).status_code == 200
    assert copied.get(CREDENTIALS).status_code == 302


def test_signing_out_with_a_dead_session_changes_nothing(client, super_admin):
    with client.session_transaction() as session:
        session["user_id"] = super_admin.id  # no epoch, no time: not a session
    assert client.post("/admin/logout").status_code == 302
    db.session.expire_all()
    assert db.session.get(User, super_admin.id).session_epoch == 0


def test_a_new_password_ends_the_sessions_from_before(app, client, super_admin):
    client.post("/admin/login", data=OWNER)
    token = verification.issue(super_admin, verification.SET_PASSWORD, 1)
    new = {"password": "a new password", "confirm": "a new password"}
    assert app.test_client().post(f"/admin/password/{token}", data=new).status_code == 200
    assert client.get(CREDENTIALS).status_code == 302
    assert client.post("/admin/login", data={"email": OWNER["email"], "password": new["password"]}).status_code == 302
    assert client.get(CREDENTIALS).status_code == 200


@pytest.mark.parametrize(("age", "status"), [(timedelta(hours=11, minutes=59), 200), (timedelta(hours=12), 302)])
def test_a_session_ends_twelve_hours_after_signing_in(client, super_admin, age, status):
    client.post("/admin/login", data=OWNER)
    with client.session_transaction() as session:
        session["issued_at"] -= int(age.total_seconds())
    assert client.get(CREDENTIALS).status_code == status


def test_the_session_length_is_admin_session_hours(make_app, app, super_admin):
    client = make_app(ADMIN_SESSION_HOURS=1).test_client()
    client.post("/admin/login", data=OWNER)
    with client.session_transaction() as session:
        session["issued_at"] -= 3601
    assert client.get(CREDENTIALS).status_code == 302
    assert signed_in_user_id(client) is None


def test_a_session_from_the_future_is_refused(client, super_admin):
    client.post("/admin/login", data=OWNER)
    with client.session_transaction() as session:
        session["issued_at"] += 3600
    assert client.get(CREDENTIALS).status_code == 302


def test_a_cookie_with_only_a_user_id_is_no_session(client, super_admin):
    with client.session_transaction() as session:
        session["user_id"] = super_admin.id
    assert client.get(CREDENTIALS).status_code == 302
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
def limited(make_app, app):
    """Build an app with the throttle on; its counts start from zero and are cleared afterwards."""

    def build(**limits):
        built = make_app(RATELIMIT_ENABLED=True, **limits)
        limiter.reset()  # the limiter's storage exists once an app has initialised it
        return built

    yield build
    limiter.reset()


@pytest.fixture
def throttled(limited):
    """An app with the sign-in throttle on (3 failures a minute per address and email)."""
    return limited(LOGIN_LIMIT="3 per minute", LOGIN_ADDRESS_LIMIT="5 per minute")


def from_address(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


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


def test_an_ipv6_client_rotating_addresses_within_its_64_counts_as_one(throttled, super_admin):
    client = throttled.test_client()
    statuses = [
        client.post("/admin/login", data=WRONG, **from_address(f"2001:db8:1:2::{i:x}")).status_code for i in range(1, 5)
    ]
    assert statuses == [401, 401, 401, 429]
    assert client.post("/admin/login", data=WRONG, **from_address("2001:db8:1:2:ffff::9")).status_code == 429
    # The next /64 is someone else.
    assert client.post("/admin/login", data=WRONG, **from_address("2001:db8:1:3::1")).status_code == 401


def test_one_address_with_many_ipv6_addresses_trying_many_emails_is_throttled(throttled, super_admin):
    client = throttled.test_client()
    statuses = [
        client.post(
            "/admin/login", data={"email": f"guess{i}@example.com", "password": "pw"}, **from_address(f"2001:db8::{i}")
        ).status_code
        for i in range(1, 7)
    ]
    assert statuses == [401] * 5 + [429]


def test_one_account_is_throttled_from_any_number_of_addresses(limited, tenant, super_admin):
    client = limited(LOGIN_ACCOUNT_LIMIT="4 per hour").test_client()
    statuses = [
        client.post("/admin/login", data=WRONG, **from_address(f"198.51.100.{i}")).status_code for i in range(1, 7)
    ]
    assert statuses == [401] * 4 + [429] * 2
    # Even the right password waits, from a fresh address; other accounts are not affected.
    assert client.post("/admin/login", data=OWNER, **from_address("203.0.113.1")).status_code == 429
    local_admin(tenant, "admin@example.com")
    other = {"email": "admin@example.com", "password": "pw-admin-12"}
    assert client.post("/admin/login", data=other, **from_address("203.0.113.1")).status_code == 302


def test_the_account_limit_defaults_to_20_failures_an_hour(app):
    assert app.config["LOGIN_ACCOUNT_LIMIT"] == "20 per hour"


def test_the_throttle_never_logs_the_email(throttled, super_admin, caplog):
    caplog.set_level(logging.INFO)
    client = throttled.test_client()
    for _ in range(4):
        client.post("/admin/login", data={**WRONG, "email": "Owner@Example.com"})
    assert "exceeded" in caplog.text  # the limiter did log the refusal, keyed ...
    assert email_key("owner@example.com") in caplog.text  # ... by a hash of the email
    assert "owner@example.com" not in caplog.text.lower()


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        (None, "unknown"),
        ("", "unknown"),
        ("unix-socket", "unix-socket"),
    ],
)
def test_client_keys(address, key):
    assert client_key(address) == key


def test_email_keys_are_short_hashes_of_the_normalised_email():
    key = email_key(" Owner@Example.com ")
    assert key == email_key("owner@example.com") and len(key) == 16
    assert "owner" not in key


def test_email_keys_fold_as_accounts_are_looked_up():
    """Every spelling that finds one account (services.identifiers.fold) shares its throttle count."""
    same = {email_key("STRASSE@example.com"), email_key("straße@example.com"), email_key("ＳＴＲＡＳＳＥ@example.com")}
    assert len(same) == 1
    assert email_key("strasse@example.com") != email_key("strase@example.com")


# --- NUL bytes ------------------------------------------------------------------------------------------


def test_a_nul_byte_in_the_login_form_is_a_400_page(client, super_admin):
    response = client.post("/admin/login", data={"email": "a\x00@x.t", "password": "pw-owner-1"})
    assert response.status_code == 400
    assert response.mimetype == "text/html" and "NUL" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path", ["/admin/login?next=%00", "/admin/verify/%00abc", "/admin/password/abc%00", "/admin/setup/%00"]
)
def test_a_nul_byte_in_the_path_or_query_is_a_400_page(client, tenant, path):
    response = client.get(path)
    assert response.status_code == 400
    assert response.mimetype == "text/html"


def test_scim_paths_are_left_to_the_scim_side(client, scim_token):
    response = client.get("/scim/v2/ServiceProviderConfig?x=%00", headers={"Authorization": f"Bearer {scim_token}"})
    assert response.mimetype == "application/scim+json"


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
