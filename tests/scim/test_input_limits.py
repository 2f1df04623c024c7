"""Input that is well-formed JSON but not a value we keep: booleans as ids, odd digits, bodies built to cost time."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models import User, db
from scim import schemas, wire
from scim.patch_message import MAX_OPERATIONS
from tests.conftest import scim_error
from tests.helpers import ENTERPRISE, PATCH_OP, USER


def patch(*operations) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


@pytest.mark.parametrize("manager", [True, False, {"value": True}, [{"value": False}], 1.5])
def test_a_manager_that_is_not_an_id_is_400(scim, manager):
    body = {"schemas": [USER, ENTERPRISE], "userName": "ada", ENTERPRISE: {"manager": manager}}
    error = scim_error(scim.post("/Users", body), 400, "invalidValue")
    assert "manager" in error["detail"]
    created = scim.post("/Users", {"userName": "bob"}).get_json()
    response = scim.patch(f"/Users/{created['id']}", patch({"op": "add", "path": "manager", "value": manager}))
    scim_error(response, 400, "invalidValue")


def test_a_manager_id_given_as_a_number_is_still_kept_as_a_string(scim):
    body = {"userName": "ada", ENTERPRISE: {"manager": 42}}
    assert scim.post("/Users", body).get_json()[ENTERPRISE]["manager"] == {"value": "42"}


@pytest.mark.parametrize("raw", ["1_000", "١٢", "１２", "1e3", "0x10", "", "٣"])
@pytest.mark.parametrize("name", ["startIndex", "count"])
def test_paging_numbers_must_be_ascii_digits(scim, name, raw):
    if raw == "":
        assert scim.get("/Users", query_string={name: raw}).status_code == 200  # empty means the default
        return
    error = scim_error(scim.get("/Users", query_string={name: raw}), 400, "invalidValue")
    assert name in error["detail"]
    scim_error(scim.post("/Users/.search", {name: raw}), 400, "invalidValue")


@pytest.mark.parametrize("raw", ["7", " 7 ", "+7", "-3"])
def test_paging_numbers_in_ascii_digits_still_work(scim, raw):
    assert scim.get("/Users", query_string={"count": raw}).status_code == 200


def _walks_refused(monkeypatch):
    """Make a walk over the whole body, or marshmallow's, fail the test: the refusal must come before either."""

    def forbidden(*args, **kwargs):
        raise AssertionError("the whole body was walked before the refusal")

    monkeypatch.setattr(wire, "_check_strings", forbidden)
    monkeypatch.setattr(schemas.UserSchema, "load", forbidden)


@pytest.mark.parametrize("attribute", ["emails", "phoneNumbers", "addresses", "EMAILS"])
def test_a_multi_valued_attribute_over_the_cap_is_refused_before_the_body_is_walked(scim, monkeypatch, attribute):
    _walks_refused(monkeypatch)
    values = [{"value": f"u{i}@example.com"} for i in range(schemas.MAX_VALUES + 1)]
    error = scim_error(scim.post("/Users", {"userName": "ada", attribute: values}), 400, "invalidValue")
    assert f"has {schemas.MAX_VALUES + 1} values; at most {schemas.MAX_VALUES}" in error["detail"]
    assert attribute.lower() in error["detail"].lower()
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_put_and_patch_are_capped_before_the_walk_too(scim, monkeypatch):
    created = scim.post("/Users", {"userName": "ada"}).get_json()
    _walks_refused(monkeypatch)
    values = [{"value": f"u{i}@example.com"} for i in range(schemas.MAX_VALUES + 1)]
    scim_error(scim.put(f"/Users/{created['id']}", {"userName": "ada", "emails": values}), 400, "invalidValue")
    for operation in (
        {"op": "add", "path": "emails", "value": values},
        {"op": "replace", "value": {"phoneNumbers": values}},
    ):
        error = scim_error(scim.patch(f"/Users/{created['id']}", patch(operation)), 400, "invalidValue")
        assert f"holds {schemas.MAX_VALUES + 1} values" in error["detail"]


def test_many_one_value_operations_cannot_grow_a_list_past_the_cap(scim):
    created = scim.post("/Users", {"userName": "ada"}).get_json()
    operations = [
        {"op": "add", "path": "emails", "value": [{"value": f"u{i}@example.com"}]}
        for i in range(schemas.MAX_VALUES + 5)
    ]
    error = scim_error(scim.patch(f"/Users/{created['id']}", patch(*operations)), 400, "invalidValue")
    assert f"would hold {schemas.MAX_VALUES + 1} values" in error["detail"]
    assert scim.get(f"/Users/{created['id']}").get_json().get("emails") is None


def test_a_patch_holds_at_most_max_operations(scim, super_admin):
    created = scim.post("/Users", {"userName": "ada"}).get_json()
    group = scim.post("/Groups", {"displayName": "g"}).get_json()
    operations = [{"op": "replace", "path": "displayName", "value": "x"}] * (MAX_OPERATIONS + 1)
    for path in (f"/Users/{created['id']}", f"/Groups/{group['id']}"):
        error = scim_error(scim.patch(path, patch(*operations)), 400, "invalidValue")
        assert f"at most {MAX_OPERATIONS} operations" in error["detail"]
    assert scim.patch(f"/Groups/{group['id']}", patch(*operations[:MAX_OPERATIONS])).status_code == 200


def test_group_members_are_not_capped_like_user_attributes(scim, super_admin):
    ids = [scim.post("/Users", {"userName": f"u{i}"}).get_json()["id"] for i in range(schemas.MAX_VALUES + 1)]
    response = scim.post("/Groups", {"displayName": "big", "members": [{"value": i} for i in ids]})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert len(response.get_json()["members"]) == schemas.MAX_VALUES + 1
