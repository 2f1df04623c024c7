"""What a credential's log proves about its first sync (R11): the milestones reached, and the refusals beside it.

The dashboard puts these facts into words (admin/sync_status.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select

from models import ScimRequest, db

# (milestone, operations that prove it). An empty set means "any successful request": Okta tests with
# GET /Users?count=2, Entra with a filtered GET /Users, curl with ServiceProviderConfig, and all of them are
# recorded with an operation.
MILESTONES: tuple[tuple[str, frozenset[str]], ...] = (
    ("connection", frozenset()),
    ("user_created", frozenset({"user.created"})),
    ("user_updated", frozenset({"user.updated"})),
    ("user_deactivated", frozenset({"user.deactivated", "user.deleted"})),
    ("group_created", frozenset({"group.created"})),
    ("members_changed", frozenset({"group.members_changed"})),
)

# A counted log row stands for the requests of the minute starting at its `at`.
COUNTED_WINDOW = timedelta(minutes=1)
# The addresses a refusal summary names, most refusals first.
REFUSAL_SOURCES = 5


@dataclass(frozen=True)
class RefusalSource:
    """Refused requests from one client address (IPv6: its /64): how many, when, how many throttled."""

    ip: str | None
    count: int
    throttled: int
    since: datetime
    until: datetime


@dataclass(frozen=True)
class Refusals:
    """Requests to a tenant refused before any credential was known (token missing or not accepted)."""

    count: int
    throttled: int = 0
    sources: tuple[RefusalSource, ...] = ()


def milestones_reached(operations_seen: Iterable[str]) -> list[tuple[str, bool]]:
    """Say for each first-sync milestone, in order, whether its proof appears among the successful operations."""
    seen = set(operations_seen)
    return [(key, bool(seen & proof) if proof else bool(seen)) for key, proof in MILESTONES]


def refusals(tenant_id: int, since: datetime) -> Refusals:
    """Sum the tenant's requests refused before a credential matched since `since`, and name their addresses.

    Such requests carry no credential id (the token matched none), so a credential's own log cannot show
    them; the page shows them beside it so a wrong token is visible. They are the 401s and the 429s of
    the failed-authentication limit, counted per address and minute: every sum adds up `count`.
    """
    requests = func.sum(ScimRequest.count)
    throttled = func.sum(case((ScimRequest.status == 429, ScimRequest.count), else_=0))
    refused = (
        ScimRequest.tenant_id == tenant_id,
        ScimRequest.at >= since,
        ScimRequest.credential_id.is_(None),
        ScimRequest.status.in_((401, 429)),
    )
    count, throttled_count = db.session.execute(select(requests, throttled).where(*refused)).one()
    if not count:
        return Refusals(count=0)
    rows = db.session.execute(
        select(ScimRequest.ip, requests, throttled, func.min(ScimRequest.at), func.max(ScimRequest.at))
        .where(*refused)
        .group_by(ScimRequest.ip)
        .order_by(requests.desc(), ScimRequest.ip)
        .limit(REFUSAL_SOURCES)
    )
    sources = tuple(
        RefusalSource(ip=ip, count=n, throttled=t, since=_minute(first), until=_minute(last) + COUNTED_WINDOW)
        for ip, n, t, first, last in rows
    )
    return Refusals(count=count, throttled=throttled_count, sources=sources)


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)
