"""R7: member ids SCIM cannot see are skipped, the rest of a group push applies, and the log counts the skipped."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from models import Cohort, CohortMember, ScimRequest, db
from tests.admin.test_credentials import BASE, HX
from tests.scim.test_groups import create_group, member_ids, new_group, patch, stored_cohort, stored_members
from tests.scim.test_groups_membership import add, group, invisible, people  # noqa: F401 - fixtures

KINDS = ["promoted", "local", "other tenant", "deprovisioned", "super-admin", "unknown", "group"]


@pytest.fixture
def hidden(scim, invisible) -> dict[str, str]:  # noqa: F811
    """One id per kind SCIM cannot see: users of every sort, an id that never existed, and a group's id."""
    ids = {kind: user.scim_id for kind, user in invisible.items()}
    ids["unknown"] = "2f1c9a54-0000-4000-8000-000000000000"
    ids["group"] = create_group(scim, "Nested")["id"]
    assert set(ids) == set(KINDS)
    return ids


def last_row() -> ScimRequest:
    db.session.expire_all()
    return db.session.scalars(select(ScimRequest).order_by(ScimRequest.id.desc())).first()


def okta_add(*ids: str) -> dict:
    return patch({"op": "add", "path": "members", "value": [{"value": i, "display": "x@okta.local"} for i in ids]})


def entra_add(*ids: str) -> dict:
    # Entra A14: capitalised op, `"$ref": null`, several values in one operation.
    return patch({"op": "Add", "path": "members", "value": [{"$ref": None, "value": i} for i in ids]})


def replace_members(*ids: str) -> dict:
    return patch({"op": "replace", "path": "members", "value": [{"value": i} for i in ids]})


def pathless_replace(*ids: str) -> dict:
    return patch({"op": "replace", "value": {"members": [{"value": i} for i in ids], "displayName": "Renamed"}})


