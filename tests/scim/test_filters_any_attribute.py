"""Every singular User attribute /Schemas publishes is filterable, by short and URN name, on SQLite and PostgreSQL.

The cases come from what /Schemas renders (checked against the endpoint below), so an attribute published
tomorrow is filtered on here without anyone adding it.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import insert, select, text

from models import User, db
from scim.definitions import ENTERPRISE_USER, ENTERPRISE_USER_SCHEMA, USER, USER_SCHEMA
from scim.filter_maps import USER_FILTERS
from scim.filters import compile_filter
from services.identifiers import fold
from services.visibility import scim_visible
from tests.conftest import scim_error
from tests.scim.test_groups import create_group, patch

# (schema URN, attribute object) exactly as /Schemas renders them.
PUBLISHED = [(schema.id, attribute.to_scim()) for schema in (USER, ENTERPRISE_USER) for attribute in schema.attributes]


def _leaves() -> list[tuple[str, str, dict]]:
    """Every singular attribute: (schema URN, dotted name, definition); complex ones by their sub-attributes."""
    leaves = []
    for urn, attribute in PUBLISHED:
        if attribute["multiValued"]:
            continue
        for sub in attribute.get("subAttributes") or [None]:
            name = attribute["name"] if sub is None else f"{attribute['name']}.{sub['name']}"
            leaves.append((urn, name, sub or attribute))
    return leaves


LEAVES = _leaves()
FORMS = ["short", "urn"]


def test_the_cases_are_what_schemas_publishes(scim):
    body = scim.get("/Schemas").get_json()
    served = [
        (r["id"], a)
        for r in body["Resources"]
        if r["id"] in (USER_SCHEMA, ENTERPRISE_USER_SCHEMA)
        for a in r["attributes"]
    ]
    assert served == PUBLISHED
    assert {name for _, name, _ in LEAVES} >= {"nickName", "title", "locale", "employeeNumber", "manager.value"}


def _value(name: str, who: str) -> str:
    # "ß" folds to "ss": a case-insensitive match must find "STRASSE", which lower() would not.
    return f"{who}-{name.replace('.', '-')}-Straße"


def _body(who: str, active: bool) -> dict:
    """A User with a distinct value in every writable singular attribute."""
    body: dict = {"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA], "active": active}
    for urn, name, definition in LEAVES:
        if definition["mutability"] == "readOnly" or definition["type"] != "string":
            continue
        target = body if urn == USER_SCHEMA else body.setdefault(ENTERPRISE_USER_SCHEMA, {})
        parts = name.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = _value(name, who)
    return body


@pytest.fixture
def pair(scim, super_admin) -> dict[str, dict]:
    """Two members, a (active) and b (deactivated), whose every attribute differs."""
    users = {}
    for who in ("a", "b"):
        response = scim.post("/Users", _body(who, who == "a"))
        assert response.status_code == 201, response.get_data(as_text=True)
        users[who] = response.get_json()
    return users


def found(scim, filter_text: str) -> set[str]:
    response = scim.get(f"/Users?filter={quote(filter_text)}&count=200")
    assert response.status_code == 200, response.get_data(as_text=True)
    return {r["id"] for r in response.get_json()["Resources"]}


def _stored(user: dict, urn: str, name: str):
    """The attribute's value in the rendered user, or None when the server keeps none."""
    value = user if urn == USER_SCHEMA else user.get(ENTERPRISE_USER_SCHEMA, {})
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(("urn", "name", "definition"), LEAVES, ids=[name for _, name, _ in LEAVES])
def test_each_published_attribute_finds_the_right_user(scim, pair, urn, name, definition, form):
    path = name if form == "short" else f"{urn}:{name}"
    a, b = pair["a"], pair["b"]
    both = {a["id"], b["id"]}
    value = _stored(a, urn, name)
    if value is None:
        # Derived by the server and never kept (manager.$ref, manager.displayName): absent on everyone.
        assert definition["mutability"] == "readOnly"
        assert found(scim, f'{path} eq "x"') == set() and found(scim, f"{path} pr") == set()
        assert found(scim, f'{path} ne "x"') == both
        return
    literal = "true" if value is True else "false" if value is False else f'"{value}"'
    assert found(scim, f"{path} eq {literal}") == {a["id"]}
    assert found(scim, f"not ({path} eq {literal})") == {b["id"]}
    assert found(scim, f"{path} pr") == both
    if definition["type"] != "string":
        return
    assert found(scim, f'{path} ne "{value}"') == {b["id"]}
    assert found(scim, f'{path} co "{value[:-2]}"') == {a["id"]}
    assert found(scim, f'{path} sw "{value[:-1]}"') == {a["id"]}
    shouted = value.upper()  # "STRASSE", and an id in capitals
    assert found(scim, f'{path} eq "{shouted}"') == (set() if definition["caseExact"] else {a["id"]})
    # Strings order by code point on both databases, compared folded unless caseExact.
    key = (lambda v: v) if definition["caseExact"] else fold
    low, high = sorted((a, b), key=lambda user: key(_stored(user, urn, name)))
    assert found(scim, f'{path} lt "{_stored(high, urn, name)}"') == {low["id"]}
    assert found(scim, f'{path} ge "{_stored(high, urn, name)}"') == {high["id"]}


