"""Record every SCIM request as R11 says: no body, no query string, no Authorization header."""

from __future__ import annotations

import time
from typing import Any

from flask import Response, g, request
from sqlalchemy import inspect

from extensions import client_key
from services import audit


def record_request(response: Response) -> None:
    """Write the request's log row once the response is known."""
    tenant = g.get("scim_tenant")
    credential = g.get("scim_credential")
    started = g.get("scim_started") or time.perf_counter()
    # A refusal before any credential proved itself is counted per address and minute, the address
    # keyed as the failed-authentication limit keys it (IPv6 by its /64), so a flood adds one row a minute.
    counted = bool(g.get("scim_counted"))
    audit.record(
        audit.RequestRecord(
            tenant_id=_id(tenant),
            credential_id=_id(credential),
            method=request.method,
            path=request.path,  # PATH_INFO only: the query string (filters name people) stays out
            status=response.status_code,
            duration_ms=(time.perf_counter() - started) * 1000,
            ip=client_key(request.remote_addr) if counted else request.remote_addr,
            user_agent=request.headers.get("User-Agent"),
            operation=g.get("scim_operation"),
            failure=g.get("scim_failure") if response.status_code >= 400 else None,
            counted=counted,
            reason=g.get("scim_reason") if response.status_code >= 400 else None,
            skipped_members=g.get("scim_skipped_members") if response.status_code < 400 else None,
        )
    )


def _id(row: Any) -> int | None:
    """Return a row's primary key without a query: after a rollback an ORM row's attributes are expired."""
    if row is None:
        return None
    state = inspect(row, raiseerr=False)
    if state is None:  # a plain value read without the ORM (services.credentials.PresentedCredential)
        plain_id: int = row.id
        return plain_id
    identity = state.identity
    return identity[0] if identity else None
