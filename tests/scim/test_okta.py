"""Okta's provisioning sequence, replayed with the headers and bodies Okta sends (docs/idp-behaviour.md §1.1)."""

from __future__ import annotations

import json
from urllib.parse import quote

from tests.conftest import ScimClient, scim_error
from tests.helpers import GROUP, PATCH_OP, USER

OKTA_HEADERS = {
    "User-Agent": "Okta SCIM Client 1.0.0",
    "Accept": "application/scim+json",
    "Accept-Charset": "utf-8",
    "Accept-Encoding": "gzip,deflate",
}

# B-OK1: the create body, password placeholder included.
OKTA_CREATE = {
    "schemas": [USER],
    "userName": "test.user@okta.local",
    "name": {"givenName": "Test", "familyName": "User"},
    "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
    "displayName": "Test User",
    "locale": "en-US",
    "externalId": "00ujl29u0le5T6Aj10h7",
    "groups": [],
    "password": "1mz050nq",
    "active": True,
}


def okta(client, token: str, header_mode: bool = False) -> ScimClient:
    """Okta's client; in its 'HTTP Header' auth mode the token goes without the Bearer scheme."""
    scim = ScimClient(client, None)
    auth = token if header_mode else f"Bearer {token}"

    def open_(method, path, body=None, headers=None, **kwargs):
        merged = {**OKTA_HEADERS, "Authorization": auth, "Host": "localhost", **(headers or {})}
        if body is not None:
            merged["Content-Type"] = "application/scim+json; charset=utf-8"
            kwargs["data"] = json.dumps(body)
        return client.open("/scim/v2" + path, method=method, headers=merged, **kwargs)

    scim.open = open_
    return scim


def user_filter(user_name: str) -> str:
    return "/Users?filter=" + quote(f'userName eq "{user_name}"') + "&startIndex=1&count=100"


def test_connection_test_k1(client, scim_token):
    idp = okta(client, scim_token)
    users = idp.get("/Users?startIndex=1&count=2")
    assert users.status_code == 200
    body = users.get_json()
    assert isinstance(body["totalResults"], int) and isinstance(body["itemsPerPage"], int)
    assert idp.get("/Groups?startIndex=1&count=100").status_code == 200


def test_header_auth_mode_without_bearer(client, scim_token):
    assert okta(client, scim_token, header_mode=True).get("/Users?startIndex=1&count=2").status_code == 200


def test_provisioning_lifecycle_oin(client, scim_token):
    idp = okta(client, scim_token)

    # Okta K2: lookup before create finds nothing, with a 200.
    lookup = idp.get(user_filter("test.user@okta.local")).get_json()
    assert lookup["totalResults"] == 0 and lookup["Resources"] == []

    # Okta K3: create; a second identical create is a 409.
    created = idp.post("/Users", OKTA_CREATE)
    assert created.status_code == 201
    user = created.get_json()
    assert user["active"] is True and "password" not in user
    scim_error(idp.post("/Users", OKTA_CREATE), 409, "uniqueness")

    # Okta's spec test looks the user up with the userName upper-cased.
    upper = idp.get(user_filter("TEST.USER@OKTA.LOCAL")).get_json()
    assert upper["totalResults"] == 1 and upper["Resources"][0]["id"] == user["id"]

    # Okta K5: profile update is GET then a full PUT that echoes id, meta and groups (B-OK2).
    assert idp.get(f"/Users/{user['id']}").status_code == 200
    put_body = {
        "schemas": [USER],
        "id": user["id"],
        "userName": "test.user@okta.local",
        "name": {"givenName": "Another", "middleName": "Excited", "familyName": "User"},
        "emails": [
            {"primary": True, "value": "test.user@okta.local", "type": "work", "display": "test.user@okta.local"}
        ],
        "active": True,
        "groups": [],
        "meta": {"resourceType": "User"},
    }
    updated = idp.put(f"/Users/{user['id']}", put_body)
    assert updated.status_code == 200
    assert updated.get_json()["name"]["middleName"] == "Excited"

    # Okta K6: deactivate with a path-less replace; the user stays readable with active false.
    deactivate = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}
    response = idp.patch(f"/Users/{user['id']}", deactivate)
    assert response.status_code == 200 and response.get_json()["active"] is False
    assert idp.get(f"/Users/{user['id']}").get_json()["active"] is False
    assert idp.get(user_filter("test.user@okta.local")).get_json()["Resources"][0]["active"] is False

    # Okta K7: reactivate the same way.
    reactivate = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": True}}]}
    assert idp.patch(f"/Users/{user['id']}", reactivate).get_json()["active"] is True


