"""/Users: the rules SCIM provisioning must keep (docs/design.md R1-R5, R8)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import Role, ScimRequest, User, db
from services import accounts, roles, tenants
from tests.conftest import scim_error, statements
from tests.helpers import ENTERPRISE, PATCH_OP, USER


def new_user(user_name="Ada.Lovelace@example.com", **extra) -> dict:
    body = {
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": user_name.lower(), "type": "work", "primary": True}],
        "active": True,
    }
    body.update(extra)
    return body


def create(scim, **kwargs) -> dict:
    response = scim.post("/Users", new_user(**kwargs))
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def stored(scim_id: str) -> User:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.scim_id == scim_id))


def test_create_returns_full_resource_with_location(scim):
    response = scim.post("/Users", new_user(externalId="00u1"))
    assert response.status_code == 201
    assert response.mimetype == "application/scim+json"
    body = response.get_json()
    assert body["schemas"][0] == USER
    assert body["userName"] == "Ada.Lovelace@example.com"
    assert body["externalId"] == "00u1"
    assert body["active"] is True
    assert body["meta"]["resourceType"] == "User"
    assert response.headers["Location"] == body["meta"]["location"]
    assert body["meta"]["location"].endswith(f"/scim/v2/Users/{body['id']}")
    assert "password" not in body


def test_r1_created_users_are_scim_managed_members(scim):
    body = create(scim)
    user = stored(body["id"])
    assert user.scim_managed is True
    assert user.role == Role.MEMBER


def test_r2_active_false_bans_and_user_stays_readable(scim):
    body = create(scim)
    response = scim.patch(
        f"/Users/{body['id']}", {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}
    )
    assert response.status_code == 200
    assert response.get_json()["active"] is False
    assert stored(body["id"]).role == Role.BANNED
    assert scim.get(f"/Users/{body['id']}").get_json()["active"] is False
    listed = scim.get('/Users?filter=userName eq "ada.lovelace@example.com"').get_json()
    assert listed["totalResults"] == 1
    assert listed["Resources"][0]["active"] is False


def test_r2_active_true_reactivates(scim):
    body = create(scim, active=False)
    assert stored(body["id"]).role == Role.BANNED
    response = scim.patch(
        f"/Users/{body['id']}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "True"}]},
    )
    assert response.get_json()["active"] is True
    assert stored(body["id"]).role == Role.MEMBER


def test_r3_promoted_user_is_the_same_404_as_an_unknown_id(scim):
    body = create(scim)
    user = stored(body["id"])
    accounts.mark_verified(user)
    roles.set_role(user, Role.MODERATOR)
    unknown = scim.get("/Users/010101001010101011001010101011")
    for method in ("get", "put", "patch", "delete"):
        call = getattr(scim, method)
        args = () if method in ("get", "delete") else ({"schemas": [PATCH_OP], "Operations": []},)
        if method == "put":
            args = (new_user(),)
        if method == "patch":
            args = ({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": False}]},)
        hidden = call(f"/Users/{body['id']}", *args)
        never = call("/Users/010101001010101011001010101011", *args)
        scim_error(hidden, 404)
        assert hidden.get_data() == never.get_data() == unknown.get_data()
    assert stored(body["id"]).role == Role.MODERATOR


def test_r3_local_users_never_listed_or_reachable(scim, tenant):
    local = accounts.create_local_user(tenant, "local@example.com", Role.MEMBER)
    create(scim)
    listing = scim.get("/Users").get_json()
    assert listing["totalResults"] == 1
    assert all(r["userName"] != "local@example.com" for r in listing["Resources"])
    scim_error(scim.get(f"/Users/{local.scim_id}"), 404)
    filtered = scim.get('/Users?filter=emails.value eq "local@example.com"').get_json()
    assert filtered["totalResults"] == 0


def test_r4_created_unverified_and_email_change_unverifies(scim):
    body = create(scim)
    user = stored(body["id"])
    assert user.email_verified_at is None
    accounts.mark_verified(user)
    # Same address in another case is not a change of ownership claim.
    same = new_user(emails=[{"value": "ADA.LOVELACE@example.com", "type": "work", "primary": True}])
    scim.put(f"/Users/{body['id']}", same)
    assert stored(body["id"]).email_verified_at is not None
    patch = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": 'emails[type eq "work"].value', "value": "someone.else@example.com"}],
    }
    response = scim.patch(f"/Users/{body['id']}", patch)
    assert response.status_code == 200
    user = stored(body["id"])
    assert user.email == "someone.else@example.com"
    assert user.email_verified_at is None


def test_r4_unverified_scim_user_cannot_be_promoted(scim):
    body = create(scim)
    user = stored(body["id"])
    try:
        roles.set_role(user, Role.MODERATOR)
    except Exception as error:  # noqa: BLE001
        assert type(error).__name__ == "EmailNotVerified"
    else:
        raise AssertionError("promotion of an unverified user was allowed")
    assert stored(body["id"]).role == Role.MEMBER


def test_r5_username_unique_case_insensitive_and_original_case_kept(scim):
    body = create(scim)
    assert body["userName"] == "Ada.Lovelace@example.com"
    clash = scim.post("/Users", new_user("ADA.LOVELACE@EXAMPLE.COM"))
    error = scim_error(clash, 409, "uniqueness")
    assert "Ada" not in error["detail"] and body["id"] not in error["detail"]
    found = scim.get('/Users?filter=userName eq "ADA.lovelace@EXAMPLE.com"').get_json()
    assert found["totalResults"] == 1
    assert found["Resources"][0]["userName"] == "Ada.Lovelace@example.com"


def test_r5_external_id_unique(scim):
    create(scim, externalId="ext-1")
    scim_error(scim.post("/Users", new_user("other@example.com", externalId="ext-1")), 409, "uniqueness")


def test_r5_a_create_names_the_value_that_is_taken_and_the_user_name_first(scim):
    """One question answers both checks (services.provisioning.check_unique); the answer still says which value."""
    create(scim, externalId="ext-1")
    create(scim, user_name="grace@example.com", externalId="ext-2")
    name_taken = scim_error(scim.post("/Users", new_user(externalId="ext-new")), 409, "uniqueness")
    assert "userName" in name_taken["detail"]
    id_taken = scim_error(scim.post("/Users", new_user("new@example.com", externalId="ext-1")), 409, "uniqueness")
    assert "externalId" in id_taken["detail"]
    both = scim_error(scim.post("/Users", new_user("GRACE@example.com", externalId="ext-1")), 409, "uniqueness")
    assert "userName" in both["detail"]  # held by another account than the externalId's
    assert scim.post("/Users", new_user("new@example.com", externalId="ext-new")).status_code == 201


def test_r5_a_user_name_held_only_by_a_fold_clash_account_cannot_be_taken_anew(scim):
    """Accounts that only collided when the fold changed keep their own id in user_name_clash; the unique index then
    lets a new clash-0 account share the key, so the check before the write is what refuses it."""
    body = create(scim)
    user = stored(body["id"])
    user.user_name_clash = user.id
    db.session.commit()
    scim_error(scim.post("/Users", new_user("ADA.lovelace@example.com")), 409, "uniqueness")


def test_r5_moving_a_member_onto_a_taken_external_id_is_409(scim):
    create(scim, externalId="ext-1")
    other = create(scim, user_name="grace@example.com", externalId="ext-2")
    patch = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "externalId", "value": "ext-1"}]}
    error = scim_error(scim.patch(f"/Users/{other['id']}", patch), 409, "uniqueness")
    assert "externalId" in error["detail"]
    assert stored(other["id"]).external_id == "ext-2"
    keep = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "Grace"}]}
    assert scim.patch(f"/Users/{other['id']}", keep).status_code == 200  # keeping its own externalId is no clash


def test_r5_rename_onto_taken_username_is_409(scim):
    create(scim)
    other = create(scim, user_name="grace@example.com")
    patch = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Replace", "path": "userName", "value": "ada.lovelace@EXAMPLE.com"}],
    }
    scim_error(scim.patch(f"/Users/{other['id']}", patch), 409, "uniqueness")
    assert stored(other["id"]).user_name == "grace@example.com"


def test_r5_clash_with_promoted_account_reveals_nothing(scim):
    body = create(scim)
    user = stored(body["id"])
    accounts.mark_verified(user)
    roles.set_role(user, Role.ADMIN)
    clash = scim_error(scim.post("/Users", new_user()), 409, "uniqueness")
    assert "admin" not in clash["detail"].lower()


def test_r8_delete_deprovisions_keeps_account_and_frees_username(scim):
    body = create(scim, externalId="ext-9")
    response = scim.delete(f"/Users/{body['id']}")
    assert response.status_code == 204
    assert response.get_data() == b""
    user = stored(body["id"])
    assert user is not None
    assert user.role == Role.BANNED
    assert user.deprovisioned_at is not None
    scim_error(scim.get(f"/Users/{body['id']}"), 404)
    assert scim.get('/Users?filter=userName eq "ada.lovelace@example.com"').get_json()["totalResults"] == 0
    again = scim.post("/Users", new_user(externalId="ext-9"))
    assert again.status_code == 201
    assert again.get_json()["id"] != body["id"]
    scim_error(scim.delete(f"/Users/{body['id']}"), 404)


def test_put_replaces_profile_and_ignores_read_only(scim):
    body = create(scim, title="Countess", nickName="Ada")
    replacement = new_user(
        id="not-the-id",
        meta={"resourceType": "User", "created": "2000-01-01T00:00:00Z"},
        groups=[{"value": "g1"}],
        name={"givenName": "Augusta", "familyName": "King"},
        password="placeholder",
    )
    response = scim.put(f"/Users/{body['id']}", replacement)
    assert response.status_code == 200
    result = response.get_json()
    assert result["id"] == body["id"]
    assert result["name"] == {"givenName": "Augusta", "familyName": "King"}
    assert "title" not in result and "nickName" not in result
    assert result["meta"]["created"] == body["meta"]["created"]
    assert "password" not in result


def test_enterprise_extension_and_manager_shape(scim):
    body = create(scim, **{ENTERPRISE: {"employeeNumber": "42", "department": "R&D", "manager": "boss-id"}})
    ext = body[ENTERPRISE]
    assert ext["employeeNumber"] == "42"
    assert ext["manager"] == {"value": "boss-id"}
    assert ENTERPRISE in body["schemas"]
    patch = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": f"{ENTERPRISE}:manager", "value": "new-boss"}],
    }
    assert scim.patch(f"/Users/{body['id']}", patch).get_json()[ENTERPRISE]["manager"] == {"value": "new-boss"}


def test_multi_valued_attributes_kept_as_sent(scim):
    phones = [{"value": "+1 (555) 010-0000", "type": "work"}, {"value": "555.0101", "type": "mobile", "primary": True}]
    addresses = [{"streetAddress": "1 Main St", "locality": "Springfield", "type": "work"}]
    body = create(scim, phoneNumbers=phones, addresses=addresses)
    again = scim.get(f"/Users/{body['id']}").get_json()
    assert again["phoneNumbers"] == phones
    assert again["addresses"] == addresses


def test_invalid_bodies_are_400_with_scim_errors(scim):
    scim_error(scim.post("/Users", {"schemas": [USER]}), 400, "invalidValue")
    scim_error(scim.post("/Users", {"not": "a scim resource"}), 400)
    scim_error(scim.post("/Users", "[1, 2]"), 400, "invalidSyntax")
    scim_error(scim.post("/Users", "{not json"), 400, "invalidSyntax")
    scim_error(scim.post("/Users", new_user(active="maybe")), 400, "invalidValue")
    scim_error(scim.post("/Users", new_user(userName="x" * 300)), 400, "invalidValue")
    scim_error(scim.post("/Users", new_user(emails="not-a-list")), 400, "invalidValue")


def test_nulls_and_unknown_schemas_are_tolerated(scim):
    body = new_user(
        addresses=None,
        phoneNumbers=None,
        title=None,
        roles=[],
        **{"urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User": {"CustomAttribute": "x"}},
    )
    body["schemas"] = [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"]
    response = scim.post("/Users", body)
    assert response.status_code == 201


def test_attribute_names_are_case_insensitive_on_input(scim):
    response = scim.post("/Users", {"schemas": [USER], "USERNAME": "case@example.com", "Name": {"GivenName": "C"}})
    assert response.status_code == 201
    assert response.get_json()["name"] == {"givenName": "C"}


def test_attributes_and_excluded_attributes(scim):
    body = create(scim)
    only = scim.get(f"/Users/{body['id']}?attributes=userName,name.givenName").get_json()
    assert set(only) == {"schemas", "id", "userName", "name"}
    assert only["name"] == {"givenName": "Ada"}
    without = scim.get(f"/Users/{body['id']}?excludedAttributes=emails,meta").get_json()
    assert "emails" not in without and "meta" not in without and without["userName"]
    urn = scim.get(f"/Users/{body['id']}?attributes=urn:ietf:params:scim:schemas:core:2.0:User:userName").get_json()
    assert set(urn) == {"schemas", "id", "userName"}
    listed = scim.get("/Users?attributes=userName").get_json()["Resources"][0]
    assert set(listed) == {"schemas", "id", "userName"}


def test_paging_is_one_based_stable_and_capped(scim):
    ids = [create(scim, user_name=f"user{i:02}@example.com")["id"] for i in range(7)]
    page1 = scim.get("/Users?startIndex=1&count=3").get_json()
    page2 = scim.get("/Users?startIndex=4&count=3").get_json()
    page3 = scim.get("/Users?startIndex=7&count=3").get_json()
    assert page1["totalResults"] == 7 and page1["itemsPerPage"] == 3 and page1["startIndex"] == 1
    seen = [r["id"] for p in (page1, page2, page3) for r in p["Resources"]]
    assert seen == ids
    zero = scim.get("/Users?count=0").get_json()
    assert zero["totalResults"] == 7 and zero["Resources"] == [] and zero["itemsPerPage"] == 0
    negative = scim.get("/Users?startIndex=-5&count=-1").get_json()
    assert negative["startIndex"] == 1 and negative["Resources"] == []
    assert scim.get("/Users?count=5000").get_json()["itemsPerPage"] == 7
    scim_error(scim.get("/Users?count=ten"), 400, "invalidValue")


def test_default_page_is_100_and_cap_is_200(scim, tenant):
    db.session.add_all(
        User(
            tenant_id=tenant.id,
            scim_managed=True,
            role=Role.MEMBER,
            user_name=f"bulk{i}@example.com",
            user_name_ci=f"bulk{i}@example.com",
            profile={},
        )
        for i in range(230)
    )
    db.session.commit()
    assert scim.get("/Users").get_json()["itemsPerPage"] == 100
    capped = scim.get("/Users?count=1000").get_json()
    assert capped["itemsPerPage"] == 200 and capped["totalResults"] == 230


def test_zero_matches_is_200_empty_list(scim):
    response = scim.get('/Users?filter=userName eq "abcdefgh@atko.com"')
    assert response.status_code == 200
    body = response.get_json()
    assert body == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 0,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }


def test_bad_filters_are_400_invalid_filter(scim):
    scim_error(scim.get('/Users?filter=userName eq "unterminated'), 400, "invalidFilter")
    scim_error(scim.get('/Users?filter=shoeSize eq "42"'), 400, "invalidFilter")
    scim_error(scim.get("/Users?filter=userName zz 1"), 400, "invalidFilter")


def test_post_search(scim):
    create(scim)
    create(scim, user_name="grace@example.com")
    response = scim.post(
        "/Users/.search",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'userName sw "grace"',
            "attributes": ["userName"],
            "startIndex": 1,
            "count": 10,
        },
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["totalResults"] == 1
    assert body["Resources"][0]["userName"] == "grace@example.com"
    assert "emails" not in body["Resources"][0]


def test_listing_a_page_costs_the_same_queries_for_5_or_50_users(scim, app):
    def statements_for_listing() -> int:
        with statements() as seen:
            assert scim.get("/Users?count=100").status_code == 200
        return len(seen)

    for i in range(5):
        create(scim, user_name=f"few{i}@example.com")
    statements_for_listing()  # the first listing also records the credential's first "users listed"
    few = statements_for_listing()
    for i in range(45):
        create(scim, user_name=f"many{i}@example.com")
    assert statements_for_listing() == few


# --- R3 failure kinds, and hostile values -----------------------------------------------------------------------


def last_failure() -> str | None:
    db.session.expire_all()
    return db.session.scalar(select(ScimRequest.failure).order_by(ScimRequest.id.desc()))


def test_r3_the_log_tells_hidden_users_from_absent_ones_but_the_body_does_not(scim, tenant):
    promoted = create(scim, user_name="promoted@example.com")
    user = stored(promoted["id"])
    accounts.mark_verified(user)
    roles.set_role(user, Role.MODERATOR)
    local = accounts.create_local_user(tenant, "local@example.com", Role.MEMBER)
    gone = create(scim, user_name="gone@example.com")
    scim.delete(f"/Users/{gone['id']}")
    elsewhere = accounts.create_local_user(tenants.create_tenant("acme"), "acme@example.com", Role.MEMBER)
    kinds = {
        "010101001010101011001010101011": "not_found",
        gone["id"]: "not_found",  # deprovisioned here: the IdP may create it again (R8)
        elsewhere.scim_id: "not_found",  # another tenant's account does not exist here at all (R12)
        promoted["id"]: "not_visible",
        local.scim_id: "not_visible",
    }
    bodies = set()
    for scim_id, kind in kinds.items():
        for response in (scim.get(f"/Users/{scim_id}"), scim.delete(f"/Users/{scim_id}")):
            scim_error(response, 404)
            bodies.add(response.get_data())
            assert last_failure() == kind, scim_id
    assert len(bodies) == 1


@pytest.mark.parametrize(
    "value",
    ["v@x.t\r\nBcc: spy@evil.t", "v@x.t\n", "v @x.t", "v@x.t\t", "\u2028v@x.t", "no-at-sign", "a@b@c.t", "@x.t", "v@"],
)
def test_email_values_must_be_one_mailbox_without_whitespace(scim, value):
    response = scim.post("/Users", new_user(emails=[{"value": value, "type": "work"}]))
    error = scim_error(response, 400, "invalidValue")
    assert "emails" in error["detail"] and "spy" not in response.get_data(as_text=True)


def test_email_value_injected_by_patch_is_refused_and_nothing_changes(scim):
    body = create(scim)
    patch = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": 'emails[type eq "work"].value', "value": "v@x.t\r\nBcc: spy@evil.t"}],
    }
    scim_error(scim.patch(f"/Users/{body['id']}", patch), 400, "invalidValue")
    assert [e.value for e in stored(body["id"]).emails] == ["ada.lovelace@example.com"]


def test_email_values_are_otherwise_kept_as_sent(scim):
    odd = ["O'Brien+tag@Example.COM", "user@localhost", "\u00e9l\u00e8ve@\u00e9cole.fr"]
    body = create(scim, emails=[{"value": v} for v in odd])
    assert [e["value"] for e in body["emails"]] == odd


@pytest.mark.parametrize(
    "extra",
    [
        {"userName": "ada\r@example.com"},
        {"externalId": "ext\x7f"},
        {"displayName": "Ada\x1b[31m"},
        {"name": {"givenName": "A\nda"}},
        {"title": "x\ty"},
        {"phoneNumbers": [{"value": "+1\n555", "type": "work"}]},
        {"emails": [{"value": "a@b.t", "type": "wo\nrk"}]},
        {"addresses": [{"locality": "Spring\nfield"}]},
        {ENTERPRISE: {"department": "R\x07D"}},
        {ENTERPRISE: {"manager": {"value": "m\x01"}}},
    ],
)
def test_control_characters_in_string_attributes_are_400(scim, extra):
    response = scim.post("/Users", new_user(**extra))
    error = scim_error(response, 400, "invalidValue")
    assert "control" in error["detail"]


def test_multi_line_addresses_keep_their_newlines(scim):
    # RFC 7643 §4.1.2: formatted and streetAddress MAY contain newlines.
    addresses = [{"formatted": "1 Main St\nSpringfield", "streetAddress": "1 Main St\r\nFlat 2", "type": "work"}]
    assert create(scim, addresses=addresses)["addresses"] == addresses


def test_hostile_patch_paths_are_400_not_500(scim):
    body = create(scim)
    deep = "emails[" + "(" * 400 + 'type eq "work"' + ")" * 400 + "].value"
    for path, scim_type in ((deep, "invalidFilter"), ("emails[value eq " + "1" * 5000 + "]", "invalidPath")):
        patch = {"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": path}]}
        scim_error(scim.patch(f"/Users/{body['id']}", patch), 400, scim_type)
