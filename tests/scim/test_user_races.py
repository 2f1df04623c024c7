"""Racing PATCHes to one member each keep their change: a PATCH applies to what the last write left (R2, R5).

Each request runs in its own thread, client and database session, released together; on SQLite and, with
TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

from tests.concurrency import run_together
from tests.conftest import ScimClient
from tests.helpers import PATCH_OP, USER

TRIALS = 3
# One attribute per request: a PATCH computed from a copy read before another request committed would put
# that request's attribute back to its old value.
ATTRIBUTES = ["displayName", "nickName", "title", "preferredLanguage", "locale", "timezone", "name.givenName"]


def send(app, token: str, path: str, operation: dict):
    """A PATCH with one operation, ready to go from its own client; the job returns the status."""
    client = ScimClient(app.test_client(), token)
    return lambda: client.patch(path, {"schemas": [PATCH_OP], "Operations": [operation]}).status_code


def test_racing_patches_of_different_attributes_all_stick(app, scim, scim_token):
    scim_id = scim.post("/Users", {"schemas": [USER], "userName": "busy@example.com"}).get_json()["id"]
    for trial in range(TRIALS):
        jobs = [
            send(app, scim_token, f"/Users/{scim_id}", {"op": "replace", "path": path, "value": f"{path} {trial}"})
            for path in ATTRIBUTES
        ]
        assert run_together(jobs) == [200] * len(ATTRIBUTES)
        user = scim.get(f"/Users/{scim_id}").get_json()
        values = {path: user.get(path) for path in ATTRIBUTES if "." not in path}
        values["name.givenName"] = user.get("name", {}).get("givenName")
        lost = sorted(path for path in ATTRIBUTES if values[path] != f"{path} {trial}")
        assert not lost, f"trial {trial}: changes lost to a concurrent PATCH: {lost}"


def test_a_patch_racing_a_deactivation_never_reactivates(app, scim, scim_token):
    """Entra deactivates while other PATCHes rename: a rename must not write back the old `active`."""
    for trial in range(TRIALS):
        scim_id = scim.post("/Users", {"schemas": [USER], "userName": f"leaver{trial}@example.com"}).get_json()["id"]
        path = f"/Users/{scim_id}"
        jobs = [send(app, scim_token, path, {"op": "replace", "path": "active", "value": False})]
        jobs += [send(app, scim_token, path, {"op": "replace", "value": {"displayName": f"R{i}"}}) for i in range(4)]
        assert run_together(jobs) == [200] * len(jobs)
        assert scim.get(path).get_json()["active"] is False, f"trial {trial}"
