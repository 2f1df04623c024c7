"""Microsoft Entra ID's provisioning sequence, replayed as Entra sends it (docs/idp-behaviour.md §1.2)."""

from __future__ import annotations

import json

from tests.conftest import scim_error
from tests.helpers import ENTERPRISE, GROUP, PATCH_OP, USER

ENTRA_CONTENT_TYPE = "application/scim+json; charset=utf-8"

# B-EN1: Entra's create body, with meta in the request and an empty roles list.
ENTRA_CREATE = {
    "schemas": [USER, ENTERPRISE],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
    "active": True,
    "emails": [{"primary": True, "type": "work", "value": "Test_User_11bb@testuser.com"}],
    "meta": {"resourceType": "User"},
    "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
    "roles": [],
}


class Entra:
    """Entra's client: form-encoded query strings, scim+json bodies, DELETE with no media type."""

    def __init__(self, client, token: str) -> None:
        self.client = client
        self.auth = {"Authorization": f"Bearer {token}"}

    def get(self, path: str):
        return self.client.get("/scim/v2" + path, headers=self.auth)

    def send(self, method: str, path: str, body: dict):
        headers = {**self.auth, "Content-Type": ENTRA_CONTENT_TYPE}
        return self.client.open("/scim/v2" + path, method=method, headers=headers, data=json.dumps(body))

    def delete(self, path: str):
        return self.client.delete("/scim/v2" + path, headers=self.auth)


def patch(*operations: dict) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def test_test_connection_a1_queries_a_random_guid(client, scim_token):
    entra = Entra(client, scim_token)
    response = entra.get("/Users?filter=userName+eq+%22c5e2f1a0-0d4e-4f7e-9a51-6f0c0b1e2d3f%22")
    assert response.status_code == 200
    assert response.get_json()["totalResults"] == 0
    assert entra.get("/Users?filter=externalId+eq+%22c5e2f1a0%22").get_json()["totalResults"] == 0


def test_schemas_a2_is_a_list_response_without_password(client, scim_token):
    body = Entra(client, scim_token).get("/Schemas").get_json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    user = next(s for s in body["Resources"] if s["id"] == USER)
    names = {a["name"] for a in user["attributes"]}
    assert "password" not in names and {"userName", "emails", "active"} <= names
    emails = next(a for a in user["attributes"] if a["name"] == "emails")
    assert "display" not in {s["name"] for s in emails["subAttributes"]}


