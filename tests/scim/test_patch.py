"""Unit tests for scim.patch / scim.paths: RFC 7644 §3.5.2 PATCH plus what Okta and Entra ID really send.

Request bodies tagged K*, A*, B-* follow the Okta and Entra shapes in docs/idp-behaviour.md.
"""

from __future__ import annotations

import copy
import json

import pytest

from scim.definitions import (
    ENTERPRISE_USER_SCHEMA,
    GROUP_RESOURCE,
    GROUP_SCHEMA,
    USER,
    USER_RESOURCE,
    USER_SCHEMA,
    Attribute,
    ResourceType,
    Schema,
)
from scim.errors import InvalidFilter, InvalidPath, InvalidSyntax, InvalidValue, Mutability, NoTarget
from scim.patch import apply_patch
from scim.paths import parse_path

ENT = ENTERPRISE_USER_SCHEMA
USER_ID = "23a35c27-23d3-4c03-b4c5-6443c09e7173"
GROUP_ID = "abf4dd94-a4c0-4f67-89c9-76b03340cb9b"


@pytest.fixture
def user() -> dict:
    """A user as returned to clients, shaped after B-OK1/B-EN1 plus the enterprise extension."""
    return {
        "schemas": [USER_SCHEMA, ENT],
        "id": USER_ID,
        "externalId": "00ujl29u0le5T6Aj10h7",
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "displayName": "Test User",
        "locale": "en-US",
        "active": True,
        "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
        "groups": [],
        ENT: {"department": "Sales", "manager": {"value": "boss-1", "displayName": "The Boss"}},
        "meta": {"resourceType": "User", "location": f"/scim/v2/Users/{USER_ID}"},
    }


@pytest.fixture
def group() -> dict:
    return {
        "schemas": [GROUP_SCHEMA],
        "id": GROUP_ID,
        "displayName": "Test SCIMv2",
        "members": [
            {"value": "89bb1940-b905-4575-9e7f-6f887cfb368e", "display": "first@okta.local"},
            {"value": "u1091", "display": "second@okta.local"},
            {"value": "u2000", "display": "third@okta.local"},
        ],
        "meta": {"resourceType": "Group"},
    }


def ops(body: str) -> list:
    """The `Operations` of a verbatim PatchOp body."""
    return json.loads(body)["Operations"]


def patch_user(user: dict, *operations: dict) -> dict:
    return apply_patch(user, list(operations), USER_RESOURCE)


def member_ids(group: dict) -> list[str]:
    return [m["value"] for m in group.get("members", [])]


# 1. op handling -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["replace", "Replace", "REPLACE", "add", "Add"])
def test_op_is_case_insensitive(user, op):
    assert patch_user(user, {"op": op, "path": "displayName", "value": "Babs"})["displayName"] == "Babs"


@pytest.mark.parametrize("op", ["remove", "Remove", "REMOVE"])
def test_remove_op_is_case_insensitive(user, op):
    assert "displayName" not in patch_user(user, {"op": op, "path": "displayName"})


@pytest.mark.parametrize("op", ["copy", "move", "", None, 5, "delete"])
def test_unknown_op_is_invalid_syntax(user, op):
    with pytest.raises(InvalidSyntax):
        patch_user(user, {"op": op, "path": "displayName", "value": "x"})


@pytest.mark.parametrize("item", ["replace", None, ["op", "replace"], 3])
def test_operation_that_is_not_an_object_is_invalid_syntax(user, item):
    with pytest.raises(InvalidSyntax):
        apply_patch(user, [item], USER_RESOURCE)


@pytest.mark.parametrize("operations", [None, {}, "x", []])
def test_operations_must_be_a_non_empty_list(user, operations):
    with pytest.raises(InvalidSyntax):
        apply_patch(user, operations, USER_RESOURCE)


def test_operation_member_names_are_case_insensitive(user):
    assert patch_user(user, {"Op": "replace", "Path": "displayName", "Value": "X"})["displayName"] == "X"


def test_input_is_not_mutated(user):
    original = copy.deepcopy(user)
    patch_user(
        user,
        {"op": "add", "path": "emails", "value": [{"value": "b@x", "primary": True}]},
        {"op": "replace", "path": "name.givenName", "value": "Changed"},
        {"op": "remove", "path": f"{ENT}:manager"},
    )
    assert user == original


def test_operations_apply_in_order(user):
    result = patch_user(
        user,
        {"op": "replace", "path": "nickName", "value": "first"},
        {"op": "replace", "path": "nickName", "value": "second"},
    )
    assert result["nickName"] == "second"


# 2. case-insensitive names, canonical output ---------------------------------------------------------------------


def test_path_names_are_case_insensitive_and_output_canonical(user):
    result = patch_user(
        user,
        {"op": "replace", "path": "USERNAME", "value": "new@x"},
        {"op": "replace", "path": "Name.GIVENNAME", "value": "Given"},
        {
            "op": "replace",
            "path": "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:Department",
            "value": "R",
        },
    )
    assert result["userName"] == "new@x"
    assert result["name"]["givenName"] == "Given"
    assert result[ENT]["department"] == "R"
    assert not {"USERNAME", "Name", "department"} & set(result) and "GIVENNAME" not in result["name"]


