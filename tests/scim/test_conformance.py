"""scim2-tester's RFC 7643/7644 checks, run in-process against the app (no port, no thread)."""

from __future__ import annotations

import pytest

from models import Role
from services import accounts

scim2_tester = pytest.importorskip("scim2_tester", reason="scim2-tester is part of the test extra")
httpx2 = pytest.importorskip("httpx2")
from scim2_client.engines.httpx2 import SyncSCIMClient  # noqa: E402

FAILED = {"ERROR", "CRITICAL", "DEVIATION"}


def test_scim2_tester_finds_no_failure(make_app, tenant, scim_token):
    # Groups need a super-admin to own their cohorts (R6).
    accounts.create_local_user(tenant, "owner@example.com", Role.SUPER_ADMIN, verified=True)
    # With the default per-credential rate limit on: a burst of ~800 requests must pass it.
    app = make_app(RATELIMIT_ENABLED=True)
    client = SyncSCIMClient(
        httpx2.Client(
            transport=httpx2.WSGITransport(app=app),
            base_url="http://localhost/scim/v2/",
            headers={"Authorization": f"Bearer {scim_token}"},
        )
    )
    results = scim2_tester.check_server(client)
    failures = [f"{r.title}: {r.reason}" for r in results if r.status.name in FAILED]
    assert not failures, "\n".join(failures)
    checked = {r.resource_type for r in results if getattr(r, "resource_type", None)}
    assert {"User", "Group"} <= {getattr(rt, "name", rt) for rt in checked}
    assert len(results) > 100
