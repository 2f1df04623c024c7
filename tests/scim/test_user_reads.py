"""SCIM's reads of members (services/member_reads.py) answer what the ORM render of a write answers."""

from __future__ import annotations

from datetime import datetime

import flask
from sqlalchemy import select, update

from models import User, db
from scim import user_resources
from scim.translate import iso
from tests.conftest import statements
from tests.helpers import GROUP, USER


def _member(scim, name: str) -> dict:
    body = {"schemas": [USER], "userName": name, "emails": [{"value": name, "type": "work", "primary": True}]}
    response = scim.post("/Users", body)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def _not_in_a_read(moment: object) -> str:
    raise AssertionError("a read formats its times in SQL")


def test_meta_times_drop_the_fraction_of_a_second_in_a_read_a_list_and_a_write(scim, monkeypatch):
    """The database formats the read's times, not Python (a page holds 200 of them); a moment before the next
    second must not round up into it, as Python's formatting of a write's answer does not."""
    scim_id = _member(scim, "ada@example.com")["id"]
    created, modified = datetime(2024, 5, 1, 9, 30, 59, 999_999), datetime(2024, 12, 31, 23, 59, 59, 999_999)
    db.session.execute(update(User).where(User.scim_id == scim_id).values(created_at=created, updated_at=modified))
    db.session.commit()
    expected = {"created": "2024-05-01T09:30:59Z", "lastModified": "2024-12-31T23:59:59Z"}

    with monkeypatch.context() as patched:
        patched.setattr(user_resources, "iso", _not_in_a_read)
        read = scim.get(f"/Users/{scim_id}").get_json()["meta"]
        listed = scim.get("/Users?count=10").get_json()["Resources"][0]["meta"]
    assert {key: read[key] for key in expected} == expected
    assert {key: listed[key] for key in expected} == expected
    user = db.session.scalar(select(User).where(User.scim_id == scim_id))
    assert user is not None
    assert (iso(user.created_at), iso(user.updated_at)) == (expected["created"], expected["lastModified"])


def test_a_listed_member_is_the_member_a_read_and_a_write_answer(scim):
    """The list renders members from plain rows; a write renders them from the ORM entity. Same resource."""
    written = _member(scim, "grace@example.com")
    _member(scim, "edsger@example.com")
    assert scim.post("/Users", {"schemas": [USER], "userName": "barbara@example.com"}).status_code == 201
    replaced = scim.put(
        f"/Users/{written['id']}",
        {
            "schemas": [USER],
            "userName": "grace@example.com",
            "name": {"givenName": "Grace", "familyName": "Hopper"},
            "emails": [
                {"value": "grace@example.com", "type": "work", "primary": True},
                {"value": "gh@example.org", "type": "home", "display": "Home"},
            ],
        },
    ).get_json()

    listed = scim.get("/Users?count=10").get_json()["Resources"]
    assert listed[0] == replaced
    assert scim.get(f"/Users/{written['id']}").get_json() == replaced
    assert listed[1]["emails"] == [{"value": "edsger@example.com", "type": "work", "primary": True}]
    assert listed[1]["meta"]["location"].endswith(f"/scim/v2/Users/{listed[1]['id']}")
    assert listed[2]["userName"] == "barbara@example.com" and "emails" not in listed[2]


def test_a_page_builds_each_link_once_and_quotes_an_id_that_needs_it(scim, monkeypatch):
    """Links to plain ids are the URL built once for the page plus the id; any other id is quoted by url_for."""
    plain = _member(scim, "alan@example.com")["id"]
    odd = _member(scim, "kurt@example.com")["id"]
    db.session.execute(update(User).where(User.scim_id == odd).values(scim_id="Kurt Gödel"))
    db.session.commit()
    built: list[str] = []

    def url_for(endpoint: str, **values: object) -> str:
        built.append(endpoint)
        return flask.url_for(endpoint, **values)

    monkeypatch.setattr(user_resources, "url_for", url_for)
    listed = scim.get("/Users?count=10").get_json()["Resources"]
    paths = [r["meta"]["location"].split("/scim/v2/")[1] for r in listed]
    assert paths == [f"Users/{plain}", "Users/Kurt%20G%C3%B6del"]
    assert built == ["scim.show_user", "scim.show_user"]  # the page's URL, and the id it could not append


def test_a_page_reads_its_members_groups_in_its_own_statement(scim, super_admin):
    """Each member's groups are gathered in the statement that reads the page: no second statement, no id list."""
    ids = [_member(scim, f"m{i}@example.com")["id"] for i in range(5)]
    for name, members in (("a", ids[:2]), ("b", ids[1:3])):
        group = {"schemas": [GROUP], "displayName": name, "members": [{"value": i} for i in members]}
        assert scim.post("/Groups", group).status_code == 201
    with statements() as seen:
        listed = scim.get("/Users?count=10").get_json()["Resources"]
    assert [sorted(g["display"] for g in r.get("groups", [])) for r in listed] == [["a"], ["a", "b"], ["b"], [], []]
    (groups_read,) = [s for s in seen if "cohort_members" in s]
    assert "FROM users" in groups_read and "LEFT OUTER JOIN user_emails" in groups_read, groups_read