def test_value_object_keys_are_case_insensitive(user):
    value = {"DisplayName": "D", "NAME": {"GivenName": "G"}, "Emails": [{"VALUE": "h@x", "Type": "home"}]}
    result = patch_user(user, {"op": "add", "value": value})
    assert result["displayName"] == "D"
    assert result["name"] == {"givenName": "G", "familyName": "User"}
    assert {"value": "h@x", "type": "home"} in result["emails"]
    assert "NAME" not in result and "Emails" not in result


# 3. path grammar ----------------------------------------------------------------------------------------------------


def test_parse_simple_and_sub_attribute_paths():
    path = parse_path("userName", USER_RESOURCE)
    assert (path.attribute.name, path.sub_attribute, path.value_filter, path.extension) == (
        "userName",
        None,
        None,
        None,
    )
    path = parse_path("name.givenName", USER_RESOURCE)
    assert (path.attribute.name, path.sub_attribute.name, path.target.name) == ("name", "givenName", "givenName")


def test_parse_urn_qualified_paths():
    core = parse_path(f"{USER_SCHEMA}:userName", USER_RESOURCE)
    assert core.attribute.name == "userName" and core.extension is None
    # The URN contains ":" and "2.0"; naive splitting breaks here (pitfall 6).
    ent = parse_path(f"{ENT}:department", USER_RESOURCE)
    assert ent.attribute.name == "department" and ent.extension == ENT and ent.schema.id == ENT
    sub = parse_path(f"{ENT}:manager.value", USER_RESOURCE)
    assert (sub.attribute.name, sub.sub_attribute.name, sub.extension) == ("manager", "value", ENT)


def test_parse_matches_the_longest_schema_urn_prefix():
    outer = Schema("urn:example:ext:2.0:User", "Outer", "", (Attribute("Sub"),))
    inner = Schema("urn:example:ext:2.0:User:Sub", "Inner", "", (Attribute("x"),))
    resource_type = ResourceType("User", "/Users", "", USER, (outer, inner))
    path = parse_path("urn:example:ext:2.0:User:Sub:x", resource_type)
    assert (path.extension, path.attribute.name) == (inner.id, "x")
    assert parse_path("urn:example:ext:2.0:User:Sub", resource_type).attribute is None


def test_parse_unqualified_extension_attribute():
    path = parse_path("manager", USER_RESOURCE)
    assert path.attribute.name == "manager" and path.extension == ENT


def test_parse_extension_urn_alone_addresses_the_extension():
    path = parse_path(ENT, USER_RESOURCE)
    assert path.attribute is None and path.extension == ENT


def test_parse_value_paths():
    path = parse_path('emails[type eq "work"].value', USER_RESOURCE)
    assert path.attribute.name == "emails" and path.sub_attribute.name == "value"
    assert path.value_filter.matches({"type": "work"}) and not path.value_filter.matches({"type": "home"})
    members = parse_path('members[value eq "2819c223"]', GROUP_RESOURCE)
    assert members.attribute.name == "members" and members.sub_attribute is None
    assert members.value_filter.matches({"value": "2819c223"})


@pytest.mark.parametrize(
    ("filter_text", "element", "expected"),
    [
        ('type EQ "work"', {"type": "work"}, True),
        ('type ne "work"', {"type": "home"}, True),
        ('value co "@EXAMPLE"', {"value": "a@example.com"}, True),
        ('value sw "a@"', {"value": "a@example.com"}, True),
        ('value ew ".com"', {"value": "a@example.com"}, True),
        ('value ew ".org"', {"value": "a@example.com"}, False),
        ("primary pr", {"primary": False}, True),
        ("primary pr", {"value": "x"}, False),
        ("primary eq true", {"primary": True}, True),
        ("primary eq false", {"primary": True}, False),
        ("primary eq 1", {"primary": True}, False),
        ("type eq null", {"value": "x"}, True),
        ('type eq "work" and primary eq true', {"type": "work", "primary": True}, True),
        ('type eq "work" AND primary eq true', {"type": "work", "primary": False}, False),
        ('type eq "home" or type eq "work"', {"type": "work"}, True),
        ('not(type eq "work")', {"type": "home"}, True),
        ('not (type eq "work")', {"type": "work"}, False),
        ('(type eq "home" or type eq "work") and value sw "a"', {"type": "work", "value": "b"}, False),
        ('type eq "home" or type eq "work" and value sw "a"', {"type": "home", "value": "b"}, True),
        ('value eq "WORK@X"', {"value": "work@x"}, True),
    ],
)
def test_value_filter_evaluation(filter_text, element, expected):
    assert parse_path(f"emails[{filter_text}]", USER_RESOURCE).value_filter.matches(element) is expected


