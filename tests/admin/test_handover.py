"""From manual invites to SCIM without twins: adopting local members, and merging the twins the IdP made."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from models import Cohort, CohortMember, Role, User, db
from services import accounts, handover
from services.errors import Conflict, InvalidInput
from tests.helpers import PATCH_OP, USER, fresh

HX = {"HX-Request": "true"}


def local(tenant, email="ada@example.com", role=Role.MEMBER, verified=True) -> User:
    return accounts.create_local_user(tenant, email, role, verified=verified, display_name="Ada L.")


def push(scim, user_name="Ada@Example.com", email=None, **extra):
    """What the IdP sends for a new person: look the userName up, then create."""
    found = scim.get(f'/Users?filter=userName eq "{user_name}"').get_json()
    if found["totalResults"]:
        return found["Resources"][0], scim.patch(
            f"/Users/{found['Resources'][0]['id']}",
            {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"displayName": "Ada Lovelace"}}]},
        )
    body = {
        "schemas": [USER],
        "userName": user_name,
        "externalId": "00u-ada",
        "displayName": "Ada Lovelace",
        "emails": [{"value": email or user_name.lower(), "type": "work", "primary": True}],
        "active": True,
        **extra,
    }
    response = scim.post("/Users", body)
    return response.get_json(), response


def in_cohort(tenant, owner, user, name="Analytics", scim_managed=True) -> Cohort:
    cohort = Cohort(tenant_id=tenant.id, name=name, scim_managed=scim_managed, owner_id=owner.id)
    db.session.add(cohort)
    db.session.flush()
    db.session.add(CohortMember(cohort_id=cohort.id, user_id=user.id))
    db.session.commit()
    return cohort


def user_count() -> int:
    return db.session.scalar(select(func.count(User.id)))


# --- adoption -----------------------------------------------------------------------------------------


def test_an_adopted_member_is_found_and_updated_by_the_idp_instead_of_twinned(scim, tenant, super_admin):
    ada = local(tenant)
    cohort = in_cohort(tenant, super_admin, ada, scim_managed=False)
    handover.adopt(tenant, ada.id)
    before = user_count()
    resource, response = push(scim)
    assert response.status_code == 200  # the lookup found her: a PATCH, not a create
    assert resource["id"] == ada.scim_id and resource["userName"] == "ada@example.com"
    assert user_count() == before
    ada = fresh(ada.id)
    assert ada.scim_managed and ada.email_verified and ada.display_name == "Ada Lovelace"
    assert db.session.get(CohortMember, (cohort.id, ada.id)) is not None


def test_adoption_respects_r1_and_r5(tenant, scim):
    moderator = local(tenant, "mod@example.com", Role.MODERATOR)
    with pytest.raises(InvalidInput, match="SCIM never owns a higher role"):
        handover.adopt(tenant, moderator.id)
    ada = local(tenant)
    push(scim, "ADA@example.com", email="other@example.com")  # the IdP already made a twin with that userName key
    with pytest.raises(Conflict):
        handover.adopt(tenant, ada.id)
    assert not fresh(ada.id).scim_managed
    handover_twice = local(tenant, "bob@example.com")
    handover.adopt(tenant, handover_twice.id)
    with pytest.raises(InvalidInput, match="already managed"):
        handover.adopt(tenant, handover_twice.id)


def test_members_page_offers_the_hand_over_button_to_local_members_only(admin_client, tenant, super_admin):
    ada = local(tenant)
    moderator = local(tenant, "mod@example.com", Role.MODERATOR)
    html = admin_client.get("/admin/users").get_data(as_text=True)
    assert f"/admin/users/{ada.id}/adopt" in html
    assert f"/admin/users/{moderator.id}/adopt" not in html and f"/admin/users/{super_admin.id}/adopt" not in html
    response = admin_client.post(f"/admin/users/{ada.id}/adopt", headers=HX)
    body = response.get_data(as_text=True)
    assert "Handed to your identity provider as userName ada@example.com." in body
    assert "/adopt" not in body and "SCIM" in body
    assert fresh(ada.id).user_name == "ada@example.com"


def test_cli_adopts_one_member_or_all(app, tenant, super_admin):
    ada, bob = local(tenant), local(tenant, "bob@example.com", Role.BANNED)
    local(tenant, "mod@example.com", Role.MODERATOR)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "adopt", "--tenant", "default", "--email", "ada@example.com"])
    assert result.exit_code == 0, result.output
    assert result.output == f"{ada.id}\tada@example.com\tadopted\tuserName=ada@example.com\n"
    result = runner.invoke(args=["users", "adopt", "--tenant", "default", "--all-members"])
    assert result.output == f"{bob.id}\tbob@example.com\tadopted\tuserName=bob@example.com\n"
    assert fresh(bob.id).scim_managed and fresh(bob.id).role == Role.BANNED
    result = runner.invoke(args=["users", "adopt", "--tenant", "default", "--email", "mod@example.com"])
    assert result.exit_code == 1 and "not adopted: only members" in result.output


# --- duplicates and the merge -------------------------------------------------------------------------


def test_the_idp_create_still_answers_as_before_and_the_pair_is_listed(admin_client, scim, tenant, super_admin):
    ada = local(tenant)
    twin, response = push(scim)
    assert response.status_code == 201  # unchanged: the local account is invisible to SCIM (R3)
    (pair,) = handover.duplicate_pairs(tenant.id)
    assert (pair.scim_user.scim_id, pair.local_user.id, pair.mergeable) == (twin["id"], ada.id, True)
    html = admin_client.get("/admin/users").get_data(as_text=True)
    panel = re.search(r'<section class="panel" id="duplicates".*?</section>', html, re.S).group(0)
    assert f'data-duplicate-local="{ada.id}"' in panel and "Ada@Example.com" in panel
    assert 'action="/admin/users/merge"' in panel


def test_merge_keeps_the_local_account_and_gives_it_the_scim_identity(admin_client, scim, tenant, super_admin):
    ada = local(tenant)
    dashboard_cohort = in_cohort(tenant, super_admin, ada, "Mentors", scim_managed=False)
    twin, _ = push(scim)
    twin_row = db.session.scalar(select(User).where(User.scim_id == twin["id"]))
    scim_cohort = in_cohort(tenant, super_admin, twin_row, "Engineering")
    response = admin_client.post("/admin/users/merge", data={"scim_user": twin_row.id, "local_user": ada.id})
    assert response.status_code == 303 and response.headers["Location"].endswith("#duplicates")
    assert fresh(twin_row.id) is None  # the duplicate is gone
    ada = fresh(ada.id)
    assert (ada.scim_id, ada.external_id, ada.user_name) == (twin["id"], "00u-ada", "Ada@Example.com")
    assert ada.scim_managed and ada.role == Role.MEMBER and ada.email_verified  # verified here, same address
    assert {m.cohort_id for m in db.session.scalars(select(CohortMember).where(CohortMember.user_id == ada.id))} == {
        dashboard_cohort.id,
        scim_cohort.id,
    }
    # The id the IdP holds now names the merged account, and its lookup finds it.
    assert scim.get(f"/Users/{twin['id']}").get_json()["userName"] == "Ada@Example.com"
    again, response = push(scim)
    assert response.status_code == 200 and again["id"] == twin["id"]
    assert handover.duplicate_pairs(tenant.id) == []


def test_a_merge_never_hands_a_role_above_member_to_scim(admin_client, scim, tenant, super_admin):
    boss = local(tenant, "boss@example.com", Role.ADMIN)
    twin, _ = push(scim, "boss@example.com")
    twin_row = db.session.scalar(select(User).where(User.scim_id == twin["id"]))
    (pair,) = handover.duplicate_pairs(tenant.id)
    assert not pair.mergeable
    html = admin_client.get("/admin/users").get_data(as_text=True)
    assert "demote it to merge" in html
    admin_client.post("/admin/users/merge", data={"scim_user": twin_row.id, "local_user": boss.id})
    boss = fresh(boss.id)
    assert not boss.scim_managed and boss.role == Role.ADMIN
    assert fresh(twin_row.id) is not None
    with pytest.raises(InvalidInput, match="SCIM never owns a higher role"):
        handover.merge(tenant, twin_row.id, boss.id)


def test_merge_refuses_accounts_that_are_not_a_pair(tenant, scim):
    ada, bob = local(tenant), local(tenant, "bob@example.com")
    twin, _ = push(scim)
    twin_row = db.session.scalar(select(User).where(User.scim_id == twin["id"]))
    with pytest.raises(InvalidInput, match="not a SCIM account and a local account"):
        handover.merge(tenant, twin_row.id, bob.id)
    assert fresh(ada.id).scim_managed is False and fresh(twin_row.id) is not None


def test_merge_with_another_idp_address_unverifies_the_email(tenant, scim):
    ada = local(tenant)
    twin, _ = push(scim, "ada@example.com", email="ada.lovelace@corp.example")
    twin_row = db.session.scalar(select(User).where(User.scim_id == twin["id"]))
    merged = handover.merge(tenant, twin_row.id, ada.id)
    assert merged.email == "ada.lovelace@corp.example" and not merged.email_verified  # R4


def test_cli_lists_and_merges_duplicates(app, scim, tenant, super_admin):
    ada = local(tenant)
    twin, _ = push(scim)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "duplicates", "--tenant", "default"])
    assert result.output == f"{twin['id']}\tAda@Example.com\t{ada.id}\tada@example.com\tmergeable=yes\n"
    args = ["users", "merge", "--tenant", "default", "--scim-id", twin["id"], "--email", "ada@example.com"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert result.output == f"{ada.id}\tada@example.com\tmerged\tscim_id={twin['id']}\tuserName=Ada@Example.com\n"
