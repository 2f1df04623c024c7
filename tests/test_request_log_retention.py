"""Request-log retention: `flask scim prune-log` keeps REQUEST_LOG_DAYS of history unless told otherwise."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from models import ScimRequest, db, utcnow
from services import audit
from tests.conftest import statements
from tests.test_cli import fails, ok, run


def _log_ages(tenant, ages):
    from models import ScimRequest

    now = utcnow()
    db.session.add_all(
        ScimRequest(
            tenant_id=tenant.id,
            at=now - timedelta(days=age),
            method="GET",
            path="/scim/v2/Users",
            status=200,
            duration_ms=1.0,
        )
        for age in ages
    )
    db.session.commit()


def _remaining() -> int:
    from sqlalchemy import func

    from models import ScimRequest

    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(ScimRequest))


def test_prune_log_keeps_request_log_days_by_default(app, tenant, monkeypatch):
    _log_ages(tenant, (1, 29, 31, 89, 91, 400))
    assert ok(run(app, "scim", "prune-log"))[-1].startswith("2\t")  # 90 days unless changed
    assert _remaining() == 4
    monkeypatch.setitem(app.config, "REQUEST_LOG_DAYS", 30)
    assert ok(run(app, "scim", "prune-log"))[-1] == "2\trequest-log rows older than 30 days deleted"
    assert _remaining() == 2
    assert ok(run(app, "scim", "prune-log", "--days", "2"))[-1].startswith("1\t")  # --days wins
    assert _remaining() == 1


def test_prune_log_deletes_only_rows_older_than_the_days_given(app, tenant):
    _log_ages(tenant, (1, 89, 91, 400))
    result = run(app, "scim", "prune-log", "--days", "90")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith("2\t")
    assert _remaining() == 2
    assert run(app, "scim", "prune-log", "--days", "0").exit_code == 2


@pytest.mark.parametrize("days", [0, -5, "ninety", True])
def test_prune_log_refuses_a_nonsense_setting(app, tenant, monkeypatch, days):
    _log_ages(tenant, (1, 400))
    monkeypatch.setitem(app.config, "REQUEST_LOG_DAYS", days)
    fails(run(app, "scim", "prune-log"), "REQUEST_LOG_DAYS must be a whole number of days")
    assert _remaining() == 2


def test_request_log_days_comes_from_the_environment(make_app, monkeypatch):
    monkeypatch.setenv("MOBIEUS_REQUEST_LOG_DAYS", "30")
    assert make_app().config["REQUEST_LOG_DAYS"] == 30
    monkeypatch.delenv("MOBIEUS_REQUEST_LOG_DAYS")
    assert make_app().config["REQUEST_LOG_DAYS"] == 90


def test_prune_log_deletes_in_server_side_batches(app, tenant):
    """Each batch is one DELETE with its own subquery and transaction; no id list is read back first."""
    now = utcnow()
    db.session.add_all(
        ScimRequest(
            tenant_id=tenant.id, at=now - timedelta(days=age), method="GET", path="/", status=200, duration_ms=1.0
        )
        for age in (100, 101, 102, 103, 104, 1)
    )
    db.session.commit()
    with statements() as seen:
        assert audit.prune(now - timedelta(days=90), batch=2, pause=0) == 5
    deletes = [s for s in seen if s.startswith("DELETE FROM scim_requests ")]
    assert len(deletes) == 3  # 2 + 2 + 1; the rollups of the pruned hours go in their own two statements
    assert all("LIMIT" in s for s in deletes)
    assert not [s for s in seen if s.startswith("SELECT")]
    db.session.expire_all()
    assert [r.at > now - timedelta(days=2) for r in db.session.scalars(select(ScimRequest))] == [True]