def test_value_filter_string_escapes():
    path = parse_path(r'members[display eq "a \"quoted\" \\ name]"]', GROUP_RESOURCE)
    assert path.value_filter.value == 'a "quoted" \\ name]'
    assert path.value_filter.matches({"display": 'A "Quoted" \\ Name]'})


def test_value_filter_numbers():
    path = parse_path("emails[value gt 2]", USER_RESOURCE)
    assert path.value_filter.value == 2 and path.value_filter.matches({"value": 3})
    assert parse_path("emails[value le 2.5]", USER_RESOURCE).value_filter.matches({"value": 2})


def test_case_exact_sub_attributes_compare_exactly():
    # members.value is caseExact in definitions.py; emails.value is not.
    assert not parse_path('members[value eq "ABC"]', GROUP_RESOURCE).value_filter.matches({"value": "abc"})
    assert parse_path('emails[value eq "ABC"]', USER_RESOURCE).value_filter.matches({"value": "abc"})


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("nickname2", "nickname2"),
        ("name.middle", "name.middle"),
        ('emails[foo eq "x"]', "emails.foo"),
        ('emails[type eq "work"].display', "emails.display"),
        (f"{ENT}:shoeSize", "shoeSize"),
        ("urn:ietf:params:scim:schemas:extension:custom:2.0:User:x", "schema"),
        (f"{USER_SCHEMA}:members", "members"),
        ('name[givenName eq "x"]', "name"),
    ],
)
def test_unknown_attribute_is_invalid_path_naming_it(path, named):
    with pytest.raises(InvalidPath, match=named):
        parse_path(path, USER_RESOURCE)


def test_group_paths_use_group_schema():
    with pytest.raises(InvalidPath, match="userName"):
        parse_path("userName", GROUP_RESOURCE)
    with pytest.raises(InvalidPath):
        parse_path(f"{USER_SCHEMA}:userName", GROUP_RESOURCE)


@pytest.mark.parametrize(
    "path",
    ['emails[type eq "work"', "name..givenName", "1abc", "name.givenName.x", "emails]", "  ", "a b", USER_SCHEMA],
)
def test_malformed_path_is_invalid_path(path):
    with pytest.raises(InvalidPath):
        parse_path(path, USER_RESOURCE)


@pytest.mark.parametrize(
    "filter_text",
    [
        "type eq",
        'type foo "x"',
        'type eq "work" and',
        '(type eq "work"',
        'type eq "unterminated',
        "type eq work",
        'not type eq "work"',
        'type eq "a" "b"',
        '"type" eq "a"',
        r'type eq "bad \q escape"',
        "",
    ],
)
def test_malformed_value_filter_is_invalid_filter(filter_text):
    with pytest.raises(InvalidFilter):
        parse_path(f"emails[{filter_text}].value", USER_RESOURCE)


def test_unknown_path_in_operation_names_attribute(user):
    with pytest.raises(InvalidPath, match="favouriteColour"):
        patch_user(user, {"op": "replace", "path": "favouriteColour", "value": "red"})


# 4. path-less add / replace -----------------------------------------------------------------------------------------


def test_okta_deactivate_and_reactivate_k6_k7(user):
    deactivated = apply_patch(
        user,
        ops(
            '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],'
            '"Operations":[{"op":"replace","value":{"active":false}}]}'
        ),
        USER_RESOURCE,
    )
    # `false` must not be mistaken for a missing value (pitfall 4).
    assert deactivated["active"] is False
    reactivated = patch_user(deactivated, {"op": "replace", "value": {"active": True}})
    assert reactivated["active"] is True


def test_okta_group_rename_with_unchanged_id_k12(group):
    body = (
        '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace",'
        '"value":{"id":"abf4dd94-a4c0-4f67-89c9-76b03340cb9b","displayName":"Test SCIMv2 renamed"}}]}'
    )
    result = apply_patch(group, ops(body), GROUP_RESOURCE)
    assert result["displayName"] == "Test SCIMv2 renamed"
    assert result["id"] == GROUP_ID
    assert result["members"] == group["members"]
    # Okta sends it again after every membership change, name unchanged (K12): a no-op success.
    assert apply_patch(result, ops(body), GROUP_RESOURCE) == result


def test_pathless_id_that_differs_is_mutability(group):
    with pytest.raises(Mutability, match="id"):
        apply_patch(group, [{"op": "replace", "value": {"id": "other", "displayName": "x"}}], GROUP_RESOURCE)


def test_entra_flag_pathless_dotted_and_urn_keys_b_en3(user):
    body = """{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
 {"op":"replace","path":"emails[type eq \\"work\\"].value","value":"TestMhvaes@test.microsoft.com"},
 {"op":"replace","value":{"displayName":"Bjfe","name.givenName":"Kkom","name.familyName":"Unua",
   "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"Aklq"}}]}"""
    result = apply_patch(user, ops(body), USER_RESOURCE)
    assert result["emails"] == [{"primary": True, "value": "TestMhvaes@test.microsoft.com", "type": "work"}]
    assert result["displayName"] == "Bjfe"
    assert result["name"] == {"givenName": "Kkom", "familyName": "Unua"}
    assert result[ENT]["employeeNumber"] == "Aklq"
    assert result[ENT]["department"] == "Sales"


