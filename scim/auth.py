"""Which tenant a SCIM request is for, and which credential it carries (docs/design.md R9, R10, R12).

Failed attempts are limited per tenant and client address (IPv6 by its /64), in the limiter's storage
so every worker and host shares the count. Only failures count and only failures are refused: Okta's
and Entra's egress addresses are shared by many tenants, so a flood of bad tokens from one of them
must never lock out a valid token sent from the same address, nor throttle another tenant.
"""

from __future__ import annotations

import math
import time

from flask import current_app, g, request
from limits import RateLimitItem, parse_many

import logsafe
import request_scope
from extensions import client_key, limiter
from scim.errors import NotFound, TooManyFailures, Unauthorized
from services import credentials

log = logsafe.logger(__name__)

_FAILURE_SCOPE = "scim-auth-failures"


def authenticate() -> None:
    """Resolve tenant and credential for this request or raise the SCIM error that applies.

    Order matters: an unknown tenant, or one without the SCIM feature, answers 404 on every
    path even with a valid token (R10); only then is the token checked.
    """
    slug = request_scope.host_slug()
    g.scim_token_digest = digest = credentials.token_digest(bearer_token())
    # One query finds the credential and its tenant together; only a request without a valid token of
    # this tenant pays a second one, for the tenant alone.
    credential = credentials.find_on_host(slug, digest) if slug is not None else None
    # The tenant as the credential's query read it (a HostTenant, not an ORM Tenant): SCIM needs no more of it.
    tenant = credential.tenant if credential is not None else request_scope.tenant()
    if tenant is None or not tenant.learn_scim:
        g.scim_counted = True  # no tenant to show it to: counted per address and minute, not a row each
        raise NotFound("SCIM is not enabled for this tenant")
    g.scim_tenant = tenant
    if credential is not None and credential.state == "active":
        g.scim_credential = credential
        return
    # A disabled or revoked credential's refusals stay rows of their own, logged against it, so its
    # page shows the IdP still calling and with what; the address limit bounds how many there are.
    g.scim_credential = credential
    _count_failure(tenant.id)
    if credential is None:
        g.scim_counted = True
        raise Unauthorized("the bearer token is missing, wrong, disabled or revoked")
    raise Unauthorized(f"this credential is {credential.state}", failure=f"credential_{credential.state}")


def bearer_token() -> str:
    """Return the token from `Authorization: Bearer <t>` or a bare `Authorization: <t>` (Okta's header mode)."""
    header = request.headers.get("Authorization", "").strip()
    scheme, _, rest = header.partition(" ")
    if scheme.lower() == "bearer":
        return rest.strip()
    return header


def _count_failure(tenant_id: int) -> None:
    """Count this failed attempt against the client's address on this tenant; past the limit, raise a 429."""
    limits = _failure_limits()
    if not limits:
        return
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or ""
    keys = [part for part in (prefix, _FAILURE_SCOPE, str(tenant_id), client_key(request.remote_addr)) if part]
    try:
        breached = [item for item in limits if not limiter.limiter.hit(item, *keys)]
        reset_at = max((limiter.limiter.get_window_stats(item, *keys).reset_time for item in breached), default=0)
    except Exception as exc:  # noqa: BLE001 - the request is refused either way; an unreachable store must not 500
        log.warning("could not count a failed SCIM authentication: %s", type(exc).__name__)
        return
    if breached:
        g.scim_counted = True
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise TooManyFailures(
            f"too many requests with a missing, wrong, disabled or revoked token from this address "
            f"({breached[0]}); valid tokens are not affected; retry after Retry-After seconds",
            retry_after=retry_after,
        )


def _failure_limits() -> list[RateLimitItem]:
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return []
    setting = current_app.config.get("SCIM_AUTH_FAILURE_LIMIT")
    return parse_many(setting) if setting else []
