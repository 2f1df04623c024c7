"""Racing writes to Groups: a membership replace is all-or-nothing, and externalId stays unique (R5, R6, R7).

Every request runs in its own thread with its own client and database session, released together, on SQLite and,
with TEST_DATABASE_URL, on PostgreSQL. Several trials per test, so an unguarded read-modify-write shows reliably.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models import Cohort, db
from tests.concurrency import run_together
from tests.conftest import ScimClient, scim_error
from tests.helpers import GROUP
from tests.scim.test_groups import create_group, patch, scim_users, stored_members

WRITERS = 10
TRIALS = 3
CREATORS = 20


@pytest.fixture
def wide_app(app, make_app, engine_options):
    """The app with a pool for CREATORS requests at once: each holds a connection, and its request-log row a second."""
    wide = make_app(SQLALCHEMY_ENGINE_OPTIONS={**engine_options, "pool_size": 2 * CREATORS})
    yield wide
    with wide.app_context():
        db.engine.dispose()


def member_sets(ids: list[str]) -> list[list[str]]:
    """One set per writer, overlapping its neighbours', so a mix of several requests' sets shows as none of them."""
    return [ids[i * 3 : i * 3 + 6] for i in range(WRITERS)]


def replacing_requests(app, token: str, group_id: str, sets: list[list[str]], how: str):
    def request(values: list[str]):
        client = ScimClient(app.test_client(), token)
        members = [{"value": v} for v in values]
        if how == "put":
            body = {"schemas": [GROUP], "displayName": "Racing", "members": members}
            return lambda: client.put(f"/Groups/{group_id}?excludedAttributes=members", body).status_code
        body = patch({"op": "replace", "path": "members", "value": members})
        return lambda: client.patch(f"/Groups/{group_id}?excludedAttributes=members", body).status_code

    return [request(values) for values in sets]


def assert_one_request_wins(app, tenant, scim, scim_token, how: str) -> None:
    ids = scim_users(tenant.id, WRITERS * 3 + 3)
    sets = member_sets(ids)
    group = create_group(scim, "Racing", members=[{"value": v} for v in ids])
    for trial in range(TRIALS):
        statuses = run_together(replacing_requests(app, scim_token, group["id"], sets, how))
        assert statuses == [200] * WRITERS
        final = stored_members(group["id"])
        assert final in [set(s) for s in sets], f"trial {trial}: a mix of several requests' members: {sorted(final)}"
        sets = sets[1:] + sets[:1]  # a different request order matters for the next trial


def test_racing_puts_leave_exactly_one_requests_members(app, tenant, super_admin, scim, scim_token):
    assert_one_request_wins(app, tenant, scim, scim_token, "put")


def test_racing_patch_replaces_leave_exactly_one_requests_members(app, tenant, super_admin, scim, scim_token):
    assert_one_request_wins(app, tenant, scim, scim_token, "patch")


def sender(app, token: str, method: str, path: str, body: dict):
    """A request ready to go from its own client; the job returns the response."""
    client = ScimClient(app.test_client(), token)
    return lambda: client.open(method, path, body)


def test_racing_creates_with_one_external_id_make_one_group(wide_app, tenant, super_admin, scim_token):
    for trial in range(TRIALS):
        external_id = f"okta-group-{trial}"
        bodies = [
            {"schemas": [GROUP], "displayName": f"Group {trial}.{i}", "externalId": external_id}
            for i in range(CREATORS)
        ]
        responses = run_together([sender(wide_app, scim_token, "POST", "/Groups", body) for body in bodies])
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201] + [409] * (CREATORS - 1), f"trial {trial}: {statuses}"
        winner = next(r.get_json() for r in responses if r.status_code == 201)
        for response in responses:
            if response.status_code == 409:
                body = scim_error(response, 409, "uniqueness")
                # Nothing about the group that has it: not its id, not its name.
                assert winner["id"] not in body["detail"] and "Group" not in body["detail"]
        db.session.expire_all()
        count = db.session.scalar(select(func.count()).select_from(Cohort).where(Cohort.external_id == external_id))
        assert count == 1, f"trial {trial}: {count} groups share externalId {external_id}"


def test_racing_renames_to_one_external_id_leave_it_on_one_group(app, tenant, super_admin, scim, scim_token):
    for trial in range(TRIALS):
        groups = [create_group(scim, f"Rename {trial}.{i}")["id"] for i in range(WRITERS)]
        external_id = f"taken-{trial}"
        body = patch({"op": "replace", "path": "externalId", "value": external_id})
        responses = run_together([sender(app, scim_token, "PATCH", f"/Groups/{g}", body) for g in groups])
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] + [409] * (WRITERS - 1), f"trial {trial}: {statuses}"
        db.session.expire_all()
        count = db.session.scalar(select(func.count()).select_from(Cohort).where(Cohort.external_id == external_id))
        assert count == 1


def test_a_deleted_groups_external_id_can_be_used_again(scim, super_admin):
    first = create_group(scim, "First", externalId="reused")
    scim_error(
        scim.post("/Groups", {"schemas": [GROUP], "displayName": "Second", "externalId": "reused"}), 409, "uniqueness"
    )
    assert scim.delete(f"/Groups/{first['id']}").status_code == 204
    second = create_group(scim, "Second", externalId="reused")
    assert second["externalId"] == "reused" and second["id"] != first["id"]
    # The deleted cohort keeps its externalId for the tenant; only SCIM-visible groups must not share one.
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Cohort).where(Cohort.external_id == "reused")) == 2