def test_pathless_extension_urn_object_merges_into_extension(user):
    result = patch_user(user, {"op": "replace", "value": {ENT: {"costCenter": "4130", "Division": "EMEA"}}})
    assert result[ENT] == {
        "department": "Sales",
        "manager": {"value": "boss-1", "displayName": "The Boss"},
        "costCenter": "4130",
        "division": "EMEA",
    }


def test_pathless_ignores_schemas_and_meta(user):
    value = {"schemas": [USER_SCHEMA], "meta": {"resourceType": "Other"}, "nickName": "N"}
    result = patch_user(user, {"op": "replace", "value": value})
    assert result["nickName"] == "N"
    assert result["meta"] == user["meta"] and result["schemas"] == user["schemas"]


def test_pathless_unchanged_read_only_groups_is_ignored(user):
    assert patch_user(user, {"op": "replace", "value": {"groups": [], "active": True}}) == user


def test_pathless_changed_read_only_groups_is_mutability(user):
    with pytest.raises(Mutability, match="groups"):
        patch_user(user, {"op": "add", "value": {"groups": [{"value": "g1"}]}})


@pytest.mark.parametrize("value", [["active"], "active", None, True])
def test_pathless_value_must_be_an_object(user, value):
    with pytest.raises(InvalidValue):
        patch_user(user, {"op": "replace", "value": value})


def test_pathless_unknown_key_is_invalid_path(user):
    with pytest.raises(InvalidPath, match="password"):
        patch_user(user, {"op": "replace", "value": {"password": "secret"}})


# 5. booleans as strings ---------------------------------------------------------------------------------------------


def test_entra_disable_with_string_false_a7(user):
    body = (
        '{"Operations":[{"op":"Replace","path":"active","value":"False"}],'
        '"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}'
    )
    assert apply_patch(user, ops(body), USER_RESOURCE)["active"] is False


@pytest.mark.parametrize(("value", "expected"), [("True", True), ("false", False), ("TRUE", True), (" False ", False)])
def test_boolean_strings_are_coerced(user, value, expected):
    assert patch_user(user, {"op": "Replace", "path": "active", "value": value})["active"] is expected
    assert patch_user(user, {"op": "replace", "value": {"active": value}})["active"] is expected


def test_primary_string_is_coerced(user):
    result = patch_user(user, {"op": "add", "path": "emails", "value": [{"value": "h@x", "primary": "True"}]})
    assert result["emails"][-1] == {"value": "h@x", "primary": True}


@pytest.mark.parametrize("value", ["yes", 1, 0, "", {"v": True}, ["true"]])
def test_non_boolean_for_boolean_attribute_is_invalid_value(user, value):
    with pytest.raises(InvalidValue, match="active"):
        patch_user(user, {"op": "replace", "path": "active", "value": value})


# 6. add ---------------------------------------------------------------------------------------------------------------


def test_entra_add_on_singular_attribute_replaces_a13(group, user):
    result = apply_patch(group, [{"op": "Add", "path": "externalId", "value": "8aa1a0c0"}], GROUP_RESOURCE)
    assert result["externalId"] == "8aa1a0c0"
    again = apply_patch(result, [{"op": "Add", "path": "externalId", "value": "changed"}], GROUP_RESOURCE)
    assert again["externalId"] == "changed"
    assert patch_user(user, {"op": "Add", "path": "nickName", "value": "Babs"})["nickName"] == "Babs"


def test_entra_rename_group_a13(group):
    body = (
        '{"Operations":[{"op":"Replace","path":"displayName",'
        '"value":"1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}]}'
    )
    result = apply_patch(group, ops(body), GROUP_RESOURCE)
    assert result["displayName"] == "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"


def test_add_complex_singular_merges_sub_attributes(user):
    result = patch_user(user, {"op": "add", "path": "name", "value": {"middleName": "Excited"}})
    assert result["name"] == {"givenName": "Test", "familyName": "User", "middleName": "Excited"}


def test_add_multi_valued_appends_new_values(user):
    result = patch_user(user, {"op": "add", "path": "emails", "value": [{"value": "home@x", "type": "home"}]})
    assert [e["value"] for e in result["emails"]] == ["test.user@okta.local", "home@x"]


def test_add_existing_value_is_a_no_op(user):
    value = [{"value": "TEST.USER@okta.local", "type": "work"}]
    result = patch_user(user, {"op": "add", "path": "emails", "value": value})
    assert len(result["emails"]) == 1 and result["emails"][0]["primary"] is True


def test_add_non_list_value_to_multi_valued_is_wrapped(user):
    result = patch_user(user, {"op": "add", "path": "phoneNumbers", "value": {"value": "+1 555", "type": "work"}})
    assert result["phoneNumbers"] == [{"value": "+1 555", "type": "work"}]


