"""Offboarding the IdP could not apply (R3 keeps the 404): the "Needs attention" panel, the badge, the mail."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from models import Cohort, CohortMember, OffboardingRequest, Role, User, db
from services import accounts, credentials, provisioning, roles
from services.provisioning import ScimProfile
from tests.admin import sign_in
from tests.helpers import PATCH_OP, USER, fresh

HX = {"HX-Request": "true"}
CREDENTIALS = "/admin/learn/scim-credentials"
UNKNOWN = "00000000-0000-4000-8000-000000000000"
OKTA_DEACTIVATE = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}
ENTRA_DEACTIVATE = {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
OKTA_REACTIVATE = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": True}}]}
RENAME = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "Grace H."}]}


def promoted(tenant, user_name="grace@example.com", role=Role.MODERATOR) -> User:
    """A member the IdP provisioned, then verified and promoted past member in the dashboard (hidden from SCIM)."""
    user = provisioning.create_scim_user(
        tenant,
        ScimProfile(
            user_name=user_name,
            emails=[{"value": user_name, "type": "work", "primary": True}],
            attributes={"displayName": "Grace Hopper", "name": {"givenName": "Grace", "familyName": "Hopper"}},
        ),
    )
    accounts.mark_verified(user)
    return roles.set_role(user, role)


def open_rows() -> list[OffboardingRequest]:
    db.session.expire_all()
    return list(db.session.scalars(select(OffboardingRequest).where(OffboardingRequest.resolved_at.is_(None))))


def panel(client) -> str:
    response = client.get(CREDENTIALS)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    match = re.search(r'<section class="panel panel-wide" id="attention".*?</section>', html, re.S)
    assert match, "no Needs attention panel"
    return match.group(0)


def row_of(html: str, user_id: int) -> str:
    match = re.search(rf'<tr id="user-{user_id}"[^>]*>.*?</tr>', html, re.S)
    assert match, f"no row for user {user_id}"
    return match.group(0)


@pytest.fixture
def outbox(app):
    directory = Path(app.config["MAIL_OUTBOX_DIR"])
    shutil.rmtree(directory, ignore_errors=True)

    def read() -> list[str]:
        return [p.read_text(encoding="utf-8") for p in sorted(directory.glob("*.eml"))] if directory.exists() else []

    return read


# --- the IdP's answer stays R3's 404 ------------------------------------------------------------------


def _answer(response) -> tuple:
    headers = sorted((k, v) for k, v in response.headers.items() if k.lower() not in ("date", "content-length"))
    return response.status_code, headers, response.get_data()


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("PATCH", OKTA_DEACTIVATE),
        ("PATCH", ENTRA_DEACTIVATE),
        ("PUT", {"schemas": [USER], "userName": "grace@example.com", "active": False}),
        ("DELETE", None),
    ],
)
def test_r3_the_refused_offboarding_answers_exactly_like_an_unknown_id(scim, tenant, method, body):
    user = promoted(tenant)
    hidden = scim.open(method, f"/Users/{user.scim_id}", body)
    unknown = scim.open(method, f"/Users/{UNKNOWN}", body)
    assert hidden.status_code == 404
    assert _answer(hidden) == _answer(unknown)
    assert fresh(user.id).role == Role.MODERATOR  # nothing applied
    (row,) = open_rows()
    assert row.user_id == user.id
    assert row.kind == ("delete" if method == "DELETE" else "deactivate")


def test_requests_that_are_no_offboarding_record_nothing(scim, tenant, super_admin):
    user = promoted(tenant)
    admin = accounts.create_local_user(tenant, "local-admin@example.com", Role.ADMIN, verified=True)
    for path, body in [
        (f"/Users/{user.scim_id}", RENAME),  # hidden, but not a deactivation
        (f"/Users/{user.scim_id}", {"schemas": [PATCH_OP], "Operations": [{"op": "bogus"}]}),  # refused anyway
        (f"/Users/{admin.scim_id}", OKTA_DEACTIVATE),  # a local account: never SCIM's
        (f"/Users/{UNKNOWN}", OKTA_DEACTIVATE),
    ]:
        assert scim.patch(path, body).status_code == 404
    assert scim.put(f"/Users/{user.scim_id}", {"schemas": [USER], "userName": "grace@example.com"}).status_code == 404
    assert open_rows() == []


def test_the_idp_reactivating_the_person_clears_the_item(scim, tenant):
    user = promoted(tenant)
    scim.patch(f"/Users/{user.scim_id}", OKTA_DEACTIVATE)
    assert len(open_rows()) == 1
    assert scim.patch(f"/Users/{user.scim_id}", OKTA_REACTIVATE).status_code == 404
    assert open_rows() == []
    assert fresh(user.id).role == Role.MODERATOR


def test_repeated_requests_count_on_one_item_and_a_deletion_outweighs(scim, tenant):
    user = promoted(tenant)
    scim.patch(f"/Users/{user.scim_id}", OKTA_DEACTIVATE)
    scim.patch(f"/Users/{user.scim_id}", ENTRA_DEACTIVATE)
    scim.delete(f"/Users/{user.scim_id}")
    (row,) = open_rows()
    assert (row.count, row.kind) == (3, "delete")


# --- the panel ----------------------------------------------------------------------------------------


def test_panel_lists_the_person_with_when_and_which_credential(admin_client, scim, tenant):
    user = promoted(tenant)
    other, _ = credentials.issue(tenant, "Entra staging")
    assert "Nothing needs attention" in panel(admin_client)
    scim.patch(f"/Users/{user.scim_id}", OKTA_DEACTIVATE)
    html = panel(admin_client)
    assert f'data-attention-user="{user.id}"' in html
    assert "Grace Hopper" in html and "grace@example.com" in html and "moderator" in html
    assert "Deactivation" in html
    row = open_rows()[0]
    assert f'datetime="{row.first_seen_at.isoformat(timespec="seconds")}Z"' in html
    assert ">Test IdP</a>" in html and "Entra staging" not in html
    assert other.id != row.credential_id


def test_ban_from_the_panel_removes_the_item(admin_client, scim, tenant):
    user = promoted(tenant)
    scim.patch(f"/Users/{user.scim_id}", OKTA_DEACTIVATE)
    response = admin_client.post(f"{CREDENTIALS}/attention/{user.id}/ban", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="panel panel-wide" id="attention"')
    assert "Grace Hopper: banned." in html and f'data-attention-user="{user.id}"' not in html
    assert fresh(user.id).role == Role.BANNED
    assert open_rows() == []
    assert f'data-attention-user="{user.id}"' not in panel(admin_client)
    # Banned, the person is SCIM's again (R1): the IdP reads them as inactive.
    assert scim.get(f"/Users/{user.scim_id}").get_json()["active"] is False


def test_ban_for_a_deletion_deprovisions_as_the_delete_would_have(admin_client, scim, tenant, super_admin):
    user = promoted(tenant)
    cohort = Cohort(tenant_id=tenant.id, name="Engineering", scim_managed=True, owner_id=super_admin.id)
    db.session.add(cohort)
    db.session.flush()
    db.session.add(CohortMember(cohort_id=cohort.id, user_id=user.id))
    db.session.commit()
    scim.delete(f"/Users/{user.scim_id}")
    response = admin_client.post(f"{CREDENTIALS}/attention/{user.id}/ban")
    assert response.status_code == 303 and response.headers["Location"].endswith("#attention")
    user = fresh(user.id)
    assert user.role == Role.BANNED and user.deprovisioned_at is not None
    assert scim.get(f"/Users/{user.scim_id}").status_code == 404  # R8: gone from SCIM, free to provision anew
    assert db.session.scalar(select(CohortMember).where(CohortMember.user_id == user.id)) is None


def test_demote_to_member_removes_the_item_and_scim_sees_the_person_again(admin_client, scim, tenant):
    user = promoted(tenant)
    scim.patch(f"/Users/{user.scim_id}", OKTA_DEACTIVATE)
    response = admin_client.post(f"{CREDENTIALS}/attention/{user.id}/member", headers=HX)
    assert response.status_code == 200
    assert "demoted to member" in response.get_data(as_text=True)
    assert fresh(user.id).role == Role.MEMBER
    assert open_rows() == []
    # R1/R3: a member again, the person exists for SCIM, and the IdP's next deactivation applies.
    assert scim.get(f"/Users/{user.scim_id}").status_code == 200
    assert scim.patch(f"/Users/{user.scim_id}", OKTA_DEACTIVATE).status_code == 200
    assert fresh(user.id).role == Role.BANNED


def test_a_role_change_anywhere_else_also_clears_the_item(admin_client, scim, tenant):
    user = promoted(tenant, role=Role.ADMIN)
    scim.patch(f"/Users/{user.scim_id}", OKTA_DEACTIVATE)
    admin_client.post(f"/admin/users/{user.id}/role", data={"role": "3"})  # still hidden: still listed
    assert len(open_rows()) == 1
    admin_client.post(f"/admin/users/{user.id}/role", data={"role": "2"})
    assert open_rows() == []
    assert f'data-attention-user="{user.id}"' not in panel(admin_client)


def test_panel_actions_keep_the_dashboard_rules(client, scim, tenant, super_admin):
    target = promoted(tenant, "boss@example.com", role=Role.SUPER_ADMIN)
    admin = accounts.create_local_user(tenant, "admin@example.com", Role.ADMIN, verified=True)
    scim.delete(f"/Users/{target.scim_id}")
    sign_in(client, admin)
    response = client.post(f"{CREDENTIALS}/attention/{target.id}/ban", headers=HX)
    assert "Ranks above you" in response.get_data(as_text=True)
    assert fresh(target.id).role == Role.SUPER_ADMIN
    assert len(open_rows()) == 1
    # Nobody settles their own item.
    sign_in(client, fresh(target.id))
    response = client.post(f"{CREDENTIALS}/attention/{target.id}/member", headers=HX)
    assert "This is you" in response.get_data(as_text=True)
    assert fresh(target.id).role == Role.SUPER_ADMIN


def test_panel_actions_need_the_csrf_token(app, admin_client, scim, tenant, monkeypatch):
    user = promoted(tenant)
    scim.patch(f"/Users/{user.scim_id}", OKTA_DEACTIVATE)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    response = admin_client.post(f"{CREDENTIALS}/attention/{user.id}/ban", headers=HX)
    assert response.status_code == 400 and "token is missing" in response.get_data(as_text=True)
    assert fresh(user.id).role == Role.MODERATOR
    assert len(open_rows()) == 1


def test_nothing_to_settle_is_said_not_done(admin_client, tenant):
    user = promoted(tenant)
    response = admin_client.post(f"{CREDENTIALS}/attention/{user.id}/ban", headers=HX)
    assert "Nothing is waiting for this person" in response.get_data(as_text=True)
    assert fresh(user.id).role == Role.MODERATOR
    assert admin_client.post(f"{CREDENTIALS}/attention/999999/ban", headers=HX).status_code == 404


# --- the members list ---------------------------------------------------------------------------------


def test_members_list_marks_the_person_with_an_attribute_and_a_badge(admin_client, scim, tenant):
    user = promoted(tenant)
    bystander = promoted(tenant, "linus@example.com")
    scim.patch(f"/Users/{user.scim_id}", OKTA_DEACTIVATE)
    html = admin_client.get("/admin/users").get_data(as_text=True)
    flagged = row_of(html, user.id)
    assert flagged.startswith(f'<tr id="user-{user.id}" data-idp-deprovisioned>')
    assert "Offboarded by IdP" in flagged and 'href="/admin/learn/scim-credentials#attention"' in flagged
    calm = row_of(html, bystander.id)
    assert "data-idp-deprovisioned" not in calm and "Offboarded by IdP" not in calm
    admin_client.post(f"{CREDENTIALS}/attention/{user.id}/member")
    assert "data-idp-deprovisioned" not in admin_client.get("/admin/users").get_data(as_text=True)


# --- the mail -----------------------------------------------------------------------------------------


def test_every_verified_super_admin_is_mailed_once_per_person(scim, tenant, super_admin, outbox):
    second = accounts.create_local_user(tenant, "second@example.com", Role.SUPER_ADMIN, verified=True)
    accounts.create_local_user(tenant, "plain-admin@example.com", Role.ADMIN, verified=True)
    user = promoted(tenant)
    response = scim.patch(f"/Users/{user.scim_id}", OKTA_DEACTIVATE)
    response.close()  # the mail goes out after the answer
    scim.patch(f"/Users/{user.scim_id}", ENTRA_DEACTIVATE).close()
    scim.delete(f"/Users/{user.scim_id}").close()
    mails = outbox()
    assert sorted(re.search(r"^To: (.*)$", m, re.M).group(1) for m in mails) == [
        "owner@example.com",
        second.email,
    ]
    mail = mails[0]
    assert "deactivate Grace Hopper (grace@example.com)" in mail
    assert 'through the SCIM credential "Test IdP"' in mail and "moderator" in mail
    assert "http://localhost/admin/learn/scim-credentials#attention" in mail


def test_the_mail_goes_out_after_the_answer_and_again_only_for_a_new_item(scim, tenant, super_admin, outbox):
    user = promoted(tenant)
    response = scim.patch(f"/Users/{user.scim_id}", OKTA_DEACTIVATE)
    assert outbox() == []
    response.close()
    assert len(outbox()) == 1
    scim.patch(f"/Users/{user.scim_id}", OKTA_REACTIVATE).close()  # closes the item
    scim.patch(f"/Users/{user.scim_id}", OKTA_DEACTIVATE).close()  # a new one
    assert len(outbox()) == 2


def test_without_a_configured_origin_the_mail_carries_no_link(app, scim, tenant, super_admin, outbox, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_URL", None)
    user = promoted(tenant)
    scim.patch(f"/Users/{user.scim_id}", OKTA_DEACTIVATE, headers={"Host": "attacker.example"}).close()
    (mail,) = outbox() or [""]
    assert "attacker.example" not in mail
    assert "no public address configured" in mail
