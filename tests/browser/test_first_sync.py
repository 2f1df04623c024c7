"""The first sync as an admin sees it, in a real browser: sign in, issue, watch traffic arrive, revoke.

Run: `.venv/bin/pytest tests/browser`. The test also takes a screenshot of the credential's page with
live traffic; set E2E_SCREENSHOT=1 to write it to docs/first-sync.png (the README's picture), otherwise
it goes to pytest's temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.helpers import GROUP, PATCH_OP, USER

ROOT = Path(__file__).resolve().parents[2]
OKTA = "Okta SCIM Client 1.0.0"
LIVE = 10_000  # ms to wait for a poll (every 2-3 s) to bring a change


class IdP:
    """Plays the identity provider: SCIM calls over real HTTP with the token the page showed."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base = base_url + "/scim/v2"
        self.token = token

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
            self.base + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Authorization": f"Bearer {self.token}",
                "User-Agent": OKTA,
                "Accept": "application/scim+json",
                "Content-Type": "application/scim+json; charset=utf-8",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - http://127.0.0.1 only
                raw = response.read()
                return response.status, json.loads(raw) if raw else {}
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")


def _sign_in(page: Page) -> None:
    page.goto("/admin/login")
    page.get_by_label("Email").fill("owner@example.com")
    page.get_by_label("Password").fill("pw-owner-1")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/admin/learn/scim-credentials$"))
    page.wait_for_load_state("load")  # the URL changes when the page arrives, before its scripts have run


def _issue(page: Page) -> str:
    page.get_by_label("Name").fill("Okta production")
    page.get_by_label("Slug (optional)").fill("okta-prod")
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/scim-credentials")) as issued:
        page.get_by_role("button", name="Issue credential").click()
    # htmx sent the form with the CSRF token from <body hx-headers>, as well as the hidden field.
    assert issued.value.headers.get("x-csrftoken")
    expect(page.locator("#new-token")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/admin/learn/scim-credentials/\d+$"))
    return page.locator("#new-token").inner_text().strip()


def _first_sync(idp: IdP) -> None:
    """Send what Okta sends on a first sync: test, search, create, update, deactivate, group, members."""
    assert idp.call("GET", "/ServiceProviderConfig")[0] == 200
    assert idp.call("GET", "/Users?count=2")[0] == 200
    status, user = idp.call(
        "POST",
        "/Users",
        {
            "schemas": [USER],
            "userName": "ada@example.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@example.com", "type": "work", "primary": True}],
            "active": True,
        },
    )
    assert status == 201, user
    rename = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "name.givenName", "value": "Augusta"}]}
    assert idp.call("PATCH", f"/Users/{user['id']}", rename)[0] == 200
    status, group = idp.call("POST", "/Groups", {"schemas": [GROUP], "displayName": "Engineering"})
    assert status == 201, group
    members = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": user["id"]}]}],
    }
    assert idp.call("PATCH", f"/Groups/{group['id']}", members)[0] in (200, 204)
    deactivate = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}
    assert idp.call("PATCH", f"/Users/{user['id']}", deactivate)[0] == 200
    # A clash the page explains: the same userName again.
    assert idp.call("POST", "/Users", {"schemas": [USER], "userName": "ada@example.com"})[0] == 409


def _watch_for_csp_violations(page: Page) -> list[str]:
    """Collect what the Content-Security-Policy blocks (and script errors): htmx would just stop working."""
    seen: list[str] = []
    blocked = ("Content Security Policy", "CSP violation", "Refused to")  # not the favicon's 404
    page.on("console", lambda m: seen.append(m.text) if any(word in m.text for word in blocked) else None)
    page.on("pageerror", lambda error: seen.append(str(error)))
    # Also the DOM's own report, which names the directive even where the console says nothing.
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', (e) => "
        "console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile"
        " + ':' + e.lineNumber + ' ' + location.pathname + ' ' + (e.target && e.target.outerHTML || '').slice(0, 200)))"
    )
    return seen


def test_first_sync_shows_live_and_revoke_refuses(page: Page, base_url: str, super_admin, tmp_path: Path) -> None:
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    errors = _watch_for_csp_violations(page)
    page.set_viewport_size({"width": 1280, "height": 900})

    _sign_in(page)
    # htmx is a deferred script: the page has navigated before it has run.
    page.wait_for_function("window.htmx !== undefined")
    assert page.evaluate("htmx.version").startswith("2.")
    assert page.evaluate("htmx.config.allowEval") is False
    token = _issue(page)
    assert token.startswith("ms_scim_")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    page.get_by_role("button", name="Copy token").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == token
    expect(page.locator("#scim-base-url")).to_have_text(base_url + "/scim/v2")  # PUBLIC_URL, as configured

    log = page.locator("#request-log")
    histogram = page.locator("#status-histogram")
    checklist = page.locator("#first-sync-checklist")
    expect(log).to_contain_text("No requests with this credential yet")
    expect(histogram).to_have_attribute("data-2xx", "0")
    expect(checklist.locator('li[data-done="true"]')).to_have_count(0)
    page.evaluate("window.stillTheSamePage = true")  # gone if anything reloads the page

    idp = IdP(base_url, token)
    assert idp.call("GET", "/ServiceProviderConfig")[0] == 200
    expect(log.locator("tr[data-status]")).to_have_count(1, timeout=LIVE)
    expect(histogram).to_have_attribute("data-2xx", "1", timeout=LIVE)

    _first_sync(idp)
    expect(log.locator("tr[data-status]")).to_have_count(9, timeout=LIVE)
    expect(histogram).to_have_attribute("data-2xx", "8", timeout=LIVE)
    expect(histogram).to_have_attribute("data-4xx", "1", timeout=LIVE)
    expect(log.locator('tr[data-status="409"]')).to_contain_text("already has this userName")
    expect(log).to_contain_text("Okta")
    expect(checklist.locator('li[data-done="true"]')).to_have_count(6, timeout=LIVE)
    assert page.evaluate("window.stillTheSamePage") is True

    # Coming back later: the token is gone for good, the traffic is still there.
    page.reload()
    expect(log.locator("tr[data-status]")).to_have_count(9)
    expect(page.locator("#new-token")).to_have_count(0)
    assert token not in page.content()
    shot = ROOT / "docs" / "first-sync.png" if os.environ.get("E2E_SCREENSHOT") else tmp_path / "first-sync.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    page.once("dialog", lambda dialog: dialog.accept())  # the hx-confirm question
    page.get_by_role("button", name="Revoke").click()
    expect(page.locator("h1 [data-state]")).to_have_text("revoked")
    expect(page.get_by_role("button", name="Revoke")).to_have_count(0)

    status, body = idp.call("GET", "/Users?count=2")
    assert status == 401 and body["status"] == "401"
    # The refusal shows up in this credential's own log, with the hint, without a reload.
    expect(log.locator('tr[data-status="401"]')).to_have_count(1, timeout=LIVE)
    expect(log.locator('tr[data-status="401"] .hint')).to_contain_text("revoked")

    assert all(url.startswith(base_url) for url in urls), [u for u in urls if not u.startswith(base_url)]
    assert errors == [], errors
