"""The request log's rollups, kept by triggers on `scim_requests` (models/request_log.py), equal the log.

Each test writes log rows as the app does (services/audit.py) or as a backfill would, then compares the
rollup table with what services/rollups.py computed in Python before the triggers took over: per credential,
the minute and hour that hold `at`, the status class, the sum of `count`.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import DateTime, delete, insert, select, text, update

from models import ScimCredential, ScimRequest, ScimRequestRollup, db, utcnow
from services import audit, credentials, rollups, tenants

AT = datetime(2025, 3, 14, 19, 41, 23, 78282)  # an hour no request of the test is stamped with

Key = tuple[int, int, datetime, int, int | None]  # credential, span, start, status class, tenant


@pytest.fixture
def credential(tenant) -> ScimCredential:
    return credentials.issue(tenant, "Okta production")[0]


def _status_class(status: int) -> int:
    return 2 if status < 300 else 4 if status < 500 else 5


def _from_the_log() -> Counter[Key]:
    """The rollups as services/rollups.add computed them from each log row before the triggers did."""
    expected: Counter[Key] = Counter()
    for row in db.session.scalars(select(ScimRequest).where(ScimRequest.credential_id.is_not(None))):
        klass = _status_class(row.status)
        minute = row.at.replace(second=0, microsecond=0)
        hour = row.at.replace(minute=0, second=0, microsecond=0)
        expected[(row.credential_id, rollups.MINUTE, minute, klass, row.tenant_id)] += row.count
        expected[(row.credential_id, rollups.HOUR, hour, klass, row.tenant_id)] += row.count
    return expected


def _rollups() -> Counter[Key]:
    rows = db.session.scalars(select(ScimRequestRollup))
    return Counter({(r.credential_id, r.span_minutes, r.start, r.status_class, r.tenant_id): r.count for r in rows})


def _log(credential: ScimCredential | None, status: int = 200, at: datetime = AT, **values: Any) -> None:
    """Insert log rows as audit._insert does (a Core insert on its own connection), one per dict of `values`."""
    row = {
        "tenant_id": credential.tenant_id if credential else values.pop("tenant_id", None),
        "credential_id": credential.id if credential else None,
        "at": at,
        "method": "GET",
        "path": "/scim/v2/Users",
        "status": status,
        "duration_ms": 1.0,
        **values,
    }
    with db.engine.begin() as connection:
        connection.execute(insert(ScimRequest), row)


def _record(credential: ScimCredential, status: int, counted: bool = False) -> None:
    audit.record(
        audit.RequestRecord(
            tenant_id=credential.tenant_id, credential_id=credential.id, method="GET", path="/scim/v2/Users",
            status=status, duration_ms=1.0, ip="192.0.2.9", user_agent="IdP", operation=None,
            failure="too_many_failures" if counted else None, counted=counted,
        )
    )  # fmt: skip


def test_ordinary_rows_add_to_their_minute_and_hour_by_status_class(credential):
    for status in (200, 201, 299, 300, 404, 499, 500, 503):
        _log(credential, status)
    _log(credential, 200, at=AT.replace(minute=59, second=59, microsecond=999999))  # the hour's last instant
    _log(credential, 200, at=AT.replace(hour=20, minute=0, second=0, microsecond=0))  # the next hour's first
    _log(credential, 204, at=AT - timedelta(days=3))
    for status in (200, 404, 503):
        _record(credential, status)  # through the app's own write, stamped now
    db.session.expire_all()
    assert _rollups() == _from_the_log()
    minute = AT.replace(second=0, microsecond=0)
    assert _rollups()[(credential.id, rollups.MINUTE, minute, 2, credential.tenant_id)] == 3
    assert _rollups()[(credential.id, rollups.HOUR, minute.replace(minute=0), 4, credential.tenant_id)] == 3


def test_a_counted_refusal_adds_each_request_it_counts_once(credential):
    """The upsert's later requests fire the UPDATE trigger, not the INSERT one, on either database."""
    for requests in range(1, 6):
        _record(credential, 429, counted=True)
        db.session.expire_all()
        # Straddling a minute makes a second counted row; either way the rollups follow the log request by request.
        assert sum(db.session.scalars(select(ScimRequest.count))) == requests
        assert _rollups() == _from_the_log()
        assert sum(n for key, n in _rollups().items() if key[1] == rollups.HOUR) == requests


