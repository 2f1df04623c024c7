"""Failed sign-ins on admin accounts, kept for the notice the owner of a paused account gets.

When the per-account sign-in limit pauses password sign-in, the owner is mailed how many attempts
failed and from which addresses, with a single-use sign-in link (services.verification.SIGN_IN).
Only accounts that could sign in to the dashboard are recorded: nothing accrues for guessed emails.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeGuard

from sqlalchemy import delete, select

from models import Role, SignInFailure, User, db, utcnow


@dataclass(frozen=True)
class Attempts:
    """Failed sign-ins over a period: how many, and how many from each client address."""

    count: int
    by_client: list[tuple[str, int]]  # most attempts first


def can_sign_in(user: User | None) -> TypeGuard[User]:
    """Tell whether the account may use the dashboard (R4: a verified admin or super-admin, not deprovisioned)."""
    return (
        user is not None
        and user.role in (Role.ADMIN, Role.SUPER_ADMIN)
        and user.email_verified
        and user.deprovisioned_at is None
        and bool(user.email_ci)
    )


def record_failure(user: User, client: str, keep: timedelta) -> None:
    """Record a failed sign-in on the account from `client`, and drop every record older than `keep`."""
    now = utcnow()
    # The limits keep the table small (at most the per-account limit per account within `keep`),
    # so pruning all of it here costs little and leaves nothing behind for accounts attacked once.
    db.session.execute(delete(SignInFailure).where(SignInFailure.at < now - keep))
    db.session.add(SignInFailure(user_id=user.id, client=client[:64], at=now))
    db.session.commit()


def attempts_since(user: User, since: datetime) -> Attempts:
    """Return the account's failed sign-ins since `since`."""
    clients = db.session.scalars(
        select(SignInFailure.client).where(SignInFailure.user_id == user.id, SignInFailure.at >= since)
    ).all()
    counts = Counter(clients)
    return Attempts(count=len(clients), by_client=sorted(counts.items(), key=lambda item: (-item[1], item[0])))