def test_a_patched_attribute_is_found_by_its_new_value_only(scim, pair):
    a = pair["a"]
    operations = [
        {"op": "replace", "path": "nickName", "value": "Ödön"},
        {"op": "replace", "path": f"{ENTERPRISE_USER_SCHEMA}:employeeNumber", "value": "E-ÄÖ-7"},
    ]
    assert scim.patch(f"/Users/{a['id']}", patch(*operations)).status_code == 200
    assert found(scim, 'nickName eq "ÖDÖN"') == {a["id"]}
    assert found(scim, f'nickName eq "{_value("nickName", "a")}"') == set()
    assert found(scim, 'employeeNumber eq "e-äö-7"') == {a["id"]}
    assert found(scim, f'employeeNumber eq "{_value("employeeNumber", "a")}"') == set()


def test_entra_matches_on_employee_number_as_its_test_connection_does(scim, pair):
    # Entra's "Test connection" filters on the matching attribute with a random value; then it matches for real.
    assert found(scim, f'{ENTERPRISE_USER_SCHEMA}:employeeNumber eq "0f0e-no-such-number"') == set()
    assert found(scim, f'employeeNumber eq "{_value("employeeNumber", "b").upper()}"') == {pair["b"]["id"]}


def test_manager_alone_means_its_value_and_name_alone_is_a_clear_400(scim, pair):
    manager = _value("manager.value", "a")
    assert found(scim, f'manager eq "{manager}"') == {pair["a"]["id"]}
    assert found(scim, f'{ENTERPRISE_USER_SCHEMA}:manager[value eq "{manager}"]') == {pair["a"]["id"]}
    assert found(scim, f'name[formatted eq "{_value("name.formatted", "b")}"]') == {pair["b"]["id"]}
    name_alone = quote('name eq "x"')
    error = scim_error(scim.get(f"/Users?filter={name_alone}"), 400, "invalidFilter")
    assert "complex" in error["detail"] and "name.givenName" in error["detail"]


def test_groups_filter_through_the_visible_memberships(scim, pair):
    a = pair["a"]
    group = create_group(scim, "Straße Team", members=[{"value": a["id"]}])
    assert found(scim, f'groups eq "{group["id"]}"') == {a["id"]}
    assert found(scim, f'groups[value eq "{group["id"]}"]') == {a["id"]}
    assert found(scim, 'groups.display eq "STRASSE TEAM"') == {a["id"]}
    assert found(scim, f'not (groups.value eq "{group["id"]}")') == {pair["b"]["id"]}
    scim.delete(f"/Groups/{group['id']}")  # a group deleted over SCIM is no longer one of the user's groups
    assert found(scim, f'groups eq "{group["id"]}"') == set()


@pytest.mark.parametrize(
    "filter_text", ['phoneNumbers[type eq "work"]', 'addresses.locality eq "x"', 'phoneNumbers.value eq "1"']
)
def test_lists_kept_as_sent_are_a_400_that_says_what_is_filterable(scim, pair, filter_text):
    error = scim_error(scim.get(f"/Users?filter={quote(filter_text)}"), 400, "invalidFilter")
    assert "only emails, groups are" in error["detail"]


def test_employee_number_has_an_index_and_the_match_uses_it(scim, tenant, pair):
    indexes = {i.name: [c.name for c in i.columns] for i in User.__table__.indexes}
    assert indexes["ix_users_tenant_employee_number_ci"] == ["tenant_id", "employee_number_ci", "scim_managed", "role"]
    query = select(User.id).where(
        scim_visible(tenant.id), compile_filter('employeeNumber eq "a-employeeNumber-Straße"', USER_FILTERS)
    )
    compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
    connection = db.session.connection()
    if db.engine.dialect.name == "postgresql":
        # A two-row table without statistics is scanned, or read through any index on tenant_id (the list's
        # ix_users_scim_visible costs the same there): members enough for the statistics to tell them apart.
        fillers = [
            {"tenant_id": tenant.id, "scim_managed": True, "user_name": f"f{i}", "profile": {}} for i in range(300)
        ]
        connection.execute(insert(User), fillers)
        connection.execute(text("ANALYZE users"))
        connection.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(connection.execute(text(f"EXPLAIN {compiled}")).scalars())
    else:
        plan = "\n".join(row[-1] for row in connection.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
    assert "ix_users_tenant_employee_number_ci" in plan
    assert db.session.scalars(query).all() == [
        db.session.scalar(select(User.id).where(User.scim_id == pair["a"]["id"]))
    ]
