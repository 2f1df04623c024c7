"""The SCIM hot path: statements per request kind, the plans behind them, the log's commit, the limiter's store.

The counts are pinned so that a change adding a query to every request fails here rather than only in
bench/compare.py. Each request kind runs once before it is counted, so first-use work (a pool connection,
a statement compiled for the first time) is not part of the figure.
"""

from __future__ import annotations

import threading

import pytest
from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import event

from models import db
from tests.conftest import statements
from tests.helpers import GROUP, PATCH_OP, USER

# Statements per request, by dialect. SQLite adds `PRAGMA synchronous=NORMAL` before the log row and
# `BEGIN IMMEDIATE` before a write; PostgreSQL adds `SELECT txid_current()` before a write's COMMIT. Every
# log row adds its rollup upsert (services/rollups.py); an operation a credential already made adds nothing.
EXPECTED = {
    "sqlite": {"get": 6, "filter": 6, "list": 7, "post": 9, "patch": 9},
    "postgresql": {"get": 5, "filter": 5, "list": 6, "post": 8, "patch": 8},
}


def _user(name: str) -> dict:
    return {"schemas": [USER], "userName": name, "emails": [{"value": name, "type": "work", "primary": True}]}


@pytest.fixture
def seeded(scim, super_admin) -> list[str]:
    ids = [scim.post("/Users", _user(f"m{i}@example.com")).get_json()["id"] for i in range(3)]
    group = {"schemas": [GROUP], "displayName": "g", "members": [{"value": ids[0]}]}
    assert scim.post("/Groups", group).status_code == 201
    return ids


