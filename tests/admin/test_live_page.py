# ruff: noqa: F811 - the fixtures imported from test_credentials are redefined as parameters, as pytest means
"""The live credential page at scale: rollups in step with the log, the histogram over time, polling,
multi-operation PATCHes, session expiry while polling, and a request's detail view (R11)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select

from models import ScimCredential, ScimRequest, ScimRequestRollup, db, utcnow
from services import audit, credentials, histogram, rollups, tenants
from tests.admin.test_credentials import BASE, HX, OKTA, credential, logged  # noqa: F401 - fixture
from tests.conftest import statements
from tests.helpers import PATCH_OP


def _record(credential: ScimCredential, status: int, counted: bool = False, operation: str | None = None) -> None:
    audit.record(
        audit.RequestRecord(
            tenant_id=credential.tenant_id, credential_id=credential.id, method="GET", path="/scim/v2/Users",
            status=status, duration_ms=1.0, ip="192.0.2.9", user_agent=OKTA, operation=operation,
            failure="too_many_failures" if counted else None, counted=counted,
        )
    )  # fmt: skip


def _rollup_total(credential_id: int, span: int) -> int:
    return db.session.scalar(
        select(func.coalesce(func.sum(ScimRequestRollup.count), 0)).where(
            ScimRequestRollup.credential_id == credential_id, ScimRequestRollup.span_minutes == span
        )
    )


def _log_total(credential_id: int) -> int:
    return db.session.scalar(
        select(func.coalesce(func.sum(ScimRequest.count), 0)).where(ScimRequest.credential_id == credential_id)
    )


def test_rollups_equal_the_log_including_counted_refusals_and_after_prune(credential):
    _record(credential, 200, operation="users.searched")
    _record(credential, 404)
    for _ in range(5):
        _record(credential, 429, counted=True)  # one log row of count 5
    _record(credential, 503)
    db.session.expire_all()
    assert _log_total(credential.id) == 8
    assert _rollup_total(credential.id, rollups.HOUR) == _rollup_total(credential.id, rollups.MINUTE) == 8
    since = utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    assert rollups.counts_for([credential.id], since)[credential.id] == {"2xx": 1, "4xx": 6, "5xx": 1}

    for days in (3, 4, 4):
        logged(credential, 200, ago=timedelta(days=days, minutes=17))
    assert _log_total(credential.id) == _rollup_total(credential.id, rollups.HOUR) == 11
    audit.prune(utcnow() - timedelta(days=2, minutes=30))
    db.session.expire_all()
    assert _log_total(credential.id) == _rollup_total(credential.id, rollups.HOUR) == 8


def test_histogram_buckets_per_minute_hour_and_four_hours(credential):
    now = datetime(2026, 12, 3, 10, 30, 20)
    for ago, status in [(timedelta(0), 200), (timedelta(seconds=30), 404), (timedelta(minutes=5), 500),
                        (timedelta(minutes=61), 200), (timedelta(hours=5), 201), (timedelta(days=2), 200),
                        (timedelta(days=8), 200)]:  # fmt: skip
        logged(credential, status, at=now - ago)

    hour = histogram.series(credential.id, "hour", now)
    assert len(hour.bars) == 60 and hour.bars[-1].start == datetime(2026, 12, 3, 10, 30)
    assert hour.bars[-1].counts == {"2xx": 1, "4xx": 0, "5xx": 0}  # 10:30:20
    assert hour.bars[-2].counts == {"2xx": 0, "4xx": 1, "5xx": 0}  # 10:29:50, a minute's bar back
    assert hour.totals == {"2xx": 1, "4xx": 1, "5xx": 1}

    day = histogram.series(credential.id, "day", now)
    assert len(day.bars) == 24 and day.bars[-1].start == datetime(2026, 12, 3, 10)
    assert day.totals == {"2xx": 3, "4xx": 1, "5xx": 1}
    assert day.bars[-2].counts["2xx"] == 1  # 09:29:20

    week = histogram.series(credential.id, "week", now)
    assert len(week.bars) == 42 and week.bars[-1].end == datetime(2026, 12, 3, 11)
    assert week.totals == {"2xx": 4, "4xx": 1, "5xx": 1}  # the 8-day-old request is outside
    tall = max(week.bars, key=lambda bar: bar.total)
    assert [key for key, _y, _h in tall.rects] == ["2xx", "4xx", "5xx"] and tall.rects[-1][1] == 0


def test_fragments_run_as_many_statements_at_any_log_size(admin_client, credential):
    urls = [BASE, f"{BASE}/{credential.id}", f"{BASE}/{credential.id}/checklist", f"{BASE}/{credential.id}/requests"]
    urls += [f"{BASE}/{credential.id}/histogram?window={w}" for w in ("hour", "day", "week")]

    def counts() -> list[int]:
        found = []
        for url in urls:
            with statements() as seen:
                assert admin_client.get(url, headers=HX).status_code == 200
            found.append(len(seen))
        return found

    logged(credential, 200, operation="users.searched")
    small = counts()
    for i in range(120):
        logged(credential, 200 if i % 3 else 404, operation="user.created", ago=timedelta(minutes=i * 7))
    assert counts() == small


def test_polling_backs_off_for_revoked_or_idle_credentials_and_stops_when_complete(admin_client, tenant, credential):
    logged(credential, 200, operation="users.searched")
    html = admin_client.get(f"{BASE}/{credential.id}").get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in html and 'hx-trigger="every 3s"' in html and "every 30s" not in html

    idle = credentials.issue(tenant, "Idle")[0]
    logged(idle, 200, ago=timedelta(hours=2))
    html = admin_client.get(f"{BASE}/{idle.id}").get_data(as_text=True)
    assert "every 2s" not in html and "every 3s" not in html and html.count('hx-trigger="every 30s"') == 3
    assert "refreshed every 30 s while this credential is idle" in html

    credentials.revoke(credential)
    # Just revoked: the admin watches the IdP's next calls being refused, at full rate for a short while.
    html = admin_client.get(f"{BASE}/{credential.id}/histogram", headers=HX).get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in html and "every 30s" not in html
    revoked = db.session.get(ScimCredential, credential.id)
    revoked.revoked_at = utcnow() - timedelta(minutes=3)
    db.session.commit()
    html = admin_client.get(f"{BASE}/{credential.id}/histogram", headers=HX).get_data(as_text=True)
    assert 'hx-trigger="every 30s"' in html and "while this credential is revoked" in html

    for op in ("user.created", "user.updated", "user.deactivated", "group.created", "group.members_changed"):
        logged(idle, 200, operation=op)
    html = admin_client.get(f"{BASE}/{idle.id}/checklist", headers=HX).get_data(as_text=True)
    assert 'data-complete="true"' in html and "hx-get" not in html and "hx-trigger" not in html


def test_a_patch_that_reactivates_and_renames_ticks_first_profile_update(admin_client, scim, tenant):
    created = scim.post("/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                   "userName": "ada@example.com", "name": {"givenName": "Ada"}}).get_json()  # fmt: skip
    off = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}
    assert scim.patch(f"/Users/{created['id']}", off).status_code == 200
    both = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "value": {"active": True, "name.givenName": "Augusta"}}],
    }
    assert scim.patch(f"/Users/{created['id']}", both).status_code == 200
    db.session.expire_all()
    last = db.session.scalars(select(ScimRequest).order_by(ScimRequest.id.desc())).first()
    assert last.operation.split() == ["user.reactivated", "user.updated"]
    credential = db.session.get(ScimCredential, last.credential_id)
    html = admin_client.get(f"{BASE}/{credential.id}/checklist", headers=HX).get_data(as_text=True)
    assert re.search(r'data-step="user_updated" data-done="true"', html)
    rows = admin_client.get(f"{BASE}/{credential.id}/requests", headers=HX).get_data(as_text=True)
    assert "user reactivated, user updated" in rows


def test_an_expired_session_while_polling_returns_to_the_page_not_the_fragment(client, tenant, credential):
    page = f"http://localhost{BASE}/{credential.id}?window=day"
    response = client.get(f"{BASE}/{credential.id}/histogram?window=day", headers={**HX, "HX-Current-URL": page})
    assert response.status_code == 204
    target = urlsplit(response.headers["HX-Redirect"])
    assert target.path == "/admin/login"
    assert parse_qs(target.query)["next"] == [f"{BASE}/{credential.id}?window=day"]
    # Another site's address is never a target; the Referer serves when htmx sends no current URL.
    foreign = client.get(f"{BASE}/{credential.id}/requests", headers={**HX, "HX-Current-URL": "https://evil.example/x"})
    assert "next" not in parse_qs(urlsplit(foreign.headers["HX-Redirect"]).query)
    referred = client.get(f"{BASE}/{credential.id}/checklist", headers={**HX, "Referer": page})
    assert parse_qs(urlsplit(referred.headers["HX-Redirect"]).query)["next"] == [f"{BASE}/{credential.id}?window=day"]


def test_a_request_detail_shows_fields_hint_the_named_user_and_reason(admin_client, scim, tenant, credential):
    created = scim.post("/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                   "userName": "grace@example.com"}).get_json()  # fmt: skip
    row = logged(credential, 404, failure="not_found", path=f"/scim/v2/Users/{created['id']}", method="PATCH")
    html = admin_client.get(f"{BASE}/{credential.id}/requests").get_data(as_text=True)
    assert f'href="{BASE}/{credential.id}/requests/{row.id}"' in html
    detail = admin_client.get(f"{BASE}/{credential.id}/requests/{row.id}").get_data(as_text=True)
    assert 'data-field="status">404' in detail and "192.0.2.7" in detail and OKTA in detail
    assert 'id="request-hint"' in detail and "No such user or group for SCIM" in detail
    assert 'href="/admin/users?q=grace@example.com"' in detail
    other = tenants.create_tenant("other")
    theirs = credentials.issue(other, "Theirs")[0]
    their_row = logged(theirs, 200)
    assert admin_client.get(f"{BASE}/{theirs.id}/requests/{their_row.id}").status_code == 404
    assert admin_client.get(f"{BASE}/{credential.id}/requests/{their_row.id}").status_code == 404


def test_filter_failures_record_our_attribute_name_never_the_request_text(admin_client, scim):
    assert scim.get('/Users?filter=emails.secretsub eq "x"').status_code == 400
    assert scim.get('/Users?filter=ada_lovelace_custom eq "x"').status_code == 400
    assert scim.get('/Groups?filter=userName eq "x"').status_code == 400
    db.session.expire_all()
    reasons = db.session.scalars(select(ScimRequest.reason).order_by(ScimRequest.id)).all()
    assert reasons[-3:] == [
        "filter_attribute_unknown:emails",
        "filter_attribute_unknown",
        "filter_attribute_unknown:userName",
    ]
    row = db.session.scalars(select(ScimRequest).order_by(ScimRequest.id.desc())).first()
    detail = admin_client.get(f"{BASE}/{row.credential_id}/requests/{row.id}").get_data(as_text=True)
    assert "The filter names an attribute this service does not know: userName." in detail
