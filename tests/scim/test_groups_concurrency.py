"""Concurrent membership PATCHes to one group lose no member (R7), on SQLite and, with TEST_DATABASE_URL, PostgreSQL.

Each thread has its own test client, so its own app context and database session, as gunicorn workers would.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select, text

from models import Cohort, User, db
from tests.conftest import ScimClient
from tests.helpers import GROUP
from tests.scim.test_groups import create_group, patch, scim_users, stored_cohort, stored_members

THREADS = 8
ROUNDS = 4
PER_ROUND = 6


def run_in_threads(app, token: str, jobs: list) -> list[int]:
    """Run each job(scim) in its own thread, all released at once; return every status code seen."""
    barrier = threading.Barrier(len(jobs))
    statuses: list[int] = []
    errors: list[BaseException] = []

    def worker(job) -> None:
        scim = ScimClient(app.test_client(), token)
        barrier.wait()
        try:
            statuses.extend(job(scim))
        except BaseException as error:  # noqa: BLE001 - re-raised in the main thread below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads), "a PATCH never finished"
    return statuses


def adder(group_id: str, ids: list[str], shared: list[str]):
    """Okta's sequence, over and over: add some members (and re-add shared ones), then the path-less rename."""

    def job(scim) -> list[int]:
        seen = []
        for start in range(0, len(ids), PER_ROUND):
            values = [{"value": v} for v in ids[start : start + PER_ROUND] + shared]
            seen.append(scim.patch(f"/Groups/{group_id}", patch({"op": "add", "path": "members", "value": values})))
            rename = {"op": "replace", "value": {"id": group_id, "displayName": "Concurrent"}}
            seen.append(scim.patch(f"/Groups/{group_id}?excludedAttributes=members", patch(rename)))
        return [r.status_code for r in seen]

    return job


def remover(group_id: str, ids: list[str]):
    """Entra's removal with `path: members` and the values to drop."""

    def job(scim) -> list[int]:
        operation = {"op": "Remove", "path": "members", "value": [{"value": v} for v in ids]}
        return [scim.patch(f"/Groups/{group_id}?excludedAttributes=members", patch(operation)).status_code]

    return job


def test_concurrent_adds_lose_no_member(app, tenant, super_admin, scim, scim_token):
    group = create_group(scim, "Concurrent")
    ids = scim_users(tenant.id, THREADS * ROUNDS * PER_ROUND + 4)
    shared = ids[-4:]  # every thread adds these too: inserts of the same pair collide
    per_thread = ROUNDS * PER_ROUND
    jobs = [adder(group["id"], ids[i * per_thread : (i + 1) * per_thread], shared) for i in range(THREADS)]
    statuses = run_in_threads(app, scim_token, jobs)
    assert statuses == [200] * (THREADS * ROUNDS * 2)
    assert stored_members(group["id"]) == set(ids)


def test_concurrent_adds_and_removes_keep_each_others_work(app, tenant, super_admin, scim, scim_token):
    ids = scim_users(tenant.id, 120)
    leaving, staying, joining = ids[:40], ids[40:60], ids[60:]
    group = create_group(scim, "Concurrent", members=[{"value": v} for v in leaving + staying])
    jobs = [remover(group["id"], leaving[i : i + 5]) for i in range(0, 40, 5)]
    jobs += [adder(group["id"], joining[i : i + 15], []) for i in range(0, 60, 15)]
    statuses = run_in_threads(app, scim_token, jobs)
    assert set(statuses) == {200}
    assert stored_members(group["id"]) == set(staying + joining)


def test_postgresql_insert_of_a_pair_another_transaction_holds_waits_then_succeeds(
    app, tenant, super_admin, scim, scim_token
):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): SQLite never runs two writers at once")
    group = create_group(scim, "Held")
    (user_id,) = scim_users(tenant.id, 1)
    cohort = stored_cohort(group["id"])
    user = db.session.query(User).filter_by(scim_id=user_id).one()
    cohort_id, uid = cohort.id, user.id
    db.session.commit()
    with db.engine.connect() as other:
        # Another request's uncommitted insert of the same pair: ours must wait for it, then do nothing.
        held = text("INSERT INTO cohort_members (cohort_id, user_id, created_at) VALUES (:c, :u, now())")
        other.execute(held, {"c": cohort_id, "u": uid})
        statuses: list[int] = []
        add = {"op": "add", "path": "members", "value": [{"value": user_id}]}
        thread = threading.Thread(
            target=lambda: statuses.append(
                ScimClient(app.test_client(), scim_token).patch(f"/Groups/{group['id']}", patch(add)).status_code
            )
        )
        thread.start()
        time.sleep(0.5)
        assert thread.is_alive(), "the insert should wait for the other transaction"
        other.commit()
        thread.join(timeout=30)
    assert statuses == [200]
    assert stored_members(group["id"]) == {user_id}
    assert db.session.get(Cohort, cohort_id) is not None


def test_concurrent_creates_with_one_name_make_one_group(app, tenant, super_admin, scim, scim_token):
    def create(scim) -> list[int]:
        return [scim.post("/Groups", {"schemas": [GROUP], "displayName": "Race"}).status_code]

    statuses = run_in_threads(app, scim_token, [create] * THREADS)
    assert sorted(statuses) == [201] + [409] * (THREADS - 1)
    assert db.session.scalar(select(func.count()).select_from(Cohort)) == 1
