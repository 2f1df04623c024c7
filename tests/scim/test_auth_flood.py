"""Floods of failed SCIM authentication: limited per client address, counted in the log per address and minute.

A valid token is never refused by that limit (Okta's and Entra's egress addresses are shared), and the
request log grows by one row per address, minute and kind however many refusals arrive (R11).
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from extensions import limiter
from models import ScimRequest, db, utcnow
from services import audit, credentials, tenants
from tests.conftest import ScimClient, scim_error
from tests.helpers import REDIS_URL, require_redis

FLOODER = "198.51.100.7"
BYSTANDER = "203.0.113.9"
BAD = "ms_scim_" + "x" * 43


@pytest.fixture
def throttled(make_app):
    """Build an app with the failed-authentication limit on; its counts start from zero."""

    def build(limit: str = "5 per minute", **settings):
        built = make_app(RATELIMIT_ENABLED=True, SCIM_AUTH_FAILURE_LIMIT=limit, **settings)
        limiter.reset()
        return built

    yield build
    limiter.reset()


@pytest.fixture
def frozen_minute(monkeypatch):
    """Pin the log's clock, so every row of a test falls in one minute whatever the wall clock does."""
    moment = {"now": utcnow().replace(second=30, microsecond=0) - timedelta(minutes=1)}
    monkeypatch.setattr(audit, "utcnow", lambda: moment["now"])
    return moment


def client_from(app, address: str, token: str | None) -> ScimClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return ScimClient(client, token)


def rows(**where) -> list[ScimRequest]:
    db.session.expire_all()
    query = select(ScimRequest).filter_by(**where).order_by(ScimRequest.id)
    return list(db.session.scalars(query))


def test_a_flood_of_bad_tokens_gets_429s_while_a_valid_token_from_the_same_address_works(
    throttled, tenant, scim_token, frozen_minute
):
    app = throttled("5 per minute")
    flood, idp = client_from(app, FLOODER, BAD), client_from(app, FLOODER, scim_token)
    statuses, valid = [], []
    for _ in range(12):
        response = flood.get("/Users")
        statuses.append(response.status_code)
        if response.status_code == 429:
            body = scim_error(response, 429)
            assert "too many requests with a missing, wrong, disabled or revoked token" in body["detail"]
            assert 1 <= int(response.headers["Retry-After"]) <= 60  # an integer: Okta waits exactly that long
        valid.append(idp.get("/Users").status_code)
    assert statuses == [401] * 5 + [429] * 7
    assert valid == [200] * 12  # never refused by the limit, never counted by it
    # Another address has its own budget.
    scim_error(client_from(app, BYSTANDER, BAD).get("/Users"), 401)

    refused = rows(credential_id=None)
    assert [(r.ip, r.status, r.failure, r.count) for r in refused] == [
        (FLOODER, 401, "invalid_token", 5),
        (FLOODER, 429, "too_many_failures", 7),
        (BYSTANDER, 401, "invalid_token", 1),
    ]
    assert all(r.at == frozen_minute["now"].replace(second=0) and r.path == "/scim/v2/Users" for r in refused)
    # Authenticated requests keep a row each.
    assert [r.count for r in rows(status=200)] == [1] * 12


def test_the_limit_is_per_tenant_so_one_tenants_flood_never_throttles_another(throttled, tenant, monkeypatch):
    app = throttled("3 per minute")
    monkeypatch.setitem(app.config, "TENANT_BASE_DOMAIN", "example.com")
    tenants.create_tenant("acme")
    tenants.create_tenant("globex")
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = FLOODER
    flood = ScimClient(client, BAD, host="acme.example.com")
    assert [flood.get("/Users").status_code for _ in range(5)] == [401] * 3 + [429] * 2
    # The same address on another tenant's host (a shared IdP egress address) has its own budget.
    scim_error(ScimClient(client, BAD, host="globex.example.com").get("/Users"), 401)


def test_the_log_adds_one_row_per_address_and_minute_however_long_the_flood(throttled, tenant, frozen_minute):
    app = throttled("")  # the limit off: the log must stay small on its own
    flood = client_from(app, FLOODER, BAD)
    for _minute in range(3):
        for _ in range(40):
            scim_error(flood.get("/Groups"), 401)
        frozen_minute["now"] += timedelta(minutes=1)
    refused = rows()
    assert [r.count for r in refused] == [40, 40, 40]
    assert len({r.at for r in refused}) == 3 and len({r.bucket for r in refused}) == 3