def _kinds(scim, ids: list[str]) -> dict:
    counter = iter(range(10_000))
    return {
        "get": lambda: scim.get(f"/Users/{ids[0]}"),
        "filter": lambda: scim.get('/Users?filter=userName eq "m1@example.com"'),
        "list": lambda: scim.get("/Users?count=2"),  # a full page: the total needs its count
        "post": lambda: scim.post("/Users", _user(f"new{next(counter)}@example.com")),
        "patch": lambda: scim.patch(
            f"/Users/{ids[0]}",
            {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": next(counter) % 2 == 0}}]},
        ),
    }


@pytest.mark.parametrize("kind", ["get", "filter", "list", "post", "patch"])
def test_statements_per_scim_request_are_pinned(app, scim, seeded, kind):
    send = _kinds(scim, seeded)[kind]
    for _ in range(3):  # a PATCH goes through update, deactivate and reactivate, each first seen once
        assert send().status_code < 300
    with statements() as seen:
        response = send()
    assert response.status_code < 300
    assert len(seen) == EXPECTED[db.engine.dialect.name][kind], seen


def test_a_read_answers_the_groups_and_emails_it_loaded_in_its_statements(scim, seeded):
    with statements() as seen:
        body = scim.get(f"/Users/{seeded[0]}").get_json()
    assert [g["display"] for g in body["groups"]] == ["g"]
    assert body["emails"][0]["value"] == "m0@example.com"
    assert not any("FROM user_emails" in s and "JOIN" not in s for s in seen)  # no lazy load of the emails


def _sqlite_plans(send, *tables: str) -> list[list[str]]:
    """Send a request (200 expected); return SQLite's plan, step by step, of each statement it ran on `tables`."""
    captured: list[tuple[str, tuple]] = []

    def record(_conn, _cursor, statement, parameters, *_args):
        if any(f"FROM {table}" in statement for table in tables):
            captured.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert send().status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    with db.engine.connect() as connection:
        return [
            [row[3] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
            for statement, parameters in captured
        ]


def test_groups_of_a_user_are_found_through_the_members_user_index(app, scim, seeded):
    """One user's groups must not be found by walking every cohort of the tenant (SQLite's plan)."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL plans by statistics; the SQLite planner needs the hint")
    plan = " ".join(_sqlite_plans(lambda: scim.get(f"/Users/{seeded[0]}"), "cohort_members")[0])
    assert "ix_cohort_members_user" in plan, plan
    assert "ix_cohorts_tenant_id" not in plan, plan


def test_the_log_commit_skips_the_fsync_and_every_other_commit_keeps_it(app, scim, seeded):
    """R11 rows commit without waiting for the disk; the connection goes back to the pool fully synced."""
    with statements() as seen:
        scim.get(f"/Users/{seeded[0]}")
    insert = next(s for s in seen if s.startswith("INSERT INTO scim_requests"))
    if db.engine.dialect.name == "sqlite":
        assert seen[seen.index(insert) - 1] == "PRAGMA synchronous=NORMAL"
        with db.engine.connect() as connection:  # the pool's connection the log used, checked in again
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    else:
        assert "set_config(" in insert  # SET LOCAL synchronous_commit = off, in the same round trip
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"


def test_memory_rate_limit_store_does_not_start_a_thread_per_hit(monkeypatch):
    started: list[threading.Timer] = []
    original = threading.Timer.start

    def counting(self) -> None:
        started.append(self)
        original(self)

    monkeypatch.setattr(threading.Timer, "start", counting)
    limiter = FixedWindowRateLimiter(storage_from_string("memory://"))
    item = RateLimitItemPerMinute(10_000)
    for _ in range(200):
        threading.Event().wait(0.002)  # longer than one sweep takes: the stock store starts a timer each time
        assert limiter.hit(item, "scim", "key")
    assert len(started) <= 2
    assert limiter.get_window_stats(item, "scim", "key").remaining == 10_000 - 200


@pytest.mark.parametrize(
    ("query", "total", "shown", "counted"),
    [
        ('filter=userName eq "m1@example.com"', 1, 1, False),  # a short first page is the whole answer
        ("count=2", 3, 2, True),  # a full page cannot tell what follows
        ("startIndex=3&count=2", 3, 1, False),  # a short later page ends the list
        ("startIndex=9&count=2", 3, 0, True),  # past the end: only a count knows the total
        ("count=0", 3, 0, True),
    ],
)
def test_the_total_is_counted_only_when_the_page_cannot_tell_it(scim, seeded, query, total, shown, counted):
    with statements() as seen:
        body = scim.get(f"/Users?{query}").get_json()
    assert (body["totalResults"], len(body.get("Resources", []))) == (total, shown)
    assert any("count(*)" in s for s in seen) is counted


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("count=2", "COVERING INDEX ix_users_scim_visible"),  # the page's ids and the count: the index alone
        ("startIndex=1500&count=2", "COVERING INDEX ix_users_scim_visible"),  # counted first, then walked
        ('filter=userName eq "m1@example.com"', "INDEX uq_users_tenant_user_name"),  # not a walk of the tenant
        ('filter=emails[type eq "work"].value eq "m1@example.com"', "INDEX ix_user_emails_value_ci"),
        # No index: the tenant's accounts are checked in turn, through either index that leads with tenant_id (SQLite,
        # without statistics, breaks that tie differently as the file's pages change).
        ('filter=name.familyName eq "x"', "(tenant_id=?)"),
    ],
)
def test_a_list_reads_members_through_the_index_that_fits(app, scim, seeded, query, index):
    """SQLite keeps no statistics: the list's WHERE must lead it to the partial index, a filter to its own."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL plans by statistics")
    plans = _sqlite_plans(lambda: scim.get(f"/Users?{query}"), "users")
    assert plans
    for plan in plans:
        assert any(index in step for step in plan), plan
        walks = [s for s in plan if s.startswith("SEARCH users") and s.endswith("(tenant_id=?)") and index not in s]
        assert not walks, plan  # no walk over every account of the tenant


def test_a_group_eq_filter_finds_the_group_and_its_members_without_walking_the_tenant(app, scim, seeded):
    """SQLite keeps no statistics: the group by its name's partial index, its members by id from the memberships."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL plans by statistics")
    url = '/Groups?filter=displayName eq "g"'
    plans = _sqlite_plans(lambda: scim.get(url), "cohorts", "cohort_members")
    assert [len(group["members"]) for group in scim.get(url).get_json()["Resources"]] == [1]
    cohort_steps = [step for plan in plans for step in plan if step.startswith("SEARCH cohorts ")]
    assert cohort_steps and all("uq_cohorts_tenant_scim_name" in step for step in cohort_steps), plans
    walks = [step for plan in plans for step in plan if "(tenant_id=?)" in step]
    assert not walks, plans  # neither the tenant's cohorts nor its users are walked
