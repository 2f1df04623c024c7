"""`userName eq "..."`, the filter IdPs send before every create, answered from a read built once (scim/users.py).

Every answer must be the one the general filter path gives: each case runs both ways and the bodies must match.
"""

from __future__ import annotations

import pytest

from models import Role, User, db
from scim import users as scim_users
from services import accounts, credentials, roles, tenants
from tests.conftest import ScimClient, statements
from tests.helpers import GROUP, USER

CASES = [
    'userName eq "ada@example.com"',
    'userName eq "ADA@Example.COM"',  # caseExact false: folded
    'USERNAME eq "ada@example.com"',  # attribute names are case-insensitive
    'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ada@example.com"',
    'userName EQ "grace@example.com"',  # a member of two groups
    'userName eq "nobody@example.com"',
    'userName eq "quote\\"d@example.com"',  # an escaped quote in the value
    'userName eq "promoted@example.com"',  # above the member rung: SCIM cannot see them (R3)
    'userName eq "shared@example.com"',  # the same name in another tenant (R12)
    'userName eq "gone@example.com"',  # deprovisioned by SCIM, then provisioned again
]
PAGES = ["", "&startIndex=1&count=1", "&startIndex=2", "&count=0", "&attributes=userName", "&excludedAttributes=emails"]
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
REFUSED = ["userName eq 42", "userName eq true", "userName eq null", 'username.x eq "a"', 'nickName eq "a"']


def _user(name: str) -> dict:
    return {"schemas": [USER], "userName": name, "emails": [{"value": "x@example.com", "type": "work"}]}


@pytest.fixture
def people(app, scim, super_admin, client, monkeypatch) -> None:
    for name in ("ada@example.com", "grace@example.com", 'quote"d@example.com', "promoted@example.com"):
        assert scim.post("/Users", _user(name)).status_code == 201
    gone = scim.post("/Users", _user("gone@example.com")).get_json()["id"]
    assert scim.delete(f"/Users/{gone}").status_code == 204
    assert scim.post("/Users", _user("gone@example.com")).status_code == 201
    grace = scim.get('/Users?filter=userName eq "grace@example.com"').get_json()["Resources"][0]["id"]
    for name in ("first", "second"):
        group = {"schemas": [GROUP], "displayName": name, "members": [{"value": grace}]}
        assert scim.post("/Groups", group).status_code == 201
    promoted = db.session.query(User).filter_by(user_name="promoted@example.com").one()
    accounts.mark_verified(promoted)
    roles.set_role(promoted, Role.MODERATOR)
    other = tenants.create_tenant("acme")
    _, token = credentials.issue(other, "acme IdP")
    with monkeypatch.context() as by_subdomain:  # tenants served by subdomain, for this one request
        by_subdomain.setitem(app.config, "TENANT_BASE_DOMAIN", "example.com")
        acme = ScimClient(client, token, host="acme.example.com")
        assert acme.post("/Users", _user("shared@example.com")).status_code == 201


def _both_ways(scim, monkeypatch, path: str, body: dict | None = None):
    """Answer `path` (a GET, or a POST /.search with `body`) through the built-once read, then the general path."""

    def send():
        return scim.post(path, body) if body is not None else scim.get(path)

    fast = send()
    with monkeypatch.context() as patched:
        patched.setattr(scim_users, "equality_value", lambda *_args: None)
        general = send()
    return fast, general


@pytest.mark.parametrize("paging", PAGES)
@pytest.mark.parametrize("text", CASES)
def test_the_built_once_read_answers_as_the_general_filter_does(scim, people, monkeypatch, text, paging):
    fast, general = _both_ways(scim, monkeypatch, f"/Users?filter={text}{paging}")
    assert fast.status_code == general.status_code == 200
    assert fast.get_json() == general.get_json()


def test_it_finds_only_what_scim_may_see(scim, people):
    def names(text: str) -> list[str]:
        return [r["userName"] for r in scim.get(f"/Users?filter={text}").get_json()["Resources"]]

    assert names('userName eq "ADA@example.com"') == ["ada@example.com"]
    assert names('userName eq "promoted@example.com"') == []
    assert names('userName eq "shared@example.com"') == []
    assert names('userName eq "gone@example.com"') == ["gone@example.com"]
    grace = scim.get('/Users?filter=userName eq "grace@example.com"').get_json()["Resources"][0]
    assert [g["display"] for g in grace["groups"]] == ["first", "second"]


@pytest.mark.parametrize("text", REFUSED)
def test_a_filter_it_cannot_take_is_refused_as_the_general_path_refuses_it(scim, people, monkeypatch, text):
    fast, general = _both_ways(scim, monkeypatch, f"/Users?filter={text}")
    assert fast.status_code == general.status_code
    assert fast.get_json() == general.get_json()


def test_a_post_search_takes_it_too(scim, people, monkeypatch):
    body = {"schemas": [SEARCH_REQUEST], "filter": 'userName eq "ada@example.com"'}
    fast, general = _both_ways(scim, monkeypatch, "/Users/.search", body)
    assert fast.status_code == general.status_code == 200
    assert fast.get_json() == general.get_json() and fast.get_json()["totalResults"] == 1


def test_it_reads_the_member_in_one_statement_built_once(scim, people):
    with statements() as seen:
        scim.get('/Users?filter=userName eq "ada@example.com"')
    reads = [s for s in seen if "FROM users" in s]
    assert len(reads) == 1 and "count(" not in reads[0], reads
    assert "IN (SELECT" not in reads[0]  # not the general path's page-of-ids window