def test_provisioning_lifecycle(client, scim_token):
    entra = Entra(client, scim_token)

    # Entra A3: match by userName, by externalId, and by work email (valuePath + subAttr).
    match = entra.get("/Users?filter=userName+eq+%22Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee%22").get_json()
    assert match["totalResults"] == 0

    # Entra A4: create.
    created = entra.send("POST", "/Users", ENTRA_CREATE)
    assert created.status_code == 201
    user = created.get_json()
    assert user["id"] and user["externalId"] == ENTRA_CREATE["externalId"]

    for query in (
        "filter=userName+eq+%22test_user_00aa00aa-bb11-cc22-dd33-44ee44ee44ee%22",
        "filter=externalId+eq+%220a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef%22",
        "filter=emails%5Btype+eq+%22work%22%5D.value+eq+%22Test_User_11bb%40testuser.com%22",
        'filter=emails[type eq "work"].value eq "test_user_11bb@testuser.com"',
    ):
        found = entra.get(f"/Users?{query}").get_json()
        assert found["totalResults"] == 1, query
        assert found["Resources"][0]["id"] == user["id"]

    # Entra A5: get by id.
    assert entra.get(f"/Users/{user['id']}").status_code == 200

    # Entra A6 without the flag: one op per attribute, capitalised ops.
    response = entra.send(
        "PATCH",
        f"/Users/{user['id']}",
        patch(
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "updatedEmail@microsoft.com"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
            {"op": "Add", "path": "nickName", "value": "Babs"},
            {"op": "Replace", "path": f"{ENTERPRISE}:employeeNumber", "value": "Aklq"},
        ),
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["emails"][0]["value"] == "updatedEmail@microsoft.com"
    assert body["name"]["familyName"] == "updatedFamilyName"
    assert body["nickName"] == "Babs"
    assert body[ENTERPRISE]["employeeNumber"] == "Aklq"

    # B-EN3 with the flag: path-less value object with dotted and URN keys.
    response = entra.send(
        "PATCH",
        f"/Users/{user['id']}",
        patch(
            {"op": "replace", "path": 'emails[type eq "work"].value', "value": "TestMhvaes@test.microsoft.com"},
            {
                "op": "replace",
                "value": {
                    "displayName": "Bjfe",
                    "name.givenName": "Kkom",
                    "name.familyName": "Unua",
                    f"{ENTERPRISE}:employeeNumber": "Aklq2",
                },
            },
        ),
    )
    body = response.get_json()
    assert body["displayName"] == "Bjfe" and body["name"]["givenName"] == "Kkom"
    assert body["name"]["familyName"] == "Unua" and body[ENTERPRISE]["employeeNumber"] == "Aklq2"
    assert body["emails"][0]["value"] == "TestMhvaes@test.microsoft.com"

    # userName change (pitfall 34).
    renamed = entra.send(
        "PATCH", f"/Users/{user['id']}", patch({"op": "Replace", "path": "userName", "value": "New@x"})
    )
    assert renamed.get_json()["userName"] == "New@x"

    # Entra A17 and pitfall 25: manager sent as a bare string, read back as an object.
    manager = entra.send(
        "PATCH", f"/Users/{user['id']}", patch({"op": "add", "path": f"{ENTERPRISE}:manager", "value": "2c2f6fb8"})
    )
    assert manager.get_json()[ENTERPRISE]["manager"] == {"value": "2c2f6fb8"}

    # Entra A7: disable with the string "False"; the user stays readable, by id and by filter.
    disabled = entra.send("PATCH", f"/Users/{user['id']}", patch({"op": "Replace", "path": "active", "value": "False"}))
    assert disabled.status_code == 200 and disabled.get_json()["active"] is False
    by_filter = entra.get("/Users?filter=userName+eq+%22new%40x%22").get_json()
    assert by_filter["Resources"][0]["active"] is False

    # Entra A8: re-enable; Entra also re-asserts active true periodically, which must stay a success.
    for _ in range(2):
        enabled = entra.send(
            "PATCH", f"/Users/{user['id']}", patch({"op": "Replace", "path": "active", "value": "True"})
        )
        assert enabled.status_code == 200 and enabled.get_json()["active"] is True

    # Entra A9: hard delete, sent without a media type; then 404.
    deleted = entra.delete(f"/Users/{user['id']}")
    assert deleted.status_code == 204
    scim_error(entra.get(f"/Users/{user['id']}"), 404)


def test_older_tutorial_body_with_nulls_and_typo_schema(client, scim_token):
    body = {
        **ENTRA_CREATE,
        "schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
        "addresses": None,
        "phoneNumbers": None,
        "preferredLanguage": None,
        "title": None,
        "department": None,
        "manager": None,
    }
    assert Entra(client, scim_token).send("POST", "/Users", body).status_code == 201


def test_add_work_email_that_does_not_exist_yet(client, scim_token):
    entra = Entra(client, scim_token)
    user = entra.send("POST", "/Users", {**ENTRA_CREATE, "emails": []}).get_json()
    response = entra.send(
        "PATCH",
        f"/Users/{user['id']}",
        patch({"op": "add", "path": 'emails[type eq "work"].value', "value": "new@contoso.com"}),
    )
    assert response.status_code == 200
    assert response.get_json()["emails"] == [{"value": "new@contoso.com", "type": "work"}]


# --- Groups (Entra A10-A16) -------------------------------------------------------------------------------------------


def test_group_sequence_a10_to_a16(client, scim_token, super_admin):
    entra = Entra(client, scim_token)
    user = entra.send("POST", "/Users", ENTRA_CREATE).get_json()
    second = entra.send(
        "POST", "/Users", {**ENTRA_CREATE, "userName": "second@contoso.com", "externalId": "e-2", "emails": []}
    ).get_json()
    match = "/Groups?excludedAttributes=members&filter=displayName+eq+%22displayName%22"

    # Entra A10: match by displayName, members excluded; nothing yet.
    response = entra.get(match)
    assert response.status_code == 200 and response.get_json()["totalResults"] == 0

    # Entra A11: create with Entra's extra schema URI and meta; no members.
    body = {
        "schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "displayName",
        "meta": {"resourceType": "Group"},
    }
    created = entra.send("POST", "/Groups", body)
    assert created.status_code == 201
    group = created.get_json()
    gid = group["id"]
    assert group["members"] == [] and group["externalId"] == body["externalId"]
    found = entra.get(match).get_json()
    assert [r["id"] for r in found["Resources"]] == [gid] and "members" not in found["Resources"][0]

    # Entra A14: add members, several in one PATCH, with `"$ref": null`.
    add = json.loads(
        '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members",'
        f'"value":[{{"$ref":null,"value":"{user["id"]}"}},{{"$ref":null,"value":"{second["id"]}"}}]}}]}}'
    )
    response = entra.send("PATCH", f"/Groups/{gid}", add)
    assert response.status_code == 200
    assert sorted(m["value"] for m in response.get_json()["members"]) == sorted([user["id"], second["id"]])

    # Entra A12: read by id without members.
    response = entra.get(f"/Groups/{gid}?excludedAttributes=members")
    assert response.status_code == 200 and "members" not in response.get_json()

    # Entra A7 then A8: a disabled user stays a member.
    entra.send("PATCH", f"/Users/{second['id']}", patch({"op": "Replace", "path": "active", "value": "False"}))
    assert second["id"] in [m["value"] for m in entra.get(f"/Groups/{gid}").get_json()["members"]]
    entra.send("PATCH", f"/Users/{second['id']}", patch({"op": "Replace", "path": "active", "value": "True"}))

    # Entra A15, default shape: `path: members` with the values to drop removes only those.
    remove = patch({"op": "Remove", "path": "members", "value": [{"value": second["id"]}]})
    response = entra.send("PATCH", f"/Groups/{gid}", remove)
    assert [m["value"] for m in response.get_json()["members"]] == [user["id"]]

    # Entra A15, with the aadOptscim062020 flag: a value filter.
    entra.send("PATCH", f"/Groups/{gid}", add)
    flag = json.loads(f'{{"Operations":[{{"op":"remove","path":"members[value eq \\"{user["id"]}\\"]"}}]}}')
    response = entra.send("PATCH", f"/Groups/{gid}", flag)
    assert [m["value"] for m in response.get_json()["members"]] == [second["id"]]

    # Entra A13: rename, and Entra's Add of externalId on an existing group.
    rename = {"Operations": [{"op": "Replace", "path": "displayName", "value": "displayName updatedDisplayName"}]}
    assert entra.send("PATCH", f"/Groups/{gid}", rename).get_json()["displayName"] == "displayName updatedDisplayName"
    response = entra.send("PATCH", f"/Groups/{gid}", patch({"op": "Add", "path": "externalId", "value": "new-ext"}))
    assert response.status_code == 200 and response.get_json()["externalId"] == "new-ext"

    # Entra A9: a hard-deleted user leaves the group.
    assert entra.delete(f"/Users/{second['id']}").status_code == 204
    assert entra.get(f"/Groups/{gid}").get_json()["members"] == []

    # Entra A16: delete the group, sent without a media type.
    assert entra.delete(f"/Groups/{gid}").status_code == 204
    scim_error(entra.get(f"/Groups/{gid}"), 404)
    gone = entra.get("/Groups?filter=displayName+eq+%22displayName+updatedDisplayName%22").get_json()
    assert gone["totalResults"] == 0
