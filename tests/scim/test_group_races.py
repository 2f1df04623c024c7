"""Racing writes to Groups: a membership replace is all-or-nothing (R7).

Every request runs in its own thread with its own client and database session, released together, on SQLite and,
with TEST_DATABASE_URL, on PostgreSQL. Several trials per test, so an unguarded read-modify-write shows reliably.
"""

from __future__ import annotations

from tests.concurrency import run_together
from tests.conftest import ScimClient
from tests.scim.test_groups import GROUP, create_group, patch, scim_users, stored_members

WRITERS = 10
TRIALS = 3


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