def test_add_primary_value_clears_other_primaries(user):
    result = patch_user(user, {"op": "add", "path": "emails", "value": [{"value": "new@x", "primary": True}]})
    assert [e.get("primary") for e in result["emails"]] == [False, True]


def test_add_null_value_changes_nothing(user):
    assert patch_user(user, {"op": "add", "path": "displayName", "value": None}) == user
    assert patch_user(user, {"op": "add", "value": {"displayName": None}}) == user


# 7. replace -----------------------------------------------------------------------------------------------------------


def test_replace_multi_valued_replaces_whole_list(user):
    value = [{"value": "a@x", "type": "home"}, {"value": "b@x", "type": "other"}]
    assert patch_user(user, {"op": "replace", "path": "emails", "value": value})["emails"] == value


def test_entra_replace_value_path_and_sub_attribute_a6(user):
    body = """{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
      {"op":"Replace","path":"emails[type eq \\"work\\"].value","value":"updatedEmail@microsoft.com"},
      {"op":"Replace","path":"name.familyName","value":"updatedFamilyName"}]}"""
    result = apply_patch(user, ops(body), USER_RESOURCE)
    assert result["emails"] == [{"primary": True, "value": "updatedEmail@microsoft.com", "type": "work"}]
    assert result["name"] == {"givenName": "Test", "familyName": "updatedFamilyName"}
    username = {"op": "Replace", "path": "userName", "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}
    assert patch_user(user, username)["userName"] == username["value"]


def test_replace_value_path_updates_every_match(user):
    user["emails"] = [
        {"value": "a@x", "type": "work"},
        {"value": "b@x", "type": "home"},
        {"value": "c@x", "type": "Work"},
    ]
    result = patch_user(user, {"op": "replace", "path": 'emails[type eq "work"].type', "value": "other"})
    assert [e["type"] for e in result["emails"]] == ["other", "home", "other"]


@pytest.mark.parametrize("op", ["add", "replace", "Add", "Replace"])
def test_value_path_without_match_creates_element(user, op):
    user["emails"] = [{"value": "h@x", "type": "home"}]
    result = patch_user(user, {"op": op, "path": 'emails[type eq "work"].value', "value": "w@x"})
    assert result["emails"] == [{"value": "h@x", "type": "home"}, {"type": "work", "value": "w@x"}]


def test_value_path_without_match_and_filter_creates_element_with_all_pinned_values(user):
    result = patch_user(user, {"op": "add", "path": 'emails[type eq "home" and primary eq true].value', "value": "h@x"})
    assert result["emails"] == [
        {"primary": False, "value": "test.user@okta.local", "type": "work"},
        {"type": "home", "primary": True, "value": "h@x"},
    ]


def test_value_path_without_sub_attribute_merges_object(user):
    value = {"value": "w2@x", "display": None}
    result = patch_user(user, {"op": "replace", "path": 'emails[type eq "work"]', "value": value})
    assert result["emails"] == [{"primary": True, "value": "w2@x", "type": "work"}]


@pytest.mark.parametrize(
    "path", ['emails[type ne "work"].value', 'emails[value sw "x"].value', 'emails[type eq "a" or type eq "b"]']
)
def test_value_path_without_match_and_non_equality_filter_is_no_target(user, path):
    with pytest.raises(NoTarget):
        patch_user(user, {"op": "replace", "path": path, "value": "v@x"})


def test_replace_complex_leaves_unspecified_sub_attributes(user):
    result = patch_user(user, {"op": "replace", "path": "name", "value": {"givenName": "Another"}})
    assert result["name"] == {"givenName": "Another", "familyName": "User"}


def test_replace_with_null_removes_singular_attribute(user):
    assert "displayName" not in patch_user(user, {"op": "replace", "path": "displayName", "value": None})
    assert "displayName" not in patch_user(user, {"op": "replace", "value": {"displayName": None}})


def test_replace_sub_attribute_of_every_element_without_filter(user):
    user["emails"].append({"value": "b@x", "type": "home"})
    result = patch_user(user, {"op": "replace", "path": "emails.type", "value": "other"})
    assert [e["type"] for e in result["emails"]] == ["other", "other"]


# 8. remove ------------------------------------------------------------------------------------------------------------


def test_remove_plain_path(user):
    result = patch_user(user, {"op": "remove", "path": "name.givenName"}, {"op": "remove", "path": "emails"})
    assert result["name"] == {"familyName": "User"} and "emails" not in result


def test_remove_last_sub_attribute_removes_complex(user):
    result = patch_user(user, {"op": "remove", "path": "name.givenName"}, {"op": "remove", "path": "name.familyName"})
    assert "name" not in result


@pytest.mark.parametrize(
    "operation", [{"op": "remove", "path": "userName"}, {"op": "replace", "path": "userName", "value": None}]
)
def test_remove_required_attribute_is_invalid_value(user, operation):
    with pytest.raises(InvalidValue, match="userName"):
        patch_user(user, operation)


def test_remove_required_group_display_name_is_invalid_value(group):
    with pytest.raises(InvalidValue, match="displayName"):
        apply_patch(group, [{"op": "remove", "path": "displayName"}], GROUP_RESOURCE)


def test_remove_value_path_removes_matching_elements(user):
    user["emails"].append({"value": "h@x", "type": "home"})
    result = patch_user(user, {"op": "remove", "path": 'emails[type eq "work"]'})
    assert result["emails"] == [{"value": "h@x", "type": "home"}]


def test_remove_value_path_without_match_is_a_no_op(user):
    assert patch_user(user, {"op": "remove", "path": 'emails[type eq "home"]'}) == user
    user.pop("emails")
    assert patch_user(user, {"op": "remove", "path": 'emails[type eq "home"]'}) == user


def test_remove_value_path_sub_attribute(user):
    result = patch_user(user, {"op": "remove", "path": 'emails[type eq "work"].primary'})
    assert result["emails"] == [{"value": "test.user@okta.local", "type": "work"}]


def test_remove_without_path_is_no_target(user):
    with pytest.raises(NoTarget):
        patch_user(user, {"op": "remove", "value": {"displayName": "Test User"}})


def test_remove_extension_attribute_and_last_one_drops_extension(user):
    result = patch_user(user, {"op": "remove", "path": f"{ENT}:department"}, {"op": "remove", "path": "manager"})
    assert ENT not in result
    assert result["schemas"] == [USER_SCHEMA]


def test_adding_extension_attribute_lists_extension_schema(user):
    user.pop(ENT)
    user["schemas"] = [USER_SCHEMA]
    result = patch_user(user, {"op": "add", "path": f"{ENT}:employeeNumber", "value": "701984"})
    assert result[ENT] == {"employeeNumber": "701984"}
    assert result["schemas"] == [USER_SCHEMA, ENT]


def test_remove_multi_valued_with_value_removes_only_listed_user_emails(user):
    user["emails"].append({"value": "h@x", "type": "home"})
    result = patch_user(user, {"op": "remove", "path": "emails", "value": [{"value": "H@X"}]})
    assert result["emails"] == [{"primary": True, "value": "test.user@okta.local", "type": "work"}]


# 9. readOnly, immutable, missing values -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": "id", "value": "other"},
        {"op": "remove", "path": "id"},
        {"op": "add", "path": "groups", "value": [{"value": "g1"}]},
        {"op": "replace", "path": f"{ENT}:manager.displayName", "value": "Someone"},
        {"op": "replace", "path": "meta.lastModified", "value": "2020-01-01T00:00:00Z"},
        {"op": "remove", "path": "meta"},
    ],
)
def test_read_only_target_is_mutability(user, operation):
    with pytest.raises(Mutability):
        patch_user(user, operation)


