"""Who is signed in, for which tenant, and work that runs after the response (pages: admin/pages.py)."""

from __future__ import annotations

import time

from flask import abort, current_app, g, session

import request_scope
from models import Role, Tenant, User, db


def current_tenant() -> Tenant:
    """Return the tenant the Host names (docs/design.md §8); 404 when it names none."""
    tenant = request_scope.tenant()
    if tenant is None:
        abort(404)
    return tenant


def current_admin() -> User | None:
    """Return the signed-in admin of this tenant, or None; decided once per request, kept on `g`.

    Re-checked on every request: a demoted, unverified or other-tenant account loses access at once,
    and so does a session that was ended (sign-out, new password) or is older than ADMIN_SESSION_HOURS.
    """
    if "admin" not in g:
        g.admin = _signed_in_admin()
    admin: User | None = g.admin
    return admin


def require_admin() -> User:
    """Return the signed-in admin, for a view behind the sign-in guard (admin/guards.py), which ensured one."""
    admin = current_admin()
    if admin is None:
        raise LookupError("require_admin() in a view the sign-in guard does not cover; use current_admin()")
    return admin


def _signed_in_admin() -> User | None:
    user_id = session.get("user_id")
    if user_id is None:
        return None
    user = db.session.get(User, user_id)
    tenant = current_tenant()
    if (
        user is None
        or user.tenant_id != tenant.id
        or user.role < Role.ADMIN
        or not user.email_verified
        or user.deprovisioned_at is not None
        or not _session_is_current(user)
    ):
        session.clear()
        return None
    return user


# Tolerated when app hosts' clocks disagree about a session signed a moment ago.
CLOCK_SKEW_SECONDS = 60


def session_values(user: User) -> dict[str, int]:
    """Return what a dashboard session holds: who, which of their session epochs, and since when (UTC)."""
    return {"user_id": user.id, "epoch": user.session_epoch, "issued_at": int(time.time())}


def start_session(user: User) -> None:
    """Sign `user` in with a fresh session: nothing from before signing in survives it."""
    session.clear()
    session.update(session_values(user))
    g.pop("admin", None)  # decided again on the next current_admin()


def _session_is_current(user: User) -> bool:
    """Tell whether the session still counts: its epoch is the account's, and it is young enough."""
    issued_at = session.get("issued_at")
    if session.get("epoch") != user.session_epoch or not isinstance(issued_at, int | float):
        return False
    age = time.time() - issued_at
    max_age = float(current_app.config.get("ADMIN_SESSION_HOURS") or 12) * 3600
    return -CLOCK_SKEW_SECONDS <= age < max_age
