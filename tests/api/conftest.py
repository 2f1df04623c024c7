"""Fixtures for the public API tests: an API key, a client that sends it, and log rows placed in time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models import ScimRequest, db, utcnow
from services import api_keys, credentials

API = "/api/v1"


class ApiClient:
    """A test client that sends `Authorization: Bearer <key>` to /api/v1 paths."""

    def __init__(self, client, token: str | None, host: str = "localhost") -> None:
        self.client = client
        self.token = token
        self.host = host

    def get(self, path: str, headers: dict | None = None, **kwargs):
        all_headers = {"Host": self.host}
        if self.token is not None:
            all_headers["Authorization"] = f"Bearer {self.token}"
        all_headers.update(headers or {})
        url = path if path.startswith("http") else API + path
        return self.client.get(url, headers=all_headers, **kwargs)


@pytest.fixture
def api_token(tenant) -> str:
    return api_keys.issue(tenant, "SIEM")[1]


@pytest.fixture
def api(client, api_token) -> ApiClient:
    return ApiClient(client, api_token)


@pytest.fixture
def credential(tenant):
    return credentials.issue(tenant, "Okta production", "okta")[0]


def log_row(tenant_id: int | None, credential_id: int | None = None, *, ago: float = 60, **fields) -> ScimRequest:
    """Insert one request-log row stamped `ago` seconds ago (old enough to be settled by default)."""
    row = ScimRequest(
        tenant_id=tenant_id,
        credential_id=credential_id,
        at=fields.pop("at", None) or utcnow() - timedelta(seconds=ago),
        method=fields.pop("method", "GET"),
        path=fields.pop("path", "/scim/v2/Users"),
        status=fields.pop("status", 200),
        duration_ms=fields.pop("duration_ms", 3.25),
        ip=fields.pop("ip", "192.0.2.7"),
        user_agent=fields.pop("user_agent", "Okta SCIM Client 1.0.0"),
        operation=fields.pop("operation", None),
        failure=fields.pop("failure", None),
        **fields,
    )
    db.session.add(row)
    db.session.commit()
    return row


def problem(response, status: int) -> dict:
    """Assert a response is RFC 9457 problem details with this status and return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["type"] == "about:blank" and body["status"] == status
    assert body["title"] and body["detail"]
    return body