def test_read_only_member_display_is_mutability(group):
    with pytest.raises(Mutability, match="display"):
        apply_patch(
            group, [{"op": "replace", "path": 'members[value eq "u1091"].display', "value": "x"}], GROUP_RESOURCE
        )


def test_read_only_target_with_unchanged_value_is_a_no_op(user):
    assert patch_user(user, {"op": "replace", "path": "id", "value": USER_ID}) == user


def test_immutable_member_value_cannot_change(group):
    with pytest.raises(Mutability, match="value"):
        apply_patch(
            group, [{"op": "replace", "path": 'members[value eq "u1091"].value', "value": "u9"}], GROUP_RESOURCE
        )


@pytest.mark.parametrize("op", ["add", "replace", "Add"])
def test_missing_value_is_invalid_value(user, op):
    with pytest.raises(InvalidValue):
        patch_user(user, {"op": op, "path": "displayName"})


def test_read_only_sub_attributes_in_value_objects_are_dropped(group):
    # Okta echoes `display` when adding members (K13); it is server-derived.
    value = [{"value": "new-1", "display": "new@okta.local"}]
    result = apply_patch(group, [{"op": "add", "path": "members", "value": value}], GROUP_RESOURCE)
    assert result["members"][-1] == {"value": "new-1"}


@pytest.mark.parametrize("value", [{"first": "x"}, [1, 2], ["x"]])
def test_structured_value_for_simple_attribute_is_invalid_value(user, value):
    with pytest.raises(InvalidValue):
        patch_user(user, {"op": "replace", "path": "displayName", "value": value})


def test_non_object_for_complex_attribute_is_invalid_value(user):
    with pytest.raises(InvalidValue, match="name"):
        patch_user(user, {"op": "replace", "path": "name", "value": "Test User"})


def test_unknown_sub_attribute_in_value_object_is_invalid_path(user):
    with pytest.raises(InvalidPath, match="name.nick"):
        patch_user(user, {"op": "replace", "path": "name", "value": {"nick": "x"}})


# 10. idempotency ------------------------------------------------------------------------------------------------------


