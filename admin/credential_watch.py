"""What a credential's pages share: finding the tenant's credential, and how often its widgets refresh.

Both the credential pages (admin/credentials.py) and its request log (admin/request_log.py) use these.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import abort, request

from admin.context import current_tenant
from models import ScimCredential, utcnow
from services import credentials, rollups
from services.errors import NotFound

# A credential with no request (or, never used, no creation) this recent is idle: its page polls slowly.
IDLE_AFTER = timedelta(minutes=15)
FAST_POLL = {"histogram": "2s", "requests": "2s", "checklist": "3s"}
SLOW_POLL_SECONDS = 30
# Right after a revoke or disable the admin watches the IdP's next calls being refused: full rate this long.
STATE_CHANGE_GRACE = timedelta(minutes=2)
# Where polling() keeps its answer for the rest of the request (the page asks once per widget).
POLLING_KEY = "mobieuslearn.credential_polling"


def tenant_credential(credential_id: int) -> ScimCredential:
    """Return the signed-in tenant's credential with this id; 404 for any other id (another tenant's too)."""
    try:
        return credentials.get(current_tenant(), credential_id)
    except NotFound:
        abort(404)


def polling(credential: ScimCredential) -> dict[str, Any]:
    """Say how often the page's widgets refresh: every few seconds while the credential is in use, else slowly.

    A revoked or disabled credential gets no new successes to watch (after STATE_CHANGE_GRACE, in which the
    admin sees the first refusals arrive), and an idle one (no request for IDLE_AFTER) rarely changes: their
    widgets ask every SLOW_POLL_SECONDS instead, and the page says so.
    """
    cached: tuple[int, dict[str, Any]] | None = request.environ.get(POLLING_KEY)
    if cached is not None and cached[0] == credential.id:
        return cached[1]
    now = utcnow()
    if credential.state != "active":
        moments = [moment for moment in (credential.revoked_at, credential.disabled_at) if moment]
        changed = max(moments, default=credential.created_at)
        slow = now - changed > STATE_CHANGE_GRACE
    else:
        latest = rollups.last_used([credential.id]).get(credential.id) or credential.created_at
        slow = now - latest > IDLE_AFTER
    every = {key: f"{SLOW_POLL_SECONDS}s" for key in FAST_POLL} if slow else FAST_POLL
    result = {"poll": every, "poll_slow": slow, "slow_poll_seconds": SLOW_POLL_SECONDS}
    request.environ[POLLING_KEY] = (credential.id, result)
    return result
