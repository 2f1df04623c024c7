"""Properties of the SCIM surface over generated requests against the real database (SQLite or PostgreSQL).

Every answer is below 500; every refusal is a SCIM Error body in application/scim+json; and a refused write leaves
users, emails, cohorts and memberships exactly as they were. Fewer cases than the pure properties (each one is a
request and a database round trip), the same ones on every run.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from sqlalchemy import select

from models import db
from tests.helpers import ERROR
from tests.scim import strategies as gen

_TABLES = ("users", "user_emails", "cohorts", "cohort_members")


def snapshot() -> dict:
    """Read the domain tables afresh (not through the session the app shares) as sorted rows."""
    with db.engine.connect() as connection:
        return {
            name: sorted((tuple(row) for row in connection.execute(select(db.metadata.tables[name]))), key=repr)
            for name in _TABLES
        }


def check(response, before: dict | None = None) -> None:
    """Assert the answer is not a server error and a refusal is a SCIM Error that changed nothing."""
    assert response.status_code < 500, response.get_data(as_text=True)
    event(f"status {response.status_code}")  # --hypothesis-show-statistics shows that both answers are reached
    if response.status_code >= 400:
        assert response.mimetype == "application/scim+json"
        body = response.get_json(force=True)
        assert body["schemas"] == [ERROR] and body["status"] == str(response.status_code) and body["detail"]
        if before is not None:
            assert snapshot() == before


def send(scim, method: str, path: str, body) -> object:
    """Send any JSON value as the body; json.dumps keeps lone surrogates as \\ud800 escapes, as a client could."""
    return scim.open(method, path, json.dumps(body))


@pytest.fixture
def targets(scim, super_admin) -> dict:
    """One user and one group that the generated PUTs and PATCHes aim at, with a member between them."""
    user = scim.post("/Users", {"userName": "target", "emails": [{"value": "t@example.com", "type": "work"}]})
    other = scim.post("/Users", {"userName": "other"}).get_json()
    group = scim.post("/Groups", {"displayName": "Target group", "members": [{"value": user.get_json()["id"]}]})
    return {"user": user.get_json()["id"], "other": other["id"], "group": group.get_json()["id"]}


@gen.examples(250)
@given(text=gen.filters, resource=st.sampled_from(["/Users", "/Groups"]))
def test_list_filters_answer_200_or_a_scim_400(scim, targets, text, resource):
    try:
        response = scim.get(resource, query_string={"filter": text})
    except UnicodeEncodeError:  # a lone surrogate cannot be put in a URL at all; .search carries those
        return
    check(response)
    assert response.status_code in (200, 400)


@gen.examples(200)
@given(body=gen.search_bodies, path=st.sampled_from(["/Users/.search", "/Groups/.search", "/.search"]))
def test_search_bodies_answer_200_or_a_scim_400(scim, targets, body, path):
    response = send(scim, "POST", path, body)
    check(response)
    assert response.status_code in (200, 400)


@gen.examples(200)
@given(body=gen.user_bodies, method=st.sampled_from(["POST", "PUT"]))
def test_user_writes_answer_or_refuse_without_a_trace(scim, targets, body, method):
    before = snapshot()
    path = "/Users" if method == "POST" else f"/Users/{targets['user']}"
    check(send(scim, method, path, body), before)


@gen.examples(200)
@given(body=gen.patch_bodies, which=st.sampled_from(["user", "group"]))
def test_patches_in_either_dialect_answer_or_refuse_without_a_trace(scim, targets, body, which):
    before = snapshot()
    path = f"/Users/{targets['user']}" if which == "user" else f"/Groups/{targets['group']}"
    check(send(scim, "PATCH", path, body), before)


@gen.examples(150)
@given(body=gen.group_bodies, method=st.sampled_from(["POST", "PUT"]), member=st.booleans())
def test_group_writes_answer_or_refuse_without_a_trace(scim, targets, body, method, member):
    if member and isinstance(body, dict):
        body = {**body, "members": [{"value": targets["other"]}]}
    before = snapshot()
    path = "/Groups" if method == "POST" else f"/Groups/{targets['group']}"
    check(send(scim, method, path, body), before)