def test_repeated_operations_are_no_ops(user, group):
    # Entra re-asserts unchanged values every cycle (pitfall 33, A8).
    operations = [
        {"op": "Replace", "path": "active", "value": "True"},
        {"op": "Replace", "path": "displayName", "value": "Test User"},
        {"op": "Add", "path": "emails", "value": [{"value": "test.user@okta.local", "type": "work"}]},
        {"op": "Remove", "path": "nickName"},
        {"op": "Remove", "path": 'phoneNumbers[type eq "fax"]'},
        {"op": "Add", "path": f"{ENT}:manager", "value": "boss-1"},
    ]
    assert apply_patch(user, operations, USER_RESOURCE) == user
    members = [
        {"op": "add", "path": "members", "value": [{"value": "u1091"}]},
        {"op": "remove", "path": 'members[value eq "gone"]'},
    ]
    assert apply_patch(group, members, GROUP_RESOURCE) == group


# 11. enterprise manager -----------------------------------------------------------------------------------------------


def test_entra_manager_as_list_with_ref_on_unqualified_path_a17(user):
    body = '{"Operations":[{"op":"Add","path":"manager","value":[{"$ref":"http://example.com/Users/00aa00aa-bb11-cc22-dd33-44ee44ee44ee","value":"00aa00aa-bb11-cc22-dd33-44ee44ee44ee"}]}]}'
    result = apply_patch(user, ops(body), USER_RESOURCE)
    assert result[ENT]["manager"] == {"value": "00aa00aa-bb11-cc22-dd33-44ee44ee44ee"}


def test_entra_manager_as_bare_string_a17(user):
    body = (
        '{"Operations":[{"op":"add",'
        '"path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",'
        '"value":"2c2f6fb8-1df9-4ae2-9ed8-39c2d5f2b0b8"}]}'
    )
    result = apply_patch(user, ops(body), USER_RESOURCE)
    assert result[ENT]["manager"] == {"value": "2c2f6fb8-1df9-4ae2-9ed8-39c2d5f2b0b8"}


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": "manager", "value": {"value": "m2"}},
        {"op": "replace", "path": f"{ENT}:manager.value", "value": "m2"},
        {"op": "replace", "value": {f"{ENT}:manager": "m2"}},
        {"op": "replace", "value": {ENT: {"manager": {"value": "m2", "displayName": "echoed"}}}},
    ],
)
def test_manager_shapes_store_value_object(user, operation):
    assert patch_user(user, operation)[ENT]["manager"] == {"value": "m2"}


def test_manager_on_user_without_extension(user):
    user.pop(ENT)
    result = patch_user(user, {"op": "add", "path": "manager", "value": "m1"})
    assert result[ENT] == {"manager": {"value": "m1"}}


def test_manager_list_with_several_entries_is_invalid_value(user):
    with pytest.raises(InvalidValue, match="manager"):
        patch_user(user, {"op": "add", "path": "manager", "value": [{"value": "a"}, {"value": "b"}]})


# 12. group membership -------------------------------------------------------------------------------------------------


def test_okta_membership_remove_and_add_k13(group):
    body = r"""{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
      {"op":"remove","path":"members[value eq \"89bb1940-b905-4575-9e7f-6f887cfb368e\"]"},
      {"op":"add","path":"members","value":[{"value":"23a35c27-23d3-4c03-b4c5-6443c09e7173","display":"test.user@okta.local"}]}]}"""
    result = apply_patch(group, ops(body), GROUP_RESOURCE)
    assert member_ids(result) == ["u1091", "u2000", "23a35c27-23d3-4c03-b4c5-6443c09e7173"]


def test_okta_full_member_replace_k13(group):
    value = [{"value": "a1", "display": "a@okta.local"}, {"value": "b2", "display": "b@okta.local"}]
    result = apply_patch(group, [{"op": "replace", "path": "members", "value": value}], GROUP_RESOURCE)
    assert result["members"] == [{"value": "a1"}, {"value": "b2"}]
    emptied = apply_patch(group, [{"op": "replace", "path": "members", "value": []}], GROUP_RESOURCE)
    assert emptied["members"] == []


def test_entra_add_members_a14(group):
    body = (
        '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add",'
        '"path":"members","value":[{"$ref":null,"value":"f648f8d5ea4e4cd38e9c"}]}]}'
    )
    result = apply_patch(group, ops(body), GROUP_RESOURCE)
    assert result["members"][-1] == {"value": "f648f8d5ea4e4cd38e9c"}
    assert apply_patch(result, ops(body), GROUP_RESOURCE) == result


def test_re_adding_member_with_other_immutable_ref_is_a_no_op(group):
    group["members"][1]["$ref"] = "https://sp.example/scim/v2/Users/u1091"
    value = [{"value": "u1091", "$ref": "https://graph.example/Users/u1091"}]
    assert apply_patch(group, [{"op": "Add", "path": "members", "value": value}], GROUP_RESOURCE) == group


