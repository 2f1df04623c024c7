"""Offboarding the IdP could not apply: deactivations and deletions of members promoted past the SCIM rung.

R3 hides a member promoted past role 2 from SCIM, so the IdP's `active: false` or DELETE for them answers the
same 404 as an unknown id and changes nothing: the person keeps their access. The refusal itself is recorded
here as a fact about the person (one row each, never a scan of the request log), so the dashboard can list it,
the super-admins can be mailed once, and an admin can ban or demote the person. The row closes when the person
is banned or demoted to member (`roles.set_role` calls `resolve`) or the IdP reactivates them, and opens
afresh on the next refused deactivation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import joinedload

from models import OffboardingRequest, Role, User, db, utcnow
from services.transactions import for_write, write_transaction

DEACTIVATE = "deactivate"
DELETE = "delete"
REACTIVATE = "reactivate"
KINDS = (DEACTIVATE, DELETE)

BANNED = "banned"
DEMOTED = "demoted"
REACTIVATED = "reactivated"


def _hidden_by_role(tenant_id: int) -> tuple[ColumnElement[bool], ...]:
    """Return the clause for SCIM's own members whom R3 hides only because of their role (> 2)."""
    return (
        User.tenant_id == tenant_id,
        User.scim_managed.is_(True),
        User.role > Role.MEMBER,
        User.deprovisioned_at.is_(None),
    )


def note_refused(
    tenant_id: int, scim_id: str, intent: Callable[[User], str | None], credential_id: int | None
) -> int | None:
    """Record what a SCIM write that answered 404 meant for a member hidden by their role.

    `intent(user)` says what the request asked for: DEACTIVATE, DELETE, REACTIVATE or None (anything else).
    Returns the row's id when this request opened it (the caller mails the super-admins then, once), else None.
    Nothing is recorded for ids that are unknown, local accounts, or members SCIM can see.
    """
    with write_transaction():
        # The user's row lock queues concurrent refusals for one person, so exactly one of them opens the row.
        user = db.session.scalar(for_write(select(User).where(*_hidden_by_role(tenant_id), User.scim_id == scim_id)))
        if user is None:
            return None
        kind = intent(user)
        if kind == REACTIVATE:
            _resolve(user.id, REACTIVATED)
            return None
        if kind not in KINDS:
            return None
        return _open_or_count(user, kind, credential_id)


def _open_or_count(user: User, kind: str, credential_id: int | None) -> int | None:
    now = utcnow()
    row = db.session.scalar(for_write(select(OffboardingRequest).where(OffboardingRequest.user_id == user.id)))
    if row is not None and row.resolved_at is None:
        row.last_seen_at = now
        row.count += 1
        row.credential_id = credential_id
        if kind == DELETE:
            row.kind = DELETE  # a deletion outweighs the deactivation that usually precedes it
        return None
    if row is None:
        row = OffboardingRequest(tenant_id=user.tenant_id, user_id=user.id)
        db.session.add(row)
    row.kind, row.credential_id, row.count = kind, credential_id, 1
    row.first_seen_at = row.last_seen_at = row.notified_at = now
    row.resolved_at = row.resolution = None
    db.session.flush()
    return row.id


def resolve(user_id: int, role: int) -> None:
    """Close the person's open row once their new role is one SCIM owns (call inside the role change's transaction)."""
    if role <= Role.MEMBER:
        _resolve(user_id, BANNED if role == Role.BANNED else DEMOTED)


def _resolve(user_id: int, resolution: str) -> None:
    db.session.execute(
        update(OffboardingRequest)
        .where(OffboardingRequest.user_id == user_id, OffboardingRequest.resolved_at.is_(None))
        .values(resolved_at=utcnow(), resolution=resolution)
    )


def open_requests(tenant_id: int, limit: int = 200) -> list[OffboardingRequest]:
    """Return the tenant's open rows for people still hidden by their role, oldest first, with user and credential."""
    return list(
        db.session.scalars(
            select(OffboardingRequest)
            .join(User, User.id == OffboardingRequest.user_id)
            .where(OffboardingRequest.tenant_id == tenant_id, OffboardingRequest.resolved_at.is_(None))
            .where(*_hidden_by_role(tenant_id))
            .options(joinedload(OffboardingRequest.user), joinedload(OffboardingRequest.credential))
            .order_by(OffboardingRequest.first_seen_at, OffboardingRequest.id)
            .limit(limit)
        )
    )


def open_request_for(tenant_id: int, user_id: int) -> OffboardingRequest | None:
    """Return the person's open row, if they are still hidden by their role."""
    return db.session.scalar(
        select(OffboardingRequest)
        .join(User, User.id == OffboardingRequest.user_id)
        .where(OffboardingRequest.user_id == user_id, OffboardingRequest.resolved_at.is_(None))
        .where(*_hidden_by_role(tenant_id))
    )


def flagged(tenant_id: int, user_ids: Iterable[int]) -> set[int]:
    """Return which of these users have an open row (one query for a page of the members list)."""
    ids = list(user_ids)
    if not ids:
        return set()
    return set(
        db.session.scalars(
            select(OffboardingRequest.user_id)
            .join(User, User.id == OffboardingRequest.user_id)
            .where(OffboardingRequest.user_id.in_(ids), OffboardingRequest.resolved_at.is_(None))
            .where(*_hidden_by_role(tenant_id))
        )
    )


def get(request_id: int) -> OffboardingRequest | None:
    """Return one row by id (for the mail sent after the answer)."""
    return db.session.get(OffboardingRequest, request_id)
