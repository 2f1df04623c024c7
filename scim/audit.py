"""Record every SCIM request as R11 says: no body, no query string, no Authorization header."""

from __future__ import annotations

import time
from typing import Any

from flask import Response, g, request
from sqlalchemy import inspect

from extensions import client_key
from services import audit
from services.credentials import HostTenant, PresentedCredential


def record_request(response: Response) -> None:
    """Write the request's log row once the response is known."""
    # The object behind Flask's `g`, looked up once: every attribute read through the proxy looks it up again.
    scope = g._get_current_object()  # werkzeug's documented way to unwrap a proxy
    status = response.status_code
    failed = status >= 400
    # A refusal before any credential proved itself is counted per address and minute, the address
    # keyed as the failed-authentication limit keys it (IPv6 by its /64), so a flood adds one row a minute.
    counted = bool(scope.get("scim_counted"))
    audit.record(
        audit.RequestRecord(
            tenant_id=_id(scope.get("scim_tenant")),
            credential_id=_id(scope.get("scim_credential")),
            method=request.method,
            path=request.path,  # PATH_INFO only: the query string (filters name people) stays out
            status=status,
            duration_ms=(time.perf_counter() - (scope.get("scim_started") or time.perf_counter())) * 1000,
            ip=client_key(request.remote_addr) if counted else request.remote_addr,
            user_agent=request.headers.get("User-Agent"),
            operation=scope.get("scim_operation"),
            failure=scope.get("scim_failure") if failed else None,
            counted=counted,
            reason=scope.get("scim_reason") if failed else None,
            skipped_members=None if failed else scope.get("scim_skipped_members"),
        )
    )


def _id(row: Any) -> int | None:
    """Return a row's primary key without a query: after a rollback an ORM row's attributes are expired."""
    if row is None:
        return None
    if isinstance(row, PresentedCredential | HostTenant):  # plain values, read without the ORM
        return row.id
    state = inspect(row, raiseerr=False)
    if state is None:  # any other plain value
        plain_id: int = row.id
        return plain_id
    identity = state.identity
    return identity[0] if identity else None