def test_entra_add_members_to_empty_group(group):
    group.pop("members")
    operation = {"op": "Add", "path": "members", "value": [{"value": "m1"}, {"value": "m2"}, {"value": "m1"}]}
    assert member_ids(apply_patch(group, [operation], GROUP_RESOURCE)) == ["m1", "m2"]


@pytest.mark.parametrize(
    "value", [[{"value": "u1091"}], [{"$ref": None, "value": "u1091"}], [{"value": "u1091", "display": "x"}], "u1091"]
)
def test_entra_remove_members_removes_only_listed_a15(group, value):
    result = apply_patch(group, [{"op": "Remove", "path": "members", "value": value}], GROUP_RESOURCE)
    assert member_ids(result) == ["89bb1940-b905-4575-9e7f-6f887cfb368e", "u2000"]


def test_entra_remove_members_verbatim_a15(group):
    body = (
        '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove",'
        '"path":"members","value":[{"value":"u1091"}]}]}'
    )
    assert member_ids(apply_patch(group, ops(body), GROUP_RESOURCE)) == [
        "89bb1940-b905-4575-9e7f-6f887cfb368e",
        "u2000",
    ]
    flag = r'{"Operations":[{"op":"remove","path":"members[value eq \"u2000\"]"}]}'
    assert member_ids(apply_patch(group, ops(flag), GROUP_RESOURCE)) == [
        "89bb1940-b905-4575-9e7f-6f887cfb368e",
        "u1091",
    ]


def test_remove_members_compares_value_case_exactly(group):
    result = apply_patch(group, [{"op": "remove", "path": "members", "value": [{"value": "U1091"}]}], GROUP_RESOURCE)
    assert member_ids(result) == member_ids(group)


def test_remove_several_members_and_absent_ones(group):
    value = [{"value": "u1091"}, {"value": "u2000"}, {"value": "not-a-member"}]
    result = apply_patch(group, [{"op": "remove", "path": "members", "value": value}], GROUP_RESOURCE)
    assert member_ids(result) == ["89bb1940-b905-4575-9e7f-6f887cfb368e"]


def test_remove_members_value_without_identifying_key_is_invalid_value(group):
    with pytest.raises(InvalidValue):
        apply_patch(group, [{"op": "remove", "path": "members", "value": [{"display": "x"}]}], GROUP_RESOURCE)


def test_remove_members_without_value_clears_members(group):
    assert "members" not in apply_patch(group, [{"op": "remove", "path": "members"}], GROUP_RESOURCE)


def test_nested_group_id_as_member_is_accepted(group):
    # Entra may send a group id as a member (pitfall 38); whether it is allowed is the caller's policy.
    operation = {"op": "add", "path": "members", "value": [{"value": GROUP_ID, "type": "Group"}]}
    assert apply_patch(group, [operation], GROUP_RESOURCE)["members"][-1] == {"value": GROUP_ID, "type": "Group"}


def test_parse_path_lets_callers_recognise_member_operations():
    for text in ("members", "MEMBERS", 'members[value eq "x"]', 'members[value eq "x"].value'):
        path = parse_path(text, GROUP_RESOURCE)
        assert path.attribute is not None and path.attribute.name == "members"


# 9. hostile paths: limits instead of RecursionError / ValueError ------------------------------------------------------


def test_value_filter_nesting_is_capped():
    deep = "emails[" + "(" * 400 + 'type eq "work"' + ")" * 400 + "].value"
    with pytest.raises(InvalidFilter, match="nested"):
        parse_path(deep, USER_RESOURCE)
    negated = "emails[" + "not (" * 150 + 'type eq "work"' + ")" * 150 + "]"
    with pytest.raises(InvalidFilter, match="nested"):
        parse_path(negated, USER_RESOURCE)


def test_paths_are_capped_in_length():
    with pytest.raises(InvalidPath, match="longer than 1000"):
        parse_path("emails[value eq " + "1" * 5000 + "]", USER_RESOURCE)
    with pytest.raises(InvalidPath, match="longer than 1000"):
        parse_path("x" * 1001, USER_RESOURCE)
    # Within the cap a long number is still just a number.
    assert parse_path("emails[value eq " + "1" * 900 + "]", USER_RESOURCE).value_filter.value == int("1" * 900)


@pytest.mark.parametrize("text", ['emails[value eq "a\\u0000"]', 'emails[type eq "\x00"].value'])
def test_nul_in_a_value_filter_is_invalid_filter(text):
    with pytest.raises(InvalidFilter):
        parse_path(text, USER_RESOURCE)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("emails[type[value pr]]", InvalidFilter),
        ('emails[emails.type eq "work"]', InvalidFilter),
        (f'emails[{USER_SCHEMA}:type eq "work"]', InvalidFilter),
        ('emails[type eq "work"].value eq "x"', InvalidPath),
    ],
)
def test_value_filters_name_plain_sub_attributes_only(text, error):
    with pytest.raises(error):
        parse_path(text, USER_RESOURCE)
