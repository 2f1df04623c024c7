"""The SCIM rate limit per credential (SCIM_RATE_LIMIT), counted in the limiter's storage.

Checked in the SCIM request hook once the credential is known, with one storage hit per limit. Flask-Limiter's
own per-request check resolves every default, application and blueprint limit for each request, which cost a
SCIM request more CPU than its database lookups; it still serves the dashboard and the API, and skips SCIM
paths (app.py). Counts live where every other limit's do (memory:// per process, redis:// shared by hosts).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from flask import current_app, g, request
from limits import RateLimitItem, parse_many

import logsafe
from extensions import limiter
from scim.errors import ScimError

log = logsafe.logger(__name__)

_SCOPE = "scim"


class RateLimited(ScimError):
    """This credential sent more requests than SCIM_RATE_LIMIT allows (429); retry after `retry_after` seconds."""

    status = 429

    def __init__(self, limit: RateLimitItem) -> None:
        super().__init__(
            f"too many requests with this credential ({limit}); retry after Retry-After seconds",
            failure="rate_limited",
        )
        # The limit's whole window, as an integer: Okta waits exactly this many seconds before retrying.
        self.retry_after = max(1, int(limit.get_expiry()))


def check_rate_limit() -> None:
    """Count this request against its credential's limit; past it, raise RateLimited."""
    config = current_app.config
    setting = config["SCIM_RATE_LIMIT"]
    if not setting or not config.get("RATELIMIT_ENABLED", True) or request.blueprint != "scim":
        return  # off, or a path no SCIM view answers (404, 405): not counted, as before

    prefix = config.get("RATELIMIT_KEY_PREFIX") or ""
    keys = [part for part in (prefix, _SCOPE, credential_key()) if part]
    # Every limit is counted, as RATELIMIT_FAIL_ON_FIRST_BREACH=False asks; the first breached one answers.
    breached = [item for item in _limits(setting) if not limiter.limiter.hit(item, *keys)]
    if breached:
        log.warning("SCIM rate limit %s exceeded at %s", breached[0], request.endpoint)
        raise RateLimited(breached[0])


def credential_key() -> str:
    """Key the SCIM limit by the presented token (hashed), so one runaway connection cannot starve others."""
    from scim.auth import bearer_token

    # Authentication already hashed the token (it runs first); hash again only for a token it could not use.
    digest = g.get("scim_token_digest") or hashlib.sha256(bearer_token().encode("utf-8", "replace")).hexdigest()
    return "scim:" + digest[:16]


@lru_cache(maxsize=16)
def _limits(setting: str) -> list[RateLimitItem]:
    return parse_many(setting)
