"""Browser-facing headers: CSP without inline script or eval, no sniffing, no framing, HSTS, a host-only cookie."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services import credentials, tenants
from tests.admin import sign_in
from tests.conftest import ScimClient

OWNER = {"email": "owner@example.com", "password": "pw-owner-1"}
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
PAGES = [
    "/admin/login",
    "/admin/learn/scim-credentials",
    "/admin/users",
    "/admin/cohorts",
    "/admin/verify/resend",
    "/admin/no-such-page",  # an error page
    "/static/css/app.css",
]


def directives(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return dict(part.strip().partition(" ")[::2] for part in policy.split(";"))


@pytest.mark.parametrize("path", PAGES)
def test_dashboard_responses_forbid_inline_script_eval_framing_and_sniffing(admin_client, path):
    response = admin_client.get(path)
    policy = directives(response)
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    assert "unsafe" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_htmx_fragments_carry_the_headers_too(admin_client, tenant):
    credential, _ = credentials.issue(tenant, "Okta")
    path = f"/admin/learn/scim-credentials/{credential.id}/histogram"
    response = admin_client.get(path, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/ServiceProviderConfig", "/Users", "/Users/nope", "/NoSuchThing"])
def test_scim_json_is_never_sniffed_rendered_or_framed(client, tenant, path):
    _, token = credentials.issue(tenant, "Okta")
    response = ScimClient(client, token).get(path)
    assert response.mimetype == "application/scim+json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_hsts_only_over_https(client, tenant):
    assert client.get("/admin/login", base_url="https://localhost").headers["Strict-Transport-Security"] == (
        "max-age=31536000"
    )
    assert "Strict-Transport-Security" not in client.get("/admin/login", base_url="http://localhost").headers


def test_pages_hold_no_inline_script_style_or_event_handler(client, super_admin, tenant):
    """What the CSP forbids must not be in the markup either, or the page silently breaks."""
    credential, _ = credentials.issue(tenant, "Okta")
    pages = []
    for path in ("/admin/login", "/admin/verify/resend"):
        pages.append(client.get(path).get_data(as_text=True))
    sign_in(client, super_admin)
    for path in ("/admin/learn/scim-credentials", f"/admin/learn/scim-credentials/{credential.id}", "/admin/users"):
        pages.append(client.get(path).get_data(as_text=True))
    issued = client.post("/admin/learn/scim-credentials", data={"name": "Entra"})  # the page with copy buttons
    assert issued.status_code == 201
    pages.append(issued.get_data(as_text=True))
    for html in pages:
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline <script>"
        assert not re.search(r"\sstyle=|<style", html), "inline style"
        assert not re.search(r"\s(?:hx-on|on[a-z]+)[:=]", html), "inline event handler"
    assert 'data-copy-target="new-token"' in pages[-1]
    assert '"allowEval": false' in pages[0] and '"includeIndicatorStyles": false' in pages[0]


def test_no_template_relies_on_what_the_csp_forbids():
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert "hx-on" not in text and " style=" not in text and "javascript:" not in text, template
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template


def test_htmx_indicator_styles_come_from_the_stylesheet(client):
    assert ".htmx-request .htmx-indicator" in client.get("/static/css/app.css").get_data(as_text=True)


# --- the session cookie ---------------------------------------------------------------------------------


def test_over_https_the_session_cookie_is_host_only_with_the_host_prefix(client, super_admin):
    cookie = client.post("/admin/login", data=OWNER, base_url="https://localhost").headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=")
    attributes = {part.strip().partition("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "path", "samesite"} <= attributes and "domain" not in attributes
    assert "; Path=/;" in cookie
    # The session it names works for the next request.
    assert client.get("/admin/learn/scim-credentials", base_url="https://localhost").status_code == 200


def test_over_plain_http_the_cookie_keeps_its_plain_name(app, super_admin):
    cookie = app.test_client().post("/admin/login", data=OWNER, base_url="http://localhost").headers["Set-Cookie"]
    assert cookie.startswith("session=") and "Secure" not in cookie


def test_forcing_secure_cookies_also_gives_the_host_prefix(make_app, app, super_admin):
    client = make_app(SESSION_COOKIE_SECURE=True).test_client()
    cookie = client.post("/admin/login", data=OWNER, base_url="http://localhost").headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=") and "Secure" in cookie


def test_a_tenant_subdomain_cannot_share_or_set_the_cookie(make_app, app, super_admin):
    tenants.create_tenant("acme")
    client = make_app(TENANT_BASE_DOMAIN="example.com").test_client()
    cookie = client.post("/admin/login", data=OWNER, base_url="https://default.example.com").headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=") and "Domain" not in cookie
    # A cookie planted for the whole base domain, as a sibling tenant's page could, is not the session.
    planted = make_app(TENANT_BASE_DOMAIN="example.com").test_client()
    planted.set_cookie("session", client.get_cookie("__Host-session", domain="default.example.com").value)
    response = planted.get("/admin/learn/scim-credentials", base_url="https://default.example.com")
    assert response.status_code == 302


def test_a_session_nothing_touched_sets_no_cookie_and_no_vary(app, tenant, super_admin):
    """SCIM requests (whose cookie is left unread) and static files answer without the session's cookie or
    `Vary: Cookie`; a page that reads the session says so, and one that changes it sets the cookie."""
    _, token = credentials.issue(tenant, "IdP")
    for response in (ScimClient(app.test_client(), token).get("/Users"), app.test_client().get("/static/css/app.css")):
        assert "Set-Cookie" not in response.headers and "Cookie" not in response.headers.get("Vary", "")
    signed_in = app.test_client()
    sign_in(signed_in, super_admin)
    assert "Cookie" in signed_in.get("/admin/learn/scim-credentials").headers["Vary"]
    assert "session=" in signed_in.post("/admin/logout").headers["Set-Cookie"]  # signed out, with a flash


def test_a_header_the_response_set_itself_is_kept_whatever_its_case(app):
    from flask import Response

    from security_headers import _add_headers

    with app.test_request_context("/admin/login"):
        response = _add_headers(Response("x", headers={"content-security-policy": "default-src 'none'"}))
    assert response.headers.getlist("Content-Security-Policy") == ["default-src 'none'"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
