"""A tenant keeps a super-admin even when two of them demote or ban each other at the same moment.

Each trial adds one super-admin, so the tenant has exactly two, and both act on each other at once from their
own threads (own clients, own database sessions). Whoever loses the race is refused; one super-admin is left.
Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from unittest.mock import patch

from sqlalchemy import func, select

from models import Role, User, db
from services import accounts, roles, transactions
from services.errors import DomainError
from tests.admin import sign_in
from tests.concurrency import run_together
from tests.test_cli import fails, ok, run

HX = {"HX-Request": "true"}
TRIALS = 8


def super_admins(tenant_id: int) -> list[int]:
    db.session.expire_all()
    return list(db.session.scalars(select(User.id).where(User.tenant_id == tenant_id, User.role == Role.SUPER_ADMIN)))


def new_super_admin(tenant, trial: int) -> User:
    return accounts.create_local_user(
        tenant, f"owner{trial}@example.com", Role.SUPER_ADMIN, password="pw-owner-1", verified=True
    )


def dashboard_action(app, actor: User, target: User, action: str):
    """A request of `actor`'s browser against `target`'s row: demote to admin, or ban."""
    client = app.test_client()
    sign_in(client, actor)
    path, data = (
        (f"/admin/users/{target.id}/role", {"role": "4"})
        if action == "demote"
        else (f"/admin/users/{target.id}/ban", {})
    )
    return lambda: client.post(path, data=data, headers=HX).status_code


@contextmanager
def signed_in_together(parties: int = 2) -> Iterator[None]:
    """Hold each request at the start of its write transaction until all are there: each has passed the sign-in
    check and read its rows before any writes, as two browsers clicking at the same moment would. Left to the
    scheduler, the first request can finish (on a fast disk, in a few milliseconds) before the second has even
    been signed in, and the second is then just a request of a banned account."""
    barrier = threading.Barrier(parties, timeout=30)
    begin = transactions._begin

    def begin_together(session) -> None:
        barrier.wait()
        begin(session)

    with patch.object(transactions, "_begin", begin_together):
        yield


def race_each_other(app, tenant, super_admin, action: str, trials: int = TRIALS) -> None:
    survivor = super_admin
    for trial in range(trials):
        other = new_super_admin(tenant, trial)
        jobs = [dashboard_action(app, survivor, other, action), dashboard_action(app, other, survivor, action)]
        with signed_in_together():
            statuses = run_together(jobs)
        assert statuses == [200, 200]  # the loser gets its row back with the reason, not a 500
        left = super_admins(tenant.id)
        assert len(left) == 1, f"trial {trial}: super-admins left {left}"
        survivor = db.session.get(User, left[0])


def test_two_super_admins_demoting_each_other_leave_one(app, tenant, super_admin):
    race_each_other(app, tenant, super_admin, "demote")


def test_two_super_admins_banning_each_other_leave_one(app, tenant, super_admin):
    race_each_other(app, tenant, super_admin, "ban")


def test_operators_demoting_both_super_admins_at_once_leave_one(app, tenant, super_admin):
    """The path `flask users role` takes: two operators demote the two super-admins at the same moment."""

    def demote(user_id: int):
        def job() -> str:
            with app.app_context():
                try:
                    roles.set_role(accounts.get_user(tenant, user_id), Role.ADMIN)
                except DomainError as error:
                    return error.message
                return "demoted"

        return job

    survivor_id = super_admin.id
    for trial in range(TRIALS):
        other_id = new_super_admin(tenant, trial).id
        outcomes = run_together([demote(survivor_id), demote(other_id)])
        assert outcomes.count("demoted") == 1, outcomes
        left = super_admins(tenant.id)
        assert len(left) == 1, f"trial {trial}: super-admins left {left}, outcomes {outcomes}"
        survivor_id = left[0]


def test_a_group_can_still_be_created_after_the_race(app, tenant, super_admin, scim):
    """The 503 the review saw: with no super-admin left, SCIM could not create groups any more."""
    race_each_other(app, tenant, super_admin, "demote", trials=3)
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "After the race"}
    assert scim.post("/Groups", body).status_code == 201
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(User).where(User.role == Role.SUPER_ADMIN)) == 1


def test_the_cli_never_demotes_or_bans_the_last_super_admin(app, tenant, super_admin):
    for role in ("4", "1"):
        args = ("users", "role", "--tenant", "default", "--email", "owner@example.com", "--role", role)
        fails(run(app, *args), "The last super-admin cannot be demoted")
    assert super_admins(tenant.id) == [super_admin.id]
    new_super_admin(tenant, 0)
    ok(run(app, "users", "role", "--tenant", "default", "--email", "owner@example.com", "--role", "4"))
    assert len(super_admins(tenant.id)) == 1
