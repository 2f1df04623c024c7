"""Keyset paging of the request log: next links, bounded and polling queries, and rows that arrive meanwhile."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert

from models import ScimRequest, db, utcnow
from services import request_log
from tests.api.conftest import log_row

SETTLE = timedelta(seconds=5)


class Clock:
    """The request log's notion of now, moved by the test instead of by waiting."""

    def __init__(self) -> None:
        self.now = utcnow().replace(microsecond=0)

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(request_log, "utcnow", fake)
    return fake


def stamp(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def page(api, url: str) -> tuple[list[int], str | None]:
    """Fetch one page; check the Link header and the body agree on the next page."""
    response = api.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    link = response.headers.get("Link")
    if body["next"] is None:
        assert link is None
    else:
        assert link == f'<{body["next"]}>; rel="next"'
        assert body["next"].startswith("https://localhost/api/v1/")
    return [entry["id"] for entry in body["data"]], body["next"]


def follow(api, url: str, max_pages: int = 100) -> tuple[list[int], str | None, int]:
    """Follow next links until a page comes back empty (polling) or without one (bounded)."""
    seen: list[int] = []
    for pages in range(1, max_pages + 1):
        ids, next_url = page(api, url)
        seen.extend(ids)
        if next_url is None or not ids:
            return seen, next_url, pages
        url = next_url
    raise AssertionError("too many pages")


def test_a_bounded_query_pages_through_every_row_once_and_ends(api, tenant, clock):
    rows = [log_row(tenant.id, at=clock.now - timedelta(minutes=30, seconds=-i)).id for i in range(7)]
    until = stamp(clock.now - timedelta(minutes=1))
    seen, last_next, pages = follow(api, f"/scim-requests?limit=3&until={until}")
    assert seen == rows and last_next is None and pages == 3
    # Exactly a page's worth: the last full page already knows it is the last.
    assert follow(api, f"/scim-requests?limit=7&until={until}")[1:] == (None, 1)


def test_a_polling_query_always_has_a_next_link_even_when_empty(api, tenant, clock):
    ids, next_url = page(api, "/scim-requests")
    assert ids == [] and next_url == "https://localhost/api/v1/scim-requests"
    log_row(tenant.id, at=clock.now - timedelta(minutes=1))
    ids, next_url = page(api, "/scim-requests?limit=5&status=2xx")
    assert len(ids) == 1 and "after=" in next_url and "limit=5" in next_url and "status=2xx" in next_url
    ids, again = page(api, next_url)
    assert ids == [] and again == next_url


def test_polling_delivers_each_new_row_exactly_once(api, tenant, clock):
    backlog = [log_row(tenant.id, at=clock.now - timedelta(minutes=10, seconds=-i)).id for i in range(5)]
    seen, next_url, _ = follow(api, "/scim-requests?limit=2")
    assert seen == backlog
    delivered = list(seen)
    for round_ in range(4):
        # New requests arrive, stamped now; they wait out the settle window, then come exactly once.
        fresh = [log_row(tenant.id, at=clock.now).id for _ in range(round_ + 1)]
        ids, next_url = page(api, next_url)
        assert ids == []
        clock.advance(SETTLE.total_seconds() + 0.001)
        seen, next_url, _ = follow(api, next_url)
        assert seen == fresh
        delivered.extend(seen)
    assert len(delivered) == len(set(delivered)) == 5 + 1 + 2 + 3 + 4
    assert page(api, next_url)[0] == []


def test_rows_arriving_between_pages_are_neither_skipped_nor_repeated(api, tenant, clock):
    for i in range(6):
        log_row(tenant.id, at=clock.now - timedelta(minutes=5, seconds=-i))
    url, delivered = "/scim-requests?limit=2", []
    for _ in range(12):
        log_row(tenant.id, at=clock.now)  # one arrives before each page
        clock.advance(2)
        ids, url = page(api, url)
        delivered.extend(ids)
    clock.advance(10)
    delivered.extend(follow(api, url)[0])
    everything = [row.id for row in db.session.scalars(db.select(ScimRequest).order_by(ScimRequest.id))]
    assert delivered == everything and len(everything) == 18


def test_a_row_committing_late_below_a_seen_id_is_delivered(api, tenant, clock):
    """On PostgreSQL a row can become visible after one with a higher id; it must not be skipped."""
    old = log_row(tenant.id, at=clock.now - timedelta(minutes=1)).id
    # Id old+10 commits first; old+5 was handed out earlier but its commit lands later.
    high = _insert(tenant.id, old + 10, clock.now - timedelta(seconds=1))
    filters = request_log.Filters(tenant_id=tenant.id)
    naive = request_log.forward(filters, None, 100, settle=timedelta(0))
    assert [r.id for r in naive.rows] == [old, high]  # without a settle window, the cursor passes old+5 ...
    ids, next_url = page(api, "/scim-requests")
    assert ids == [old]  # ... with one, it stops below the newest rows
    low = _insert(tenant.id, old + 5, clock.now - timedelta(seconds=1.5))
    assert request_log.forward(filters, naive.after, 100, settle=timedelta(0)).rows == []  # ... and never sees it
    clock.advance(SETTLE.total_seconds())
    ids, next_url = page(api, next_url)
    assert ids == [low, high]


def _insert(tenant_id: int, row_id: int, at) -> int:
    db.session.execute(
        insert(ScimRequest).values(
            id=row_id, tenant_id=tenant_id, at=at, method="GET", path="/scim/v2/Users", status=200, duration_ms=1.0
        )
    )
    db.session.commit()
    return row_id


def test_a_concurrent_uncommitted_insert_holds_back_later_ids_on_postgresql(app, api, tenant, clock):
    """Two real transactions: a lower id still uncommitted while a higher one is visible."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers, so ids commit in order there")
    row = {"tenant_id": tenant.id, "method": "GET", "path": "/scim/v2/Users", "status": 200, "duration_ms": 1.0}
    row["at"] = clock.now - timedelta(seconds=1)
    with db.engine.connect() as slow:
        slow_tx = slow.begin()
        try:
            low = slow.execute(insert(ScimRequest).values(**row).returning(ScimRequest.id)).scalar()
            with db.engine.begin() as fast:
                high = fast.execute(insert(ScimRequest).values(**row).returning(ScimRequest.id)).scalar()
            assert low < high
            filters = request_log.Filters(tenant_id=tenant.id)
            assert [r.id for r in request_log.forward(filters, None, 10, settle=timedelta(0)).rows] == [high]
            ids, next_url = page(api, "/scim-requests")
            assert ids == []
        finally:
            slow_tx.commit()
    clock.advance(SETTLE.total_seconds())
    assert page(api, next_url)[0] == [low, high]


def test_a_bounded_query_reaching_into_the_settle_window_ends_once_it_has_settled(api, tenant, clock):
    settled = log_row(tenant.id, at=clock.now - timedelta(minutes=1)).id
    fresh = log_row(tenant.id, at=clock.now - timedelta(seconds=1)).id
    until = stamp(clock.now + timedelta(seconds=1))
    ids, next_url = page(api, f"/scim-requests?until={until}")
    assert ids == [settled] and next_url is not None
    clock.advance(SETTLE.total_seconds() + 1)
    ids, next_url = page(api, next_url)
    assert ids == [fresh] and next_url is None


def test_a_cursor_keeps_its_filters_and_scope(api, tenant, credential, clock):
    rows = [
        log_row(tenant.id, credential.id if i % 2 else None, status=404 if i % 3 else 200, ago=600 - i).id
        for i in range(12)
    ]
    mine = [r for i, r in enumerate(rows) if i % 2 and i % 3]
    seen, _, pages = follow(api, f"/scim-credentials/{credential.id}/requests?status=4xx&limit=1")
    assert seen == mine and pages == len(mine) + 1


def test_since_and_until_become_id_bounds_without_losing_rows(api, tenant, clock):
    start = clock.now - timedelta(days=2)
    rows = [log_row(tenant.id, at=start + timedelta(seconds=i)).id for i in range(40)]
    since, until = stamp(start + timedelta(seconds=10)), stamp(start + timedelta(seconds=30))
    seen, next_url, _ = follow(api, f"/scim-requests?since={since}&until={until}&limit=7")
    assert seen == rows[10:30] and next_url is None
    with_slack = request_log._id_bounds(
        request_log.Filters(tenant_id=tenant.id, since=start + timedelta(seconds=10)), SETTLE
    )
    assert len(with_slack) == 1  # rows more than the settle window older than `since` are skipped by id


def test_dashboard_order_pages_back_from_the_newest(app, tenant, clock):
    rows = [log_row(tenant.id, ago=100 - i).id for i in range(5)]
    filters = request_log.Filters(tenant_id=tenant.id)
    first, older = request_log.backward(filters, None, 2)
    assert [r.id for r in first] == rows[:-3:-1] and older == rows[3]
    second, older = request_log.backward(filters, older, 2)
    assert [r.id for r in second] == [rows[2], rows[1]]
    third, older = request_log.backward(filters, older, 2)
    assert [r.id for r in third] == [rows[0]] and older is None


def test_every_row_reads_in_batches_below_one_bound(app, tenant, clock):
    rows = [log_row(tenant.id, ago=100 - i).id for i in range(9)]
    filters = request_log.Filters(tenant_id=tenant.id)
    assert [r.id for r in request_log.every_row(filters, batch=2)] == rows
    assert [r.id for r in request_log.every_row(filters, after=rows[2], limit=4, batch=3)] == rows[3:7]
    late = log_row(tenant.id, at=clock.now)  # arrives during an export: not part of it
    stream = request_log.every_row(filters, batch=2)
    first = next(stream)
    log_row(tenant.id, ago=1)
    assert [first.id, *(r.id for r in stream)] == rows and late.id not in rows