SHAPES = {
    "okta patch add": lambda scim, gid, ids: scim.patch(f"/Groups/{gid}", okta_add(*ids)),
    "entra patch add": lambda scim, gid, ids: scim.patch(f"/Groups/{gid}", entra_add(*ids)),
    "patch replace": lambda scim, gid, ids: scim.patch(f"/Groups/{gid}", replace_members(*ids)),
    "pathless replace": lambda scim, gid, ids: scim.patch(f"/Groups/{gid}", pathless_replace(*ids)),
    "put": lambda scim, gid, ids: scim.put(f"/Groups/{gid}", new_group("Renamed", members=[{"value": i} for i in ids])),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_shape_applies_the_visible_ids_and_skips_the_rest(scim, group, people, hidden, shape):  # noqa: F811
    ada, bob, _ = people
    ids = [hidden["unknown"], ada, *[hidden[k] for k in KINDS if k != "unknown"], bob]
    response = SHAPES[shape](scim, group["id"], ids)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert sorted(member_ids(response.get_json())) == sorted([ada, bob])
    assert stored_members(group["id"]) == {ada, bob}
    row = last_row()
    # A PATCH that also renames is logged as both (the pathless replace sends a new displayName).
    operation = "group.updated group.members_changed" if shape == "pathless replace" else "group.members_changed"
    assert (row.status, row.operation, row.skipped_members) == (200, operation, len(KINDS))
    # The log counts, it never names: no id of either kind is in the row.
    stored = json.dumps([row.path, row.failure, row.operation, row.user_agent])
    assert not any(scim_id in stored for scim_id in hidden.values())


def test_post_creates_the_group_with_the_visible_members(scim, super_admin, people, hidden):  # noqa: F811
    ada = people[0]
    members = [{"value": i} for i in (hidden["deprovisioned"], ada, hidden["unknown"], hidden["group"])]
    response = scim.post("/Groups", new_group("New", members=members))
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert member_ids(body) == [ada]
    assert stored_members(body["id"]) == {ada}
    assert stored_cohort(body["id"]).name == "New"
    row = last_row()
    assert (row.status, row.operation, row.skipped_members) == (201, "group.created", 3)


def test_a_push_of_only_invisible_ids_succeeds_and_changes_nothing(scim, group, people, hidden):  # noqa: F811
    ada = people[0]
    scim.patch(f"/Groups/{group['id']}", patch(add(ada)))
    before = stored_cohort(group["id"]).updated_at
    response = scim.patch(f"/Groups/{group['id']}", okta_add(*hidden.values()))
    assert response.status_code == 200
    assert member_ids(response.get_json()) == [ada]
    assert stored_cohort(group["id"]).updated_at == before
    assert last_row().skipped_members == len(KINDS)


def test_rename_and_members_in_one_patch_both_apply(scim, group, people, hidden):  # noqa: F811
    ada = people[0]
    response = scim.patch(
        f"/Groups/{group['id']}",
        patch({"op": "replace", "path": "displayName", "value": "Renamed"}, add(ada, hidden["promoted"])),
    )
    assert response.status_code == 200
    assert (stored_cohort(group["id"]).name, stored_members(group["id"])) == ("Renamed", {ada})


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "unknown"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_never_existed_and_hidden_get_byte_identical_answers(scim, group, people, hidden, kind, shape):  # noqa: F811
    ada = people[0]
    # ada is a member first, so neither request below changes anything and lastModified stays put.
    SHAPES[shape](scim, group["id"], [ada])
    never = SHAPES[shape](scim, group["id"], [ada, hidden["unknown"]])
    seen = SHAPES[shape](scim, group["id"], [ada, hidden[kind]])
    assert (never.status_code, never.get_data()) == (seen.status_code, seen.get_data())
    assert dict(never.headers) == dict(seen.headers)


def test_the_skipped_count_is_per_distinct_id_and_absent_when_nothing_was_skipped(scim, group, people, hidden):  # noqa: F811
    ada = people[0]
    scim.patch(f"/Groups/{group['id']}", patch(add(ada, hidden["unknown"], hidden["unknown"]), add(hidden["unknown"])))
    assert last_row().skipped_members == 1
    scim.patch(f"/Groups/{group['id']}", patch(add(ada)))
    assert last_row().skipped_members is None
    # Removing ids SCIM cannot see was always a no-op, not a skip.
    remove = {"op": "remove", "path": "members", "value": [{"value": hidden["local"]}]}
    scim.patch(f"/Groups/{group['id']}", patch(remove))
    assert last_row().skipped_members is None


def test_a_refused_request_records_no_skipped_count(scim, group, people, hidden):  # noqa: F811
    create_group(scim, "Taken")
    response = scim.patch(
        f"/Groups/{group['id']}",
        patch({"op": "replace", "path": "displayName", "value": "Taken"}, add(people[0], hidden["unknown"])),
    )
    assert response.status_code == 409
    row = last_row()
    assert (row.status, row.skipped_members) == (409, None)
    assert stored_members(group["id"]) == set()
    assert db.session.scalar(select(func.count()).select_from(CohortMember)) == 0
    assert db.session.scalar(select(func.count()).select_from(Cohort)) == 3


def test_the_credential_page_shows_the_skip_on_its_row(scim, admin_client, scim_token, group, people, hidden):  # noqa: F811
    scim.patch(f"/Groups/{group['id']}", okta_add(people[0], hidden["unknown"], hidden["promoted"]))
    scim.patch(f"/Groups/{group['id']}", okta_add(people[1]))
    row = last_row()
    html = admin_client.get(f"{BASE}/{row.credential_id}/requests", headers=HX).get_data(as_text=True)
    rows = re.findall(r"<tr data-status.*?</tr>", html, flags=re.S)
    assert "2 member ids named no user SCIM can see" in rows[1] and "members changed" in rows[1]
    assert "named no user SCIM can see" not in rows[0]
    assert hidden["promoted"] not in html and hidden["unknown"] not in html