def test_rows_standing_for_several_requests_add_them_all(credential):
    _log(credential, 429, count=57, bucket="k", failure="too_many_failures")
    _log(credential, 200, count=3)
    with db.engine.begin() as connection:  # the counted row raised by hand, as the upsert does by one
        connection.execute(update(ScimRequest).where(ScimRequest.bucket == "k").values(count=ScimRequest.count + 4))
        connection.execute(update(ScimRequest).where(ScimRequest.bucket == "k").values(failure="unchanged count"))
    db.session.expire_all()
    assert _rollups() == _from_the_log()
    since = AT.replace(minute=0, second=0, microsecond=0)
    assert rollups.counts_for([credential.id], since)[credential.id] == {"2xx": 3, "4xx": 61, "5xx": 0}


def test_rows_without_a_credential_have_no_rollups(tenant, credential):
    _log(None, 401, tenant_id=tenant.id, failure="invalid_token")
    _log(None, 401, tenant_id=tenant.id, failure="invalid_token", count=9, bucket="b")
    _log(None, 404)
    _log(credential, 401, failure="invalid_token")  # beside them, the one row that has rollups
    with db.engine.begin() as connection:
        connection.execute(update(ScimRequest).where(ScimRequest.bucket == "b").values(count=ScimRequest.count + 1))
    db.session.expire_all()
    assert _rollups() == _from_the_log()
    assert {key[0] for key in _rollups()} == {credential.id} and sum(_rollups().values()) == 2  # minute and hour


def test_a_trigger_made_bucket_start_is_the_value_sqlalchemy_writes(credential):
    """Readers compare `start` with datetime parameters; on SQLite that is a comparison of text."""
    _log(credential, 200)
    minute, hour = AT.replace(second=0, microsecond=0), AT.replace(minute=0, second=0, microsecond=0)
    with db.engine.connect() as connection:
        stored = dict(connection.execute(text("SELECT span_minutes, start FROM scim_request_rollups")).all())
        written = DateTime().dialect_impl(connection.dialect).bind_processor(connection.dialect)  # None: a datetime
    if written:  # SQLite: text, as SQLAlchemy writes a datetime parameter
        assert stored == {rollups.MINUTE: written(minute), rollups.HOUR: written(hour)}
        assert stored[rollups.MINUTE] == "2025-03-14 19:41:00.000000"
    else:
        assert stored == {rollups.MINUTE: minute, rollups.HOUR: hour}
    # The readers find each bucket from its exact start, and not a microsecond later.
    assert list(rollups.buckets(credential.id, rollups.MINUTE, minute)) == [minute]
    assert rollups.buckets(credential.id, rollups.MINUTE, minute + timedelta(microseconds=1)) == {}
    assert rollups.counts_for([credential.id], hour)[credential.id]["2xx"] == 1
    assert rollups.counts_for([credential.id], hour + timedelta(microseconds=1))[credential.id]["2xx"] == 0


def test_pruning_the_log_leaves_the_rollups(credential):
    _log(credential, 200, at=utcnow() - timedelta(days=3))
    before = _rollups()
    with db.engine.begin() as connection:
        connection.execute(delete(ScimRequest))
    db.session.expire_all()
    assert _rollups() == before != Counter()


def test_a_second_tenant_and_credential_keep_their_own_rollups(tenant, credential):
    other = credentials.issue(tenants.create_tenant("other"), "Theirs")[0]
    _log(credential, 200)
    _log(other, 200, count=2)
    db.session.expire_all()
    assert _rollups() == _from_the_log()
    assert {key[0]: key[4] for key in _rollups()} == {credential.id: tenant.id, other.id: other.tenant_id}