def test_aiw_app_deactivates_with_put_k6b(client, scim_token):
    idp = okta(client, scim_token)
    user = idp.post("/Users", OKTA_CREATE).get_json()
    body = {**OKTA_CREATE, "id": user["id"], "active": False, "meta": {"resourceType": "User"}}
    response = idp.put(f"/Users/{user['id']}", body)
    assert response.status_code == 200 and response.get_json()["active"] is False
    body["active"] = True
    assert idp.put(f"/Users/{user['id']}", body).get_json()["active"] is True


def test_import_pages_k10_are_stable(client, scim_token):
    idp = okta(client, scim_token)
    for i in range(5):
        idp.post("/Users", {**OKTA_CREATE, "userName": f"u{i}@okta.local", "externalId": f"ext{i}", "emails": []})
    first = idp.get("/Users?startIndex=1&count=2").get_json()
    second = idp.get("/Users?startIndex=3&count=2").get_json()
    third = idp.get("/Users?startIndex=5&count=2").get_json()
    names = [r["userName"] for page in (first, second, third) for r in page["Resources"]]
    assert names == [f"u{i}@okta.local" for i in range(5)]
    assert first["totalResults"] == 5


def test_spec_test_expectations(client, scim_token):
    idp = okta(client, scim_token)
    idp.post("/Users", OKTA_CREATE)
    listing = idp.get("/Users?count=1&startIndex=1").get_json()
    first = listing["Resources"][0]
    for field in ("id", "userName", "active"):
        assert field in first
    assert first["name"]["familyName"] and first["name"]["givenName"] and first["emails"][0]["value"]
    missing = scim_error(idp.get("/Users/010101001010101011001010101011"), 404)
    assert missing["detail"]
    # The spec test sends the filter unencoded.
    assert idp.get('/Users?filter=userName eq "abcdefgh@atko.com"').get_json()["totalResults"] == 0
    denied = scim_error(okta(client, "non-token", header_mode=True).get("/Users"), 401)
    assert denied["status"] == "401"


# --- Group Push (Okta K10-K14) ----------------------------------------------------------------------------------------


def group_filter(name: str) -> str:
    return "/Groups?filter=" + quote(f'displayName eq "{name}"') + "&startIndex=1&count=100"


