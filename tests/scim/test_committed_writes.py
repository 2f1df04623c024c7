"""A committed write is answered as done, whatever happens to its connection afterwards (PostgreSQL).

Each write meets a connection ended at a chosen moment: just after COMMIT (the answer needs no read
after it), during COMMIT with the reply lost (settled from a fresh connection), and just before
COMMIT (nothing was written: a 503 the IdP retries).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import Cohort, CohortMember, ScimRequest, User, db
from tests.conftest import ScimClient, scim_error
from tests.faults import admin_engine, kill_after_commit, lose_commit, named_app, require_postgresql
from tests.helpers import GROUP, PATCH_OP, USER


@pytest.fixture
def faulty(make_app, app, engine_options, database_url):
    """An app on the test database whose connections the tests end."""
    require_postgresql(database_url)
    faulty, _ = named_app(make_app, engine_options)
    return faulty


@pytest.fixture
def world(scim, super_admin) -> dict:
    """Two users and a group holding the first, made before any fault."""
    ada = scim.post("/Users", {"schemas": [USER], "userName": "ada@example.com"}).get_json()["id"]
    bob = scim.post("/Users", {"schemas": [USER], "userName": "bob@example.com"}).get_json()["id"]
    group = scim.post("/Groups", {"schemas": [GROUP], "displayName": "Staff", "members": [{"value": ada}]})
    return {"ada": ada, "bob": bob, "group": group.get_json()["id"]}


def patch(*operations: dict) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


# Each write: (method, path, body) from the ids in `world`, the status that says "done", and a check of the database.
WRITES = {
    "create user": (
        lambda w: ("POST", "/Users", {"schemas": [USER], "userName": "cy@example.com", "displayName": "Cy"}),
        201,
        lambda w: user_named("cy@example.com") is not None,
    ),
    "replace user": (
        lambda w: (
            "PUT",
            f"/Users/{w['ada']}",
            {"schemas": [USER], "userName": "ada@example.com", "displayName": "Ada L"},
        ),
        200,
        lambda w: user_named("ada@example.com").display_name == "Ada L",
    ),
    "deactivate user": (
        lambda w: ("PATCH", f"/Users/{w['ada']}", patch({"op": "replace", "path": "active", "value": False})),
        200,
        lambda w: user_named("ada@example.com").role == 1,
    ),
    "delete user": (
        lambda w: ("DELETE", f"/Users/{w['bob']}", None),
        204,
        lambda w: user_named("bob@example.com").deprovisioned_at is not None,
    ),
    "create group": (
        lambda w: ("POST", "/Groups", {"schemas": [GROUP], "displayName": "Night", "members": [{"value": w["bob"]}]}),
        201,
        lambda w: member_names("Night") == {"bob@example.com"},
    ),
    "replace group": (
        lambda w: (
            "PUT",
            f"/Groups/{w['group']}",
            {"schemas": [GROUP], "displayName": "Staff", "members": [{"value": w["bob"]}]},
        ),
        200,
        lambda w: member_names("Staff") == {"bob@example.com"},
    ),
    "add member": (
        lambda w: (
            "PATCH",
            f"/Groups/{w['group']}",
            patch({"op": "add", "path": "members", "value": [{"value": w["bob"]}]}),
        ),
        200,
        lambda w: member_names("Staff") == {"ada@example.com", "bob@example.com"},
    ),
}


def user_named(user_name: str) -> User | None:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.user_name == user_name))


def member_names(group_name: str) -> set[str]:
    db.session.expire_all()
    cohort = db.session.scalar(select(Cohort).where(Cohort.name == group_name))
    if cohort is None:
        return set()
    query = select(User.user_name).join(CohortMember, CohortMember.user_id == User.id)
    return set(db.session.scalars(query.where(CohortMember.cohort_id == cohort.id)))


def send(faulty, token: str, request: tuple):
    method, path, body = request
    return ScimClient(faulty.test_client(), token).open(method, path, body)


def last_log_row() -> ScimRequest:
    db.session.expire_all()
    return db.session.scalars(select(ScimRequest).order_by(ScimRequest.id.desc())).first()


@pytest.mark.parametrize("write", WRITES)
def test_a_connection_lost_after_commit_does_not_fail_the_answer(faulty, world, scim_token, database_url, write):
    request, done, applied = WRITES[write]
    with admin_engine(database_url) as admin, kill_after_commit(faulty, admin) as hit:
        response = send(faulty, scim_token, request(world))
    assert response.status_code == done, response.get_data(as_text=True)
    assert hit == [], "the answer read the database after COMMIT"
    assert applied(world)


@pytest.mark.parametrize("write", WRITES)
def test_a_commit_whose_reply_is_lost_is_answered_as_done(faulty, world, scim_token, database_url, write):
    request, done, applied = WRITES[write]
    with admin_engine(database_url) as admin, lose_commit(faulty, admin, reply_only=True) as hit:
        response = send(faulty, scim_token, request(world))
    assert hit, "no COMMIT was interrupted"
    assert response.status_code == done, response.get_data(as_text=True)
    assert applied(world)
    row = last_log_row()
    assert row.status == done and row.failure is None


def test_a_settled_deactivation_is_logged_as_one(faulty, world, scim_token, database_url):
    request, _, _ = WRITES["deactivate user"]
    with admin_engine(database_url) as admin, lose_commit(faulty, admin, reply_only=True):
        response = send(faulty, scim_token, request(world))
    assert response.get_json(force=True)["active"] is False
    assert last_log_row().operation == "user.deactivated"


@pytest.mark.parametrize("write", WRITES)
def test_a_commit_that_never_ran_is_a_503_and_changes_nothing(faulty, world, scim_token, database_url, write):
    request, _, applied = WRITES[write]
    with admin_engine(database_url) as admin, lose_commit(faulty, admin, reply_only=False) as hit:
        response = send(faulty, scim_token, request(world))
    assert hit
    scim_error(response, 503)
    assert response.headers["Retry-After"]
    assert not applied(world)
    assert last_log_row().status == 503
