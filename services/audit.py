"""The SCIM request log (docs/design.md R11): one small insert per request, and the queries the dashboard reads."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, delete, func, insert, select

from models import ScimCredential, ScimRequest, db, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RequestRecord:
    """What R11 keeps of one request: never its body, query string or Authorization header."""

    tenant_id: int | None
    credential_id: int | None
    method: str
    path: str
    status: int
    duration_ms: float
    ip: str | None
    user_agent: str | None
    operation: str | None
    failure: str | None


def record(entry: RequestRecord) -> None:
    """Insert one log row on its own connection, outside the request's transaction.

    A request that failed and rolled back is still recorded, and a failed insert is
    logged (without personal data) instead of breaking the response.
    """
    row = {
        "tenant_id": entry.tenant_id,
        "credential_id": entry.credential_id,
        "at": utcnow(),
        "method": _text(entry.method, 10),
        "path": _text(entry.path, 512),
        "status": entry.status,
        "duration_ms": round(entry.duration_ms, 2),
        "ip": _text(entry.ip, 45) or None,
        "user_agent": _text(entry.user_agent, 255) or None,
        "operation": _text(entry.operation, 40) or None,
        "failure": _text(entry.failure, 40) or None,
    }
    try:
        with db.engine.begin() as connection:
            connection.execute(insert(ScimRequest), row)
    except Exception as exc:  # noqa: BLE001 - the audit must never break the response it describes
        # Only the exception's type: SQLAlchemy's message quotes the parameters (IP, User-Agent, path).
        log.warning("could not record SCIM request (status %s): %s", entry.status, type(exc).__name__)


def _text(value: str | None, limit: int) -> str:
    """Make a client-supplied string storable: no NUL (PostgreSQL refuses it), valid UTF-8, cut to the column."""
    return (value or "").replace("\x00", "").encode("utf-8", "replace").decode("utf-8")[:limit]


def recent(credential: ScimCredential, limit: int = 25) -> list[ScimRequest]:
    """Return the credential's latest requests, newest first (an index range scan)."""
    return list(
        db.session.scalars(
            select(ScimRequest)
            .where(ScimRequest.credential_id == credential.id)
            .order_by(ScimRequest.at.desc(), ScimRequest.id.desc())
            .limit(limit)
        )
    )


def status_counts(credential: ScimCredential, since: datetime) -> dict[str, int]:
    """Count the credential's requests since `since` by status class: 2xx, 4xx, 5xx."""
    klass = case(
        (ScimRequest.status < 300, "2xx"),
        (ScimRequest.status < 500, "4xx"),
        else_="5xx",
    )
    rows = db.session.execute(
        select(klass, func.count())
        .where(ScimRequest.credential_id == credential.id, ScimRequest.at >= since)
        .group_by(klass)
    )
    counts = {"2xx": 0, "4xx": 0, "5xx": 0}
    counts.update({k: n for k, n in rows})
    return counts


def last_used(credential_ids: list[int]) -> dict[int, datetime]:
    """Return when each credential was last used, derived from the log (no column to keep in step)."""
    if not credential_ids:
        return {}
    rows = db.session.execute(
        select(ScimRequest.credential_id, func.max(ScimRequest.at))
        .where(ScimRequest.credential_id.in_(credential_ids))
        .group_by(ScimRequest.credential_id)
    )
    return {cid: at for cid, at in rows}


def operations_seen(credential: ScimCredential) -> set[str]:
    """Return the distinct successful SCIM operations a credential has performed."""
    rows = db.session.scalars(
        select(ScimRequest.operation)
        .where(ScimRequest.credential_id == credential.id, ScimRequest.operation.is_not(None))
        .where(ScimRequest.status < 300)
        .distinct()
    )
    return set(rows)


def status_counts_for(credential_ids: list[int], since: datetime) -> dict[int, dict[str, int]]:
    """Count each credential's requests since `since` by status class, in one grouped query.

    Every id asked for is in the answer, with zeros where it had no requests.
    """
    counts = {cid: {"2xx": 0, "4xx": 0, "5xx": 0} for cid in credential_ids}
    if not counts:
        return counts
    klass = case(
        (ScimRequest.status < 300, "2xx"),
        (ScimRequest.status < 500, "4xx"),
        else_="5xx",
    )
    rows = db.session.execute(
        select(ScimRequest.credential_id, klass, func.count())
        .where(ScimRequest.credential_id.in_(list(counts)), ScimRequest.at >= since)
        .group_by(ScimRequest.credential_id, klass)
    )
    for cid, status_class, n in rows:
        counts[cid][status_class] = n
    return counts


def prune(before: datetime, batch: int = 10_000) -> int:
    """Delete request-log rows older than `before`, in batches so no lock is held for long; return the count."""
    removed = 0
    while True:
        ids = list(db.session.scalars(select(ScimRequest.id).where(ScimRequest.at < before).limit(batch)))
        if not ids:
            return removed
        db.session.execute(delete(ScimRequest).where(ScimRequest.id.in_(ids)))
        db.session.commit()
        removed += len(ids)
