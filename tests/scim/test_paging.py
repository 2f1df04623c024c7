"""Paging /Users (RFC 7644 §3.4.2.4): every page is the slice of the whole list, whichever end it is walked from."""

from __future__ import annotations

import pytest

from scim import paging
from tests.conftest import statements

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.fixture
def listed(scim, super_admin) -> list[str]:
    """Seven members SCIM lists (ids in list order), with a deprovisioned one between them, which it does not."""
    ids = []
    for i in range(8):
        name = f"p{i}@example.com"
        body = {"schemas": [USER], "userName": name, "emails": [{"value": name, "type": "work"}]}
        ids.append(scim.post("/Users", body).get_json()["id"])
    assert scim.delete(f"/Users/{ids.pop(3)}").status_code == 204
    return ids


def _page(scim, query: str) -> tuple[int, list[str]]:
    body = scim.get(f"/Users?{query}").get_json()
    return body["totalResults"], [r["id"] for r in body.get("Resources", [])]


@pytest.mark.parametrize("walk", [1_000, 1])  # the default; and past offset 1, counted first and walked from the end
def test_every_page_is_the_slice_of_the_whole_list(scim, listed, monkeypatch, walk):
    monkeypatch.setattr(paging, "FORWARD_WALK", walk)
    for count in (1, 2, 3, 7, 10):
        for start in range(1, 10):
            assert _page(scim, f"startIndex={start}&count={count}") == (7, listed[start - 1 : start - 1 + count])
    assert _page(scim, "count=0") == (7, [])


def test_a_filtered_page_from_the_end_is_the_slice_of_the_matches(scim, listed, monkeypatch):
    monkeypatch.setattr(paging, "FORWARD_WALK", 0)
    matches = 'filter=emails[type eq "work"]'
    for start in range(1, 9):
        assert _page(scim, f"{matches}&startIndex={start}&count=2") == (7, listed[start - 1 : start + 1])


def test_a_page_past_the_first_stretch_reads_the_kept_total_and_only_its_rows(scim, listed, monkeypatch):
    monkeypatch.setattr(paging, "FORWARD_WALK", 1)
    with statements() as seen:
        assert _page(scim, "startIndex=6&count=2") == (7, listed[5:7])
    users = [s for s in seen if "FROM users" in s]
    assert not any("count(*)" in s for s in users)  # the total is the one the database keeps
    assert sum("FROM scim_member_counts" in s for s in seen) == 1
    assert len(users) == 1  # the page's rows by id (emails and groups come by user id)
    with statements() as seen:
        assert _page(scim, "startIndex=9&count=2") == (7, [])  # past the end: the kept total alone
    assert not [s for s in seen if "FROM users" in s]
