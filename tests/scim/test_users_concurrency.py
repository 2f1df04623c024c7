"""Concurrent provisioning: uniqueness holds under races and a lost race is a 409, never a 500."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from models import User, db
from tests.conftest import ScimClient
from tests.helpers import USER


def test_racing_creates_of_one_username_yield_one_user(app, scim_token):
    def create(i: int) -> int:
        client = ScimClient(app.test_client(), scim_token)
        body = {"schemas": [USER], "userName": "Racer@Example.com" if i % 2 else "racer@example.com"}
        return client.post("/Users", body).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(create, range(16)))
    assert sorted(set(statuses)) == [201, 409], statuses
    assert statuses.count(201) == 1
    db.session.expire_all()
    count = db.session.scalar(select(func.count()).select_from(User).where(User.user_name_ci == "racer@example.com"))
    assert count == 1


def test_racing_patches_to_different_users_all_apply(app, scim, scim_token):
    ids = [scim.post("/Users", {"schemas": [USER], "userName": f"p{i}@example.com"}).get_json()["id"] for i in range(8)]

    def deactivate(scim_id: str) -> int:
        client = ScimClient(app.test_client(), scim_token)
        body = {"Operations": [{"op": "replace", "path": "active", "value": False}]}
        return client.patch(f"/Users/{scim_id}", body).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(deactivate, ids)) == {200}
    for scim_id in ids:
        assert scim.get(f"/Users/{scim_id}").get_json()["active"] is False
