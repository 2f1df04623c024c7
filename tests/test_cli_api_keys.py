"""`flask --app app api-keys issue|list|revoke`: output a script can read, and the service rules behind it."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from models import ApiKey, db, utcnow
from services import api_keys, tenants, tokens
from services.errors import InvalidInput
from tests.test_cli import fails, ok, run

KEY = re.compile(r"^ms_api_[A-Za-z0-9_-]{43}$")


def key_row(key_id: int) -> ApiKey | None:
    db.session.expire_all()
    return db.session.get(ApiKey, key_id)


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        ((), ("issue", "list", "revoke", "/api/v1")),
        (("issue",), ("--tenant", "--name", "--expires", "last line", "00:00 UTC")),
        (("list",), ("--tenant", "id, state")),
        (("revoke",), ("KEY_ID", "401")),
    ],
)
def test_help(app, args, fragments):
    result = run(app, "api-keys", *args, "--help")
    ok(result)
    for fragment in fragments:
        assert fragment in result.stdout


def test_issue_prints_the_key_alone_on_the_last_line_and_stores_only_its_digest(app, tenant):
    lines = ok(run(app, "api-keys", "issue", "--tenant", "default", "--name", "SIEM export"))
    token = lines[-1]
    assert KEY.match(token), lines
    assert all(token not in line for line in lines[:-1])
    stored = db.session.scalars(select(ApiKey)).all()
    assert len(stored) == 1
    key = key_row(stored[0].id)
    assert lines[0] == f"API key {key.id} issued for tenant default; store it now, it is not shown again:"
    assert (key.tenant_id, key.name, key.expires_at, key.revoked_at) == (tenant.id, "SIEM export", None, None)
    assert key.token_hash == tokens.digest(token) and token not in (key.token_hash, key.token_hint)
    assert key.scope_list == [api_keys.READ_REQUEST_LOG]
    assert key.state == "active"


def test_issue_with_an_expiry_date_expires_at_midnight_utc_that_day(app, tenant):
    day = (utcnow() + timedelta(days=30)).date()
    lines = ok(run(app, "api-keys", "issue", "--tenant", "default", "--name", "Audit", "--expires", day.isoformat()))
    key = db.session.scalar(select(ApiKey))
    assert key.expires_at == datetime(day.year, day.month, day.day)
    assert KEY.match(lines[-1])


@pytest.mark.parametrize(
    ("args", "message", "exit_code"),
    [
        (("--tenant", "nope", "--name", "x"), "no tenant 'nope'", 1),
        (("--tenant", "default", "--name", "  "), "name is required", 1),
        (("--tenant", "default", "--name", "a\tb"), "control characters", 1),
        (("--tenant", "default", "--name", "x" * 101), "at most 100", 1),
        (("--tenant", "default", "--name", "x", "--expires", "2001-01-01"), "after today", 1),
        (("--tenant", "default", "--name", "x", "--expires", "tomorrow"), "does not match the format '%Y-%m-%d'", 2),
        (("--tenant", "default"), "--name", 2),
    ],
)
def test_issue_errors_exit_non_zero_with_one_line(app, tenant, args, message, exit_code):
    result = run(app, "api-keys", "issue", *args)
    if exit_code == 2:
        assert result.exit_code == 2 and message in result.output
    else:
        fails(result, message)
    assert db.session.scalars(select(ApiKey)).all() == []


def test_an_expiry_of_today_is_refused_by_the_service(app, tenant):
    with pytest.raises(InvalidInput, match="after today"):
        api_keys.issue(tenant, "x", utcnow().date())
    assert api_keys.issue(tenant, "x", utcnow().date() + timedelta(days=1))[0].expires_at is not None


def test_unknown_scopes_are_refused(app, tenant):
    with pytest.raises(InvalidInput, match="scopes"):
        api_keys.issue(tenant, "x", scopes=("users:write",))
    with pytest.raises(InvalidInput, match="scopes"):
        api_keys.issue(tenant, "x", scopes=())


def test_list_one_key_per_line_id_first_newest_first_without_the_key(app, tenant):
    first, first_token = api_keys.issue(tenant, "SIEM", date(2100, 1, 2))
    second, second_token = api_keys.issue(tenant, "Audit")
    other = tenants.create_tenant("acme")
    api_keys.issue(other, "Acme key")
    api_keys.note_use(first)
    used = key_row(first.id).last_used_at
    ok(run(app, "api-keys", "revoke", str(second.id)))

    lines = ok(run(app, "api-keys", "list", "--tenant", "default"))
    assert lines == [
        f"{second.id}\trevoked\tAudit\tscim-requests:read\texpires=never\tused=never\t...{second_token[-4:]}",
        f"{first.id}\tactive\tSIEM\tscim-requests:read\texpires=2100-01-02\t"
        f"used={used.strftime('%Y-%m-%dT%H:%M:%SZ')}\t...{first_token[-4:]}",
    ]
    assert all(first_token not in line and second_token not in line for line in lines)
    assert [line.split("\t")[2] for line in ok(run(app, "api-keys", "list", "--tenant", "acme"))] == ["Acme key"]


def test_revoke_is_final_and_prints_the_state(app, tenant):
    key, _ = api_keys.issue(tenant, "SIEM")
    assert ok(run(app, "api-keys", "revoke", str(key.id))) == [f"{key.id}\trevoked"]
    first = key_row(key.id).revoked_at
    assert first is not None
    assert ok(run(app, "api-keys", "revoke", str(key.id))) == [f"{key.id}\trevoked"]
    assert key_row(key.id).revoked_at == first
    fails(run(app, "api-keys", "revoke", "999999"), "no such API key")


def test_an_expired_key_reads_as_expired(app, tenant):
    key, _ = api_keys.issue(tenant, "SIEM", utcnow().date() + timedelta(days=1))
    key.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert key_row(key.id).state == "expired"
    assert ok(run(app, "api-keys", "list", "--tenant", "default"))[0].split("\t")[1] == "expired"


def test_last_use_is_written_at_most_once_a_minute(app, tenant):
    key, _ = api_keys.issue(tenant, "SIEM")
    api_keys.note_use(key)
    first = key_row(key.id).last_used_at
    assert first is not None
    api_keys.note_use(key_row(key.id))
    assert key_row(key.id).last_used_at == first
    stale = key_row(key.id)
    stale.last_used_at = first - timedelta(minutes=2)
    db.session.commit()
    api_keys.note_use(stale)
    assert key_row(key.id).last_used_at > first - timedelta(minutes=2)


def test_find_takes_only_api_keys_of_this_tenant(app, tenant):
    key, token = api_keys.issue(tenant, "SIEM")
    other = tenants.create_tenant("acme")
    assert api_keys.find(tenant, token).id == key.id
    assert api_keys.find(other, token) is None
    assert api_keys.find(tenant, token[:-1]) is None
    assert api_keys.find(tenant, "") is None
    # A SCIM-shaped token is never looked up, even if its digest were stored as a key's.
    scim_like = "ms_scim_" + token.removeprefix("ms_api_")
    key.token_hash = tokens.digest(scim_like)
    db.session.commit()
    assert api_keys.find(tenant, scim_like) is None