def test_an_ipv6_client_rotating_inside_its_64_is_one_address_for_the_limit_and_the_log(
    throttled, tenant, frozen_minute
):
    app = throttled("3 per minute")
    statuses = [client_from(app, f"2001:db8:1:2::{i:x}", BAD).get("/Users").status_code for i in range(1, 6)]
    assert statuses == [401, 401, 401, 429, 429]
    assert client_from(app, "2001:db8:1:3::1", BAD).get("/Users").status_code == 401  # the next /64
    assert [(r.ip, r.status, r.count) for r in rows()] == [
        ("2001:db8:1:2::/64", 401, 3),
        ("2001:db8:1:2::/64", 429, 2),
        ("2001:db8:1:3::/64", 401, 1),
    ]


def test_a_disabled_credential_keeps_rows_of_its_own_until_the_address_limit_counts_the_rest(
    throttled, tenant, frozen_minute
):
    credential, token = credentials.issue(tenant, "Old Okta")
    credentials.disable(credential)
    app = throttled("3 per minute")
    idp = client_from(app, FLOODER, token)
    assert [idp.get("/Users").status_code for _ in range(10)] == [401] * 3 + [429] * 7
    logged = rows(credential_id=credential.id)
    # The IdP still calling shows on the credential's page, request by request, then as one counted row.
    assert [(r.status, r.failure, r.count, r.bucket is None) for r in logged] == [
        (401, "credential_disabled", 1, True),
        (401, "credential_disabled", 1, True),
        (401, "credential_disabled", 1, True),
        (429, "too_many_failures", 7, False),
    ]
    assert audit.status_counts(credential, utcnow() - timedelta(hours=1)) == {"2xx": 0, "4xx": 10, "5xx": 0}


def test_requests_for_a_tenant_without_scim_are_counted_not_rowed(throttled, tenant, frozen_minute):
    app = throttled("3 per minute", TENANT_BASE_DOMAIN="example.test")
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = FLOODER
    stranger = ScimClient(client, BAD, host="nobody.example.test")
    for _ in range(8):
        scim_error(stranger.get("/Users"), 404)  # R10: 404 every time, never a 429 that would tell more
    assert [(r.tenant_id, r.ip, r.status, r.count) for r in rows()] == [(None, FLOODER, 404, 8)]


def test_the_limit_is_shared_through_redis_across_hosts(make_app, tenant, scim_token):
    import secrets

    redis = require_redis()
    # A fresh address keeps this run's counts its own (a key prefix would stick to the process-wide limiter).
    address = "10.{}.{}.{}".format(*secrets.token_bytes(3))
    settings = {
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "SCIM_AUTH_FAILURE_LIMIT": "3 per minute",
    }
    host_a, host_b = make_app(**settings), make_app(**settings)
    statuses = [client_from(host, address, BAD).get("/Users").status_code for host in (host_a, host_b) * 2]
    assert statuses == [401, 401, 401, 429]
    assert client_from(host_b, address, scim_token).get("/Users").status_code == 200
    assert redis.keys(f"*scim-auth-failures*{address}*"), "the counts did not go to Redis"


def test_the_limit_comes_from_the_environment_and_a_bad_one_stops_the_start(make_app, monkeypatch):
    monkeypatch.setenv("MOBIEUS_SCIM_AUTH_FAILURE_LIMIT", "7 per minute")
    assert make_app().config["SCIM_AUTH_FAILURE_LIMIT"] == "7 per minute"
    assert make_app(SCIM_AUTH_FAILURE_LIMIT="").config["SCIM_AUTH_FAILURE_LIMIT"] == ""
    with pytest.raises(ValueError, match="lots"):
        make_app(SCIM_AUTH_FAILURE_LIMIT="lots per minute")


def test_an_unreachable_limit_store_refuses_with_401_not_500(throttled, tenant, monkeypatch):
    app = throttled("1 per minute")

    def unreachable(*_args, **_kwargs):
        raise ConnectionError("store down")

    monkeypatch.setattr(limiter.limiter, "hit", unreachable)
    assert [client_from(app, FLOODER, BAD).get("/Users").status_code for _ in range(3)] == [401] * 3


def test_concurrent_refusals_from_one_address_add_up_in_one_row(app, tenant, frozen_minute):
    """The upsert is atomic: writers racing on one bucket lose no count (SQLite and PostgreSQL)."""
    entry = audit.RequestRecord(
        tenant_id=tenant.id,
        credential_id=None,
        method="GET",
        path="/scim/v2/Users",
        status=401,
        duration_ms=1.0,
        ip=FLOODER,
        user_agent="flood/1.0",
        operation=None,
        failure="invalid_token",
        counted=True,
    )
    start = threading.Barrier(4)

    def writer() -> None:
        with app.app_context():
            start.wait()
            for _ in range(25):
                audit.record(entry)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.session.expire_all()
    assert db.session.execute(select(func.count(), func.sum(ScimRequest.count))).one() == (1, 100)
