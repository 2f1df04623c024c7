"""Members page: listing, search, filters, paging, role changes (docs/design.md R3, R4), ban/unban, resend, invite."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from models import EmailToken, Role, User, db, utcnow
from services import accounts, directory, provisioning, roles, tenants
from services.provisioning import ScimProfile
from services.visibility import scim_visible
from tests.admin import sign_in
from tests.conftest import statements
from tests.helpers import fresh

HX = {"HX-Request": "true"}
# The test client speaks https (PREFERRED_URL_SCHEME), where Flask-WTF also wants a same-origin Referer.
SAME_ORIGIN = {"Referer": "https://localhost/admin/users"}


# --- helpers ------------------------------------------------------------------------------------------


def local(tenant, email, role=Role.MEMBER, verified=True, **kw) -> User:
    return accounts.create_local_user(tenant, email, role, verified=verified, **kw)


def scim_user(tenant, user_name, *, verified=False, email=None, **attributes) -> User:
    email = email or user_name
    user = provisioning.create_scim_user(
        tenant, ScimProfile(user_name=user_name, emails=[{"value": email, "primary": True}], attributes=attributes)
    )
    return accounts.mark_verified(user) if verified else user


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(r'"X-CSRFToken": "([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def row_of(html: str, user_id: int) -> str:
    match = re.search(rf'<tr id="user-{user_id}">.*?</tr>', html, re.S)
    assert match, f"no row for user {user_id}"
    return match.group(0)


@pytest.fixture
def outbox(app):
    directory_ = Path(app.config["MAIL_OUTBOX_DIR"])
    shutil.rmtree(directory_, ignore_errors=True)

    def read() -> list[str]:
        return [p.read_text(encoding="utf-8") for p in sorted(directory_.glob("*.eml"))] if directory_.exists() else []

    return read


def link_in(mail: str) -> str:
    match = re.search(r"https?://\S+/admin/(?:verify|password)/\S+", mail)
    assert match, mail
    return match.group(0)


# --- listing ------------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client, tenant):
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert "/admin/login" in response.headers["Location"]


def test_list_shows_role_scim_badge_and_verified_state(admin_client, tenant):
    mod = local(tenant, "mod@example.com", Role.MODERATOR, display_name="Mo Derator")
    idp = scim_user(tenant, "ida@corp.example", displayName="Ida Provisioned")
    gone = scim_user(tenant, "gone@corp.example")
    provisioning.deprovision(gone)

    response = admin_client.get("/admin/users")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "<html" in html and "Showing 1–4" in html
    assert "Mo Derator" in row_of(html, mod.id) and "moderator" in row_of(html, mod.id)
    assert "badge-ok" in row_of(html, mod.id) and "Local" in row_of(html, mod.id)
    idp_row = row_of(html, idp.id)
    assert "badge-scim" in idp_row and "Not verified" in idp_row
    assert "Deprovisioned" in row_of(html, gone.id)
    assert 'name="role"' not in row_of(html, gone.id)


def test_other_tenants_users_are_not_listed(admin_client, tenant):
    other = tenants.create_tenant("other")
    local(other, "stranger@example.com")
    html = admin_client.get("/admin/users").get_data(as_text=True)
    assert "stranger@example.com" not in html


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("ADA", {"ada@example.com"}),  # case-insensitive prefix of the email
        ("lovel", {"ada@example.com"}),  # family name
        ("ada love", {"ada@example.com"}),  # every word must match
        ("hopper", {"grace@example.com"}),  # later word of the display name
        ("gh", {"grace@example.com"}),  # userName
        ("ÉLO", {"elodie@example.com"}),  # non-ASCII case, folded alike on SQLite and PostgreSQL
        ("ünal", {"elodie@example.com"}),
        ("strasse", {"elodie@example.com"}),  # "Straße" folds to "strasse"
        ("%", set()),  # wildcards are literal
        ("_", set()),
        ("", {"ada@example.com", "grace@example.com", "elodie@example.com", "owner@example.com"}),
    ],
)
def test_search_by_name_email_and_user_name(admin_client, tenant, q, expected):
    provisioning.create_scim_user(
        tenant,
        ScimProfile(
            user_name="ada@example.com",
            emails=[{"value": "ada@example.com"}],
            attributes={"name": {"givenName": "Ada", "familyName": "Lovelace"}},
        ),
    )
    scim_user(tenant, "GHopper", email="grace@example.com", displayName="Grace Hopper")
    scim_user(tenant, "Straße", email="elodie@example.com", displayName="Élodie Ünal")

    html = admin_client.get("/admin/users", query_string={"q": q}).get_data(as_text=True)

    found = set(re.findall(r'<div class="muted small">\s*([^\s<]+@example\.com)', html))
    assert found == expected


def test_filters_by_role_source_and_verified(admin_client, tenant, super_admin):
    verified_local = local(tenant, "v@example.com")
    unverified_local = local(tenant, "u@example.com", verified=False)
    scim_member = scim_user(tenant, "s@example.com")
    mod = local(tenant, "m@example.com", Role.MODERATOR)

    def ids(**args) -> set[int]:
        html = admin_client.get("/admin/users", query_string=args).get_data(as_text=True)
        return {int(i) for i in re.findall(r'<tr id="user-(\d+)">', html)}

    assert ids(role="3") == {mod.id}
    assert ids(scim="yes") == {scim_member.id}
    assert ids(scim="no") == {super_admin.id, verified_local.id, unverified_local.id, mod.id}
    assert ids(verified="no") == {unverified_local.id, scim_member.id}
    assert ids(verified="yes", role="2") == {verified_local.id}
    # Values the form never offers are ignored, not an error.
    assert ids(role="9", scim="maybe", verified="x", page="abc") == {
        super_admin.id,
        verified_local.id,
        unverified_local.id,
        scim_member.id,
        mod.id,
    }


def test_paging_is_stable_with_a_total_and_clamped(admin_client, tenant):
    for i in range(60):
        local(tenant, f"user{i:02}@example.com", verified=False)

    def ids(page) -> list[int]:
        html = admin_client.get("/admin/users", query_string={"page": page}).get_data(as_text=True)
        return [int(i) for i in re.findall(r'<tr id="user-(\d+)">', html)]

    first, second = ids(1), ids(2)
    assert len(first) == directory.PER_PAGE and len(second) == 61 - directory.PER_PAGE
    assert first == sorted(first, reverse=True) and not set(first) & set(second)
    assert ids(99) == second and ids(-3) == first and ids("9" * 40) == second
    html = admin_client.get("/admin/users", query_string={"page": 2}).get_data(as_text=True)
    assert "Showing 51–61" in html and "of 61 users" in html and "Page 2 of 2" in html


def test_pager_links_keep_the_filters(admin_client, tenant):
    for i in range(55):
        local(tenant, f"p{i}@example.com", verified=False)
    html = admin_client.get("/admin/users", query_string={"q": "p", "verified": "no"}).get_data(as_text=True)
    assert re.search(r'href="/admin/users\?[^"]*page=2', html)
    next_link = re.search(r'rel="next"', html) and re.search(r'href="([^"]*page=2[^"]*)"', html).group(1)
    assert "q=p" in next_link and "verified=no" in next_link


def test_htmx_search_answers_the_results_fragment(admin_client, tenant):
    local(tenant, "frag@example.com")
    response = admin_client.get("/admin/users", query_string={"q": "frag"}, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html and "frag@example.com" in html and "owner@example.com" not in html
    assert "HX-Request" in response.headers["Vary"]

    restore = admin_client.get("/admin/users", headers={**HX, "HX-History-Restore-Request": "true"})
    assert "<html" in restore.get_data(as_text=True)


def test_page_wires_live_search_with_htmx(admin_client, tenant):
    html = admin_client.get("/admin/users").get_data(as_text=True)
    assert 'hx-get="/admin/users"' in html
    assert 'hx-trigger="input changed delay:300ms, change from:find select, submit"' in html
    assert 'hx-push-url="true"' in html
    assert '<label for="q">Search</label>' in html


def test_listing_runs_a_fixed_number_of_queries(admin_client, tenant):
    def count() -> int:
        with statements() as seen:
            assert admin_client.get("/admin/users").status_code == 200
        return len(seen)

    local(tenant, "a@example.com")
    few = count()
    for i in range(20):
        scim_user(tenant, f"s{i}@example.com")
    assert count() == few


# --- role changes -------------------------------------------------------------------------------------


def test_promote_a_verified_member_with_htmx(admin_client, tenant):
    user = local(tenant, "m@example.com")
    response = admin_client.post(f"/admin/users/{user.id}/role", data={"role": "3"}, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<tr id="user-{user.id}">')
    assert "Promoted to moderator." in html
    assert fresh(user.id).role == Role.MODERATOR


def test_plain_form_redirects_back_with_a_flash(admin_client, tenant):
    user = local(tenant, "m@example.com", Role.ADMIN)
    response = admin_client.post(f"/admin/users/{user.id}/role", data={"role": "2", "next": "/admin/users?q=m&role=4"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/users?q=m&role=4"
    assert fresh(user.id).role == Role.MEMBER
    with admin_client.session_transaction() as session:
        assert ("ok", "m@example.com: Demoted to member.") in session["_flashes"]


@pytest.mark.parametrize("target", ["https://evil.example/admin/users", "//evil.example/x", "/admin/cohorts"])
def test_next_never_leaves_the_members_page(admin_client, tenant, target):
    user = local(tenant, "m@example.com")
    response = admin_client.post(f"/admin/users/{user.id}/ban", data={"next": target})
    assert response.headers["Location"] == "/admin/users"


def test_r4_unverified_user_cannot_be_promoted(admin_client, tenant):
    user = local(tenant, "new@example.com", verified=False)
    html = admin_client.get("/admin/users").get_data(as_text=True)
    assert roles.UNVERIFIED in row_of(html, user.id)
    assert 'name="role"' not in row_of(html, user.id)

    response = admin_client.post(f"/admin/users/{user.id}/role", data={"role": "3"}, headers=HX)
    assert response.status_code == 200
    assert 'class="form-error"' in response.get_data(as_text=True)
    assert f'<p class="form-error" role="alert">{roles.UNVERIFIED}</p>' in response.get_data(as_text=True)
    assert fresh(user.id).role == Role.MEMBER


def test_scim_member_can_be_promoted_and_then_leaves_scim(admin_client, tenant):
    user = scim_user(tenant, "promo@corp.example", verified=True)
    admin_client.post(f"/admin/users/{user.id}/role", data={"role": "3"}, headers=HX)
    assert fresh(user.id).role == Role.MODERATOR
    assert db.session.scalar(select(User).where(scim_visible(tenant.id), User.id == user.id)) is None


def test_deprovisioned_user_cannot_be_promoted(admin_client, tenant):
    user = scim_user(tenant, "gone@corp.example", verified=True)
    provisioning.deprovision(user)
    html = admin_client.post(f"/admin/users/{user.id}/role", data={"role": "3"}, headers=HX).get_data(as_text=True)
    assert roles.DEPROVISIONED in html.replace("&#39;", "'")
    assert fresh(user.id).role == Role.BANNED


def test_admin_cannot_change_their_own_role_or_ban_themselves(admin_client, super_admin):
    html = admin_client.get("/admin/users").get_data(as_text=True)
    own = row_of(html, super_admin.id)
    assert 'name="role"' not in own and "Ban" not in own
    assert "This is you" in own
    assert "last super-admin" in own  # says why the tenant's only super-admin stays one

    for path, data in [("role", {"role": "4"}), ("ban", {})]:
        response = admin_client.post(f"/admin/users/{super_admin.id}/{path}", data=data, headers=HX)
        assert 'class="form-error"' in response.get_data(as_text=True)
    assert fresh(super_admin.id).role == Role.SUPER_ADMIN


def test_last_super_admin_rule():
    actor = User(id=1, role=Role.SUPER_ADMIN, email_verified_at=utcnow(), scim_managed=False)
    last = User(id=2, role=Role.SUPER_ADMIN, email_verified_at=utcnow(), scim_managed=False)
    assert roles.LAST_SUPER_ADMIN in roles.role_problems(actor, last, Role.ADMIN, super_admins=1)
    assert roles.role_problems(actor, last, Role.ADMIN, super_admins=2) == []


def test_one_of_two_super_admins_can_demote_the_other(admin_client, tenant):
    other = local(tenant, "second@example.com", Role.SUPER_ADMIN)
    admin_client.post(f"/admin/users/{other.id}/role", data={"role": "4"}, headers=HX)
    assert fresh(other.id).role == Role.ADMIN


def test_admin_cannot_act_above_their_rank(client, tenant, super_admin):
    admin = local(tenant, "admin@example.com", Role.ADMIN)
    member = local(tenant, "m@example.com")
    sign_in(client, admin)

    html = client.get("/admin/users").get_data(as_text=True)
    assert '<option value="5"' not in row_of(html, member.id)
    assert "Ranks above you" in row_of(html, super_admin.id)

    client.post(f"/admin/users/{member.id}/role", data={"role": "5"}, headers=HX)
    client.post(f"/admin/users/{super_admin.id}/ban", headers=HX)
    assert fresh(member.id).role == Role.MEMBER
    assert fresh(super_admin.id).role == Role.SUPER_ADMIN


@pytest.mark.parametrize("value", ["1", "0", "6", "admin", ""])
def test_invalid_role_values_are_a_message_not_a_500(admin_client, tenant, value):
    user = local(tenant, "m@example.com")
    response = admin_client.post(f"/admin/users/{user.id}/role", data={"role": value}, headers=HX)
    assert response.status_code == 200
    assert 'class="form-error"' in response.get_data(as_text=True)
    assert fresh(user.id).role == Role.MEMBER


def test_unknown_or_foreign_user_is_404(admin_client, tenant):
    stranger = local(tenants.create_tenant("other"), "x@example.com")
    assert admin_client.post(f"/admin/users/{stranger.id}/ban").status_code == 404
    assert admin_client.post("/admin/users/999999/role", data={"role": "3"}).status_code == 404
    assert fresh(stranger.id).role == Role.MEMBER


@pytest.mark.parametrize("action", ["role", "ban", "unban", "resend"])
@pytest.mark.parametrize("user_id", ["99999999999999999999999", "2147483648"])
def test_ids_beyond_the_database_integer_are_404(admin_client, tenant, action, user_id):
    response = admin_client.post(f"/admin/users/{user_id}/{action}", data={"role": "3"})
    assert response.status_code == 404


# --- ban and unban ------------------------------------------------------------------------------------


def test_ban_and_unban_a_local_user(admin_client, tenant):
    user = local(tenant, "m@example.com", Role.MODERATOR)
    html = admin_client.post(f"/admin/users/{user.id}/ban", headers=HX).get_data(as_text=True)
    assert "Banned." in html and "Unban" in html
    assert fresh(user.id).role == Role.BANNED

    html = admin_client.post(f"/admin/users/{user.id}/unban", headers=HX).get_data(as_text=True)
    assert "Ban lifted" in html
    assert fresh(user.id).role == Role.MEMBER


def test_scim_users_are_banned_by_their_idp_not_here(admin_client, tenant):
    active = scim_user(tenant, "a@corp.example", verified=True)
    inactive = provisioning.create_scim_user(tenant, ScimProfile(user_name="i@corp.example", active=False))
    html = admin_client.get("/admin/users").get_data(as_text=True)
    for user in (active, inactive):
        row = row_of(html, user.id)
        assert "/ban" not in row and "/unban" not in row
        assert "identity provider" in row
    assert "Deactivated" in row_of(html, inactive.id)

    admin_client.post(f"/admin/users/{active.id}/ban", headers=HX)
    admin_client.post(f"/admin/users/{inactive.id}/unban", headers=HX)
    response = admin_client.post(f"/admin/users/{inactive.id}/role", data={"role": "3"}, headers=HX)
    assert "identity provider" in response.get_data(as_text=True)
    assert fresh(active.id).role == Role.MEMBER
    assert fresh(inactive.id).role == Role.BANNED


# --- resend and invite --------------------------------------------------------------------------------


def test_resend_verification_mails_a_fresh_link(admin_client, tenant, outbox):
    user = scim_user(tenant, "new@corp.example")
    html = admin_client.get("/admin/users").get_data(as_text=True)
    assert "Resend verification" in row_of(html, user.id)

    response = admin_client.post(f"/admin/users/{user.id}/resend", headers=HX)
    assert "Verification link sent to new@corp.example" in response.get_data(as_text=True)
    (mail,) = outbox()
    assert "To: new@corp.example" in mail and "/admin/verify/" in link_in(mail)
    assert db.session.scalar(select(EmailToken.purpose).where(EmailToken.user_id == user.id)) == "verify"


def test_resend_to_an_address_mail_cannot_carry_is_a_row_error(admin_client, tenant, outbox):
    user = scim_user(tenant, "cr@corp.example", email="cr@corp.example\r\nBcc: someone@evil.test")
    response = admin_client.post(f"/admin/users/{user.id}/resend", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'class="form-error"' in html and "cannot receive mail" in html
    assert outbox() == []
    # A plain form gets the same message as a flash.
    response = admin_client.post(f"/admin/users/{user.id}/resend")
    assert response.status_code == 303
    with admin_client.session_transaction() as session:
        assert any("cannot receive mail" in text for _, text in session["_flashes"])


def test_resend_for_a_verified_user_sends_nothing(admin_client, tenant, outbox):
    user = scim_user(tenant, "done@corp.example", verified=True)
    response = admin_client.post(f"/admin/users/{user.id}/resend", headers=HX)
    assert "already verified" in response.get_data(as_text=True)
    assert outbox() == []


def test_invite_page_has_labelled_fields(admin_client):
    response = admin_client.get("/admin/users/invite")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<label for="email">Email</label>' in html and '<label for="display_name">' in html


def test_invite_creates_a_local_member_and_mails_a_set_password_link(admin_client, tenant, outbox):
    response = admin_client.post("/admin/users/invite", data={"email": " New@Example.com ", "display_name": "Newt"})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/users"

    user = accounts.find_by_email(tenant, "new@example.com")
    assert user.role == Role.MEMBER and not user.scim_managed
    assert user.display_name == "Newt" and user.password_hash is None and not user.email_verified
    (mail,) = outbox()
    assert "To: New@Example.com" in mail and "/admin/password/" in link_in(mail)
    assert "owner@example.com invited you" in mail
    with admin_client.session_transaction() as session:
        assert any("Invitation sent to New@Example.com" in text for _, text in session["_flashes"])

    html = admin_client.get("/admin/users").get_data(as_text=True)
    assert "Resend invite" in row_of(html, user.id)


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("", "Enter an email address."),
        ("not-an-email", "like name@example.com"),
        ("a\x01b@example.com", "like name@example.com"),
        ("a@example.com,b@example.com", "like name@example.com"),
        ("owner@example.com", "exists"),
    ],
)
def test_invite_errors_are_form_errors(admin_client, outbox, email, message):
    response = admin_client.post("/admin/users/invite", data={"email": email})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'class="form-error"' in html and message in html
    assert 'aria-invalid="true"' in html
    assert outbox() == []


def test_a_nul_byte_in_the_invite_form_is_a_400_page(admin_client, tenant, outbox):
    response = admin_client.post("/admin/users/invite", data={"email": "a\x00b@x.t"})
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert accounts.find_by_email(tenant, "ab@x.t") is None and outbox() == []


def test_a_nul_byte_in_the_search_is_a_400_page(admin_client, tenant):
    for query in ("q=%00abc", "role=%00", "page=1&%00=x"):
        response = admin_client.get(f"/admin/users?{query}")
        assert response.status_code == 400, query
        assert response.mimetype == "text/html"


# --- CSRF ---------------------------------------------------------------------------------------------


@pytest.fixture
def csrf_client(make_app, super_admin, public_url):
    client = make_app(WTF_CSRF_ENABLED=True, PUBLIC_URL=public_url).test_client()
    client.environ_base["HTTP_REFERER"] = SAME_ORIGIN["Referer"]
    sign_in(client, super_admin)
    return client


def test_csrf_role_change_and_ban_need_the_htmx_header(csrf_client, tenant):
    user = local(tenant, "m@example.com")
    token = csrf_from(csrf_client.get("/admin/users").get_data(as_text=True))

    assert csrf_client.post(f"/admin/users/{user.id}/role", data={"role": "3"}, headers=HX).status_code == 400
    assert csrf_client.post(f"/admin/users/{user.id}/ban", headers=HX).status_code == 400
    assert fresh(user.id).role == Role.MEMBER

    with_token = {**HX, "X-CSRFToken": token}
    assert csrf_client.post(f"/admin/users/{user.id}/role", data={"role": "3"}, headers=with_token).status_code == 200
    assert fresh(user.id).role == Role.MODERATOR
    assert csrf_client.post(f"/admin/users/{user.id}/ban", headers=with_token).status_code == 200
    assert fresh(user.id).role == Role.BANNED


def test_csrf_invite_and_resend(csrf_client, tenant, outbox):
    assert csrf_client.post("/admin/users/invite", data={"email": "a@example.com"}).status_code == 400
    assert accounts.find_by_email(tenant, "a@example.com") is None

    token = csrf_from(csrf_client.get("/admin/users/invite").get_data(as_text=True))
    response = csrf_client.post("/admin/users/invite", data={"email": "a@example.com", "csrf_token": token})
    assert response.status_code == 303
    user = accounts.find_by_email(tenant, "a@example.com")

    assert csrf_client.post(f"/admin/users/{user.id}/resend", headers=HX).status_code == 400
    assert len(outbox()) == 1
    response = csrf_client.post(f"/admin/users/{user.id}/resend", headers={**HX, "X-CSRFToken": token})
    assert response.status_code == 200 and len(outbox()) == 2
