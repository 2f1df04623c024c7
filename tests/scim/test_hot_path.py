"""The SCIM hot path: statements per request kind, the plans behind them, the log's commit, the limiter's store.

The counts are pinned so that a change adding a query to every request fails here rather than only in
bench/compare.py. Each request kind runs once before it is counted, so first-use work (a pool connection,
a statement compiled for the first time) is not part of the figure.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest
from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import event, text
from sqlalchemy.sql.cache_key import HasCacheKey

from models import accounts, db
from scim import paging
from services import audit, database, visibility
from services.transactions import write_transaction
from tests.conftest import statements
from tests.helpers import GROUP, PATCH_OP, USER

# Statements per request, by dialect. SQLite adds `BEGIN IMMEDIATE` before a write; PostgreSQL adds
# `SELECT txid_current()` before a write's COMMIT, except where the write's locked read of the member reads it
# (a PATCH) or its INSERT returns it (a POST). The log row's rollups cost no statement (triggers on scim_requests
# add them: models/request_log.py), and an operation a credential already made adds nothing.
EXPECTED = {
    "sqlite": {"get": 3, "filter": 3, "list": 4, "post": 6, "patch": 5},
    "postgresql": {"get": 3, "filter": 3, "list": 4, "post": 5, "patch": 4},
}
# How R5's question (services.provisioning.check_unique) begins.
UNIQUENESS_QUESTION = "SELECT users.user_name_ci, users.external_id"


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


@pytest.mark.parametrize(("kind", "per_request"), [("get", []), ("filter", []), ("list", []), ("patch", ["Update"])])
def test_these_requests_run_only_statements_built_once(app, scim, seeded, kind, per_request, monkeypatch):
    """SQLAlchemy walks a statement to compute its cache key each time a statement object is built (a built-once
    statement keeps its key): on a write's locked read that walk cost more than a statement. The ORM builds the
    UPDATE of a PATCH (and the INSERTs of a POST) per flush, for the columns that changed."""
    send = _kinds(scim, seeded)[kind]
    for _ in range(3):
        assert send().status_code < 300
    built: list[str] = []
    original = HasCacheKey._generate_cache_key

    def spy(self):
        built.append(type(self).__name__)
        return original(self)

    monkeypatch.setattr(HasCacheKey, "_generate_cache_key", spy)
    assert send().status_code < 300
    assert built == per_request


@pytest.mark.parametrize("kind", ["get", "filter", "list", "post", "patch"])
def test_no_request_renders_its_sql_anew(app, scim, seeded, kind):
    """A list of bound values (an "expanding" IN, such as the member rung once was) is rendered into the SQL on
    every execution: a tenth of a statement's cost in SQLAlchemy. The hot path's SQL is rendered once. (The reads
    run on the driver are not seen here: services/driver_writes.render refuses such a statement outright.)"""
    send = _kinds(scim, seeded)[kind]
    for _ in range(3):
        assert send().status_code < 300
    rendered_anew: list[str] = []

    def before(_conn, _cursor, statement, _parameters, context, _executemany) -> None:
        if context.compiled is not None and context.compiled.post_compile_params:
            rendered_anew.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        assert send().status_code < 300
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
    assert rendered_anew == []


def test_a_read_answers_the_groups_and_emails_it_loaded_in_its_statements(scim, seeded):
    with statements() as seen:
        body = scim.get(f"/Users/{seeded[0]}").get_json()
    assert [g["display"] for g in body["groups"]] == ["g"]
    assert body["emails"][0]["value"] == "m0@example.com"
    assert not any("FROM user_emails" in s and "JOIN" not in s for s in seen)  # no lazy load of the emails


@contextmanager
def _driver_executes(engines, record):
    """Call `record(cursor, statement, parameters)` before each statement the engines' dialects hand their drivers.

    Watched there, not through cursor events: the hot path's reads run below SQLAlchemy's Connection
    (services/driver_reads.py), where no cursor event sees them.
    """
    dialects = list({id(engine.dialect): engine.dialect for engine in engines}.values())
    for dialect in dialects:

        def watched(cursor, statement, parameters, context=None, _execute=dialect.do_execute):
            record(cursor, statement, parameters)
            return _execute(cursor, statement, parameters, context)

        dialect.do_execute = watched
    try:
        yield
    finally:
        for dialect in dialects:
            del dialect.do_execute  # the class's own again


def _sqlite_plans(send, *tables: str) -> list[list[str]]:
    """Send a request (200 expected); return SQLite's plan, step by step, of each statement it ran on `tables`."""
    captured: list[tuple[str, tuple]] = []

    def record(_cursor, statement, parameters):
        if any(f"FROM {table}" in statement for table in tables):
            captured.append((statement, parameters))

    with _driver_executes([db.engine], record):
        assert send().status_code == 200
    with db.engine.connect() as connection:
        return [
            [row[3] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
            for statement, parameters in captured
        ]


def test_groups_of_a_user_are_found_through_the_members_user_index(app, scim, seeded):
    """One user's groups must not be found by walking every cohort of the tenant (SQLite's plan)."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL plans by statistics; the SQLite planner needs the hint")
    (plan_steps,) = _sqlite_plans(lambda: scim.get(f"/Users/{seeded[0]}"), "cohorts")  # gathered in the user's read
    plan = " ".join(plan_steps)
    assert "ix_cohort_members_user" in plan, plan
    assert "ix_cohorts_tenant_id" not in plan, plan


def test_the_log_commit_skips_the_fsync_and_every_other_commit_keeps_it(app, scim, seeded):
    """R11 rows commit without waiting for the disk; the connection goes back to the pool fully synced."""
    scim.get(f"/Users/{seeded[0]}")  # the credential's first read notes its operation as first seen
    with statements() as seen:
        scim.get(f"/Users/{seeded[0]}")
    insert = next(s for s in seen if s.startswith("INSERT INTO scim_requests"))
    if db.engine.dialect.name == "sqlite":
        assert not [s for s in seen if s.startswith("PRAGMA")]  # no per-row switch of the sync level
        with audit._engine().connect() as connection:  # the log's own pool: every connection relaxed
            assert audit._engine() is not db.engine
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        with db.engine.connect() as connection:  # every other write's
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    else:
        assert "RETURNING" not in insert  # a row of its own: one statement, nothing to read back
        with audit._engine().connect() as connection:  # the log's own pool: autocommit, not waiting for the disk
            assert audit._engine() is not db.engine
            assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "off"
            assert connection.connection.dbapi_connection.autocommit is True
        with db.engine.connect() as connection:  # every other write's
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
    """A filtered total is counted; the unfiltered one is read from the count the database keeps, never counted."""
    with statements() as seen:
        body = scim.get(f"/Users?{query}").get_json()
    assert (body["totalResults"], len(body.get("Resources", []))) == (total, shown)
    counts = any("count(*)" in s for s in seen)
    kept = any("FROM scim_member_counts" in s for s in seen)
    assert (counts or kept) is counted
    assert not (counts if "filter" not in query else kept)


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("count=2", "COVERING INDEX ix_users_scim_visible"),  # the page's ids: the index alone
        ("startIndex=3&count=1", "COVERING INDEX ix_users_scim_visible"),  # past FORWARD_WALK: walked from the end
        ('filter=userName eq "m1@example.com"', "INDEX uq_users_tenant_user_name"),  # not a walk of the tenant
        ('filter=emails[type eq "work"].value eq "m1@example.com"', "INDEX ix_user_emails_value_ci"),
        # No index: the tenant's accounts are checked in turn, through either index that leads with tenant_id (SQLite,
        # without statistics, breaks that tie differently as the file's pages change).
        ('filter=name.familyName eq "x"', "(tenant_id=?)"),
    ],
)
def test_a_list_reads_members_through_the_index_that_fits(app, scim, seeded, query, index, monkeypatch):
    """SQLite keeps no statistics: the list's WHERE must lead it to the partial index, a filter to its own."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL plans by statistics")
    monkeypatch.setattr(paging, "FORWARD_WALK", 1)
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


def test_postgresql_finds_a_pages_groups_through_the_members_user_index(app, scim, seeded):
    """The groups of a page's users come from each user's membership rows, never from a walk of the tenant's groups."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps no statistics: test_groups_of_a_user_are_found_through_the_members_user_index")
    tenant_id = db.session.execute(text("SELECT tenant_id FROM users LIMIT 1")).scalar_one()
    # A tenant of 5,000 more groups, none of them these users' ...
    db.session.execute(
        text(
            "INSERT INTO cohorts (tenant_id, scim_id, name, name_ci, name_clash, scim_managed, created_at, updated_at)"
            " SELECT :t, md5(g::text), 'c' || g, 'c' || g, 0, true, now(), now() FROM generate_series(1, 5000) g"
        ),
        {"t": tenant_id},
    )
    # ... of 20,000 other members, four to a group.
    db.session.execute(
        text(
            "INSERT INTO users (tenant_id, scim_id, user_name, user_name_ci, user_name_clash, role, scim_managed,"
            " profile, created_at, updated_at, version, session_epoch)"
            " SELECT :t, md5('u' || g), 'u' || g, 'u' || g, 0, 2, true, '{}', now(), now(), 1, 0"
            " FROM generate_series(1, 20000) g"
        ),
        {"t": tenant_id},
    )
    db.session.execute(
        text(
            "INSERT INTO cohort_members (cohort_id, user_id, created_at)"
            " SELECT c.id, u.id, now() FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM cohorts) c"
            " JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n FROM users WHERE user_name LIKE 'u%') u"
            " ON (u.n - 1) / 4 + 1 = c.n"
        )
    )
    db.session.commit()
    db.session.execute(text("ANALYZE cohorts"))
    db.session.execute(text("ANALYZE cohort_members"))
    db.session.execute(text("ANALYZE users"))
    db.session.commit()
    plans: list[str] = []

    def explain(cursor, statement, parameters):
        if "json_agg" in statement and not statement.startswith("EXPLAIN"):
            cursor.execute("EXPLAIN " + statement, parameters)
            plans.append(" ".join(row[0] for row in cursor.fetchall()))

    # A GET reads on the autocommit pool it shares with the request log.
    with _driver_executes([db.engine, audit._engine()], explain):
        body = scim.get("/Users?count=100&startIndex=10000").get_json()
    assert len(body["Resources"]) == 100 and all(len(r["groups"]) == 1 for r in body["Resources"])
    # A tenant of 5,000 groups: an earlier form of this read, planned without the cohorts' tenant statistics,
    # walked every group of the tenant for a page of 100 users (17 ms at 10,000 groups: bench/bench_paging.py).
    assert plans and all("ix_cohort_members_user" in plan for plan in plans), plans
    assert not any("Seq Scan on cohorts" in plan or "ix_cohorts_tenant" in plan for plan in plans), plans


def test_the_lists_visibility_clause_is_built_once_per_tenant_and_shape(app, tenant):
    """Building it cost a filtered list 10% of its CPU (bench/profile_scim.py --phase filter)."""
    first = visibility.scim_visible_for_list(tenant.id, filtered=True)
    assert visibility.scim_visible_for_list(tenant.id, filtered=True) is first
    assert visibility.scim_visible_for_list(tenant.id, filtered=False) is not first


def test_a_write_that_keeps_its_user_name_and_external_id_asks_no_uniqueness_question(scim):
    """R5 is checked for a value the write changes; one it keeps is already unique under the partial indexes."""
    body = {**_user("keep@example.com"), "externalId": "ext-keep"}
    scim_id = scim.post("/Users", body).get_json()["id"]
    with statements() as seen:
        assert scim.put(f"/Users/{scim_id}", {**body, "displayName": "Kept"}).status_code == 200
    assert not [s for s in seen if s.startswith(UNIQUENESS_QUESTION)], seen
    with statements() as seen:
        taken = scim.put(f"/Users/{scim_id}", {**body, "externalId": "ext-other"})
    assert taken.status_code == 200
    assert [s for s in seen if s.startswith(UNIQUENESS_QUESTION) and "users.external_id =" in s]


def test_a_create_asks_one_question_for_both_names_each_through_its_own_index(app, scim, seeded):
    """R5 for an IdP's create (userName and externalId): one statement, never a walk over the tenant's accounts."""
    body = {**_user("both@example.com"), "externalId": "ext-both"}
    asked: list[tuple[str, tuple]] = []

    def record(_cursor, statement, parameters):
        if statement.startswith(UNIQUENESS_QUESTION):
            asked.append((statement, parameters))

    with _driver_executes([db.engine], record):
        assert scim.post("/Users", body).status_code == 201
    assert len(asked) == 1
    assert scim.post("/Users", {**_user("other@example.com"), "externalId": "ext-both"}).status_code == 409
    if db.engine.dialect.name != "sqlite":
        return  # PostgreSQL plans by statistics
    with db.engine.connect() as connection:
        plan = [row[3] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + asked[0][0], asked[0][1])]
    assert any("uq_users_tenant_user_name" in step for step in plan), plan
    assert any("uq_users_tenant_external_id" in step for step in plan), plan
    assert not any(step.endswith("(tenant_id=?)") for step in plan), plan


def test_a_transaction_id_a_statement_read_serves_its_own_transaction_only(app):
    """A PATCH's locked read brings its transaction's id (PostgreSQL), which settles a COMMIT whose answer is lost;
    a session outlives its transactions, so an id noted in one must never stand for the next."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("PostgreSQL only: transaction ids settle a lost COMMIT there")
        session = db.session()
        with write_transaction():
            first = session.execute(text("SELECT txid_current()")).scalar_one()
            database.note_transaction_id(session, first)
            with statements() as seen:
                assert database.transaction_id(session) == first
            assert seen == []  # read from the note, without a round trip
            database.note_transaction_id(session, first)  # noted again, and left unused
        with write_transaction():
            second = database.transaction_id(session)
            assert second is not None and second != first
            assert second == session.execute(text("SELECT txid_current()")).scalar_one()


def test_a_patch_that_changes_nothing_writes_nothing(scim, seeded, monkeypatch):
    """Entra re-asserts unchanged values every cycle: such a PATCH answers 200, leaves the row as it was and
    assigns nothing, so neither the model's folds nor the ORM's flush run for it (services.provisioning._assign)."""
    folds: list[object] = []
    monkeypatch.setattr(accounts, "fold_profile", lambda profile: folds.append(profile) or {})
    before = scim.get(f"/Users/{seeded[1]}").get_json()
    unchanged = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": True}}]}
    with statements() as seen:
        response = scim.patch(f"/Users/{seeded[1]}", unchanged)
    assert response.status_code == 200
    assert response.get_json() == before
    assert not [s for s in seen if s.startswith("UPDATE users")], seen
    assert folds == []