def test_group_push_oin_k11_to_k14(client, scim_token, super_admin):
    idp = okta(client, scim_token)
    user = idp.post("/Users", OKTA_CREATE).get_json()
    second = idp.post(
        "/Users", {**OKTA_CREATE, "userName": "second.user@okta.local", "externalId": "00u2", "emails": []}
    ).get_json()

    # Okta K11: look the group up by name (nothing), then create it with no members.
    lookup = idp.get(group_filter("Test SCIMv2"))
    assert lookup.status_code == 200 and lookup.get_json()["totalResults"] == 0
    created = idp.post("/Groups", {"schemas": [GROUP], "displayName": "Test SCIMv2", "members": []})
    assert created.status_code == 201
    group = created.get_json()
    gid = group["id"]
    assert group["members"] == [] and idp.get(group_filter("Test SCIMv2")).get_json()["Resources"][0]["id"] == gid

    # Okta K13: add a member (Okta echoes `display`), then GET, then K12's path-less replace with id and name.
    add = {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "add", "path": "members", "value": [{"value": user["id"], "display": "test.user@okta.local"}]}
        ],
    }
    response = idp.patch(f"/Groups/{gid}", add)
    assert response.status_code == 200
    assert [m["value"] for m in response.get_json()["members"]] == [user["id"]]
    assert idp.get(f"/Groups/{gid}").status_code == 200
    rename = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "value": {"id": gid, "displayName": "Test SCIMv2"}}],
    }
    response = idp.patch(f"/Groups/{gid}", rename)
    assert response.status_code == 200
    assert [m["value"] for m in response.get_json()["members"]] == [user["id"]]
    assert [g["value"] for g in idp.get(f"/Users/{user['id']}").get_json()["groups"]] == [gid]

    # Okta K13: remove by value filter and add another member in one PATCH; then K12 again.
    swap = {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "remove", "path": f'members[value eq "{user["id"]}"]'},
            {"op": "add", "path": "members", "value": [{"value": second["id"], "display": "second.user@okta.local"}]},
        ],
    }
    response = idp.patch(f"/Groups/{gid}", swap)
    assert [m["value"] for m in response.get_json()["members"]] == [second["id"]]
    assert idp.patch(f"/Groups/{gid}", rename).status_code == 200

    # Okta K13: sometimes the whole membership is pushed with a replace.
    push = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "members", "value": [{"value": user["id"]}, {"value": second["id"]}]}],
    }
    response = idp.patch(f"/Groups/{gid}", push)
    assert sorted(m["value"] for m in response.get_json()["members"]) == sorted([user["id"], second["id"]])

    # Okta K12: a real rename.
    renamed = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"id": gid, "displayName": "Renamed"}}]}
    assert idp.patch(f"/Groups/{gid}", renamed).get_json()["displayName"] == "Renamed"

    # Okta K14: unlink with "Delete the group in the target app".
    assert idp.delete(f"/Groups/{gid}").status_code == 204
    scim_error(idp.get(f"/Groups/{gid}"), 404)
    assert idp.get(group_filter("Renamed")).get_json()["totalResults"] == 0
    assert "groups" not in idp.get(f"/Users/{user['id']}").get_json()


def test_group_push_aiw_replaces_membership_with_put_k12b(client, scim_token, super_admin):
    idp = okta(client, scim_token)
    user = idp.post("/Users", OKTA_CREATE).get_json()
    second = idp.post(
        "/Users", {**OKTA_CREATE, "userName": "second.user@okta.local", "externalId": "00u2", "emails": []}
    ).get_json()
    gid = idp.post("/Groups", {"schemas": [GROUP], "displayName": "Test SCIMv2", "members": []}).get_json()["id"]
    body = {
        "schemas": [GROUP],
        "displayName": "Test SCIMv2",
        "members": [{"value": user["id"], "display": "test.user@okta.local"}],
    }
    response = idp.put(f"/Groups/{gid}", body)
    assert response.status_code == 200
    assert [m["value"] for m in response.get_json()["members"]] == [user["id"]]
    body = {
        "schemas": [GROUP],
        "displayName": "Test SCIMv2 renamed",
        "members": [{"value": second["id"], "display": "second.user@okta.local"}],
    }
    result = idp.put(f"/Groups/{gid}", body).get_json()
    assert result["displayName"] == "Test SCIMv2 renamed"
    assert [m["value"] for m in result["members"]] == [second["id"]]


def test_import_groups_k10_pages_are_stable(client, scim_token, super_admin):
    idp = okta(client, scim_token)
    for i in range(5):
        assert idp.post("/Groups", {"schemas": [GROUP], "displayName": f"Group {i}", "members": []}).status_code == 201
    pages = [idp.get(f"/Groups?startIndex={start}&count=2").get_json() for start in (1, 3, 5)]
    assert [r["displayName"] for page in pages for r in page["Resources"]] == [f"Group {i}" for i in range(5)]
    assert {page["totalResults"] for page in pages} == {5}


def test_password_sync_k8_is_accepted_and_discarded(client, scim_token):
    idp = okta(client, scim_token)
    user = idp.post("/Users", OKTA_CREATE).get_json()
    only_password = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"password": "n3w-S3cret"}}]}
    response = idp.patch(f"/Users/{user['id']}", only_password)
    assert response.status_code == 200
    assert "password" not in response.get_data(as_text=True).lower()
    with_path = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "password", "value": "x"}]}
    assert idp.patch(f"/Users/{user['id']}", with_path).status_code == 200
    mixed = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"password": "y", "active": False}}]}
    assert idp.patch(f"/Users/{user['id']}", mixed).get_json()["active"] is False
