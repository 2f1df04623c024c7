"""A credential's request log in the dashboard: older pages through all history, filters, CSV, retention."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest

from models import ScimRequest, db, utcnow
from services import api_keys, credentials, tenants
from services.request_log_export import COLUMNS
from tests.api.conftest import ApiClient

BASE = "/admin/learn/scim-credentials"
HX = {"HX-Request": "true"}


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def credential(tenant):
    return credentials.issue(tenant, "Okta production", "okta")[0]


@pytest.fixture
def history(tenant, credential) -> list[int]:
    """60 requests over 60 hours, oldest first, mixing statuses and methods."""
    start = utcnow() - timedelta(days=3)
    rows = [
        ScimRequest(
            tenant_id=tenant.id,
            credential_id=credential.id,
            at=start + timedelta(hours=i),
            method=("GET", "POST", "PATCH", "DELETE")[i % 4],
            path=f"/scim/v2/Users/u-{i}",
            status=(200, 201, 404, 500)[i % 4] if i % 5 else 401,
            duration_ms=1.5,
            ip="192.0.2.1",
            user_agent="Okta SCIM Client 1.0.0",
        )
        for i in range(60)
    ]
    db.session.add_all(rows)
    db.session.commit()
    return [row.id for row in rows]


def shown(html: str) -> list[int]:
    return [int(n) for n in re.findall(r"/scim/v2/Users/u-(\d+)</code>", html)]


def older_link(html: str) -> str | None:
    match = re.search(r'<a class="btn btn-small" rel="next" href="([^"]+)">Older</a>', html)
    return match.group(1).replace("&amp;", "&") if match else None


def test_older_pages_back_through_all_history(admin_client, credential, history):
    url, seen, pages = f"{BASE}/{credential.id}", [], 0
    while url:
        html = text(admin_client.get(url))
        seen.extend(shown(html))
        pages += 1
        if pages > 1:
            root = re.search(r'<div id="request-log"[^>]*>', html).group(0)
            assert "hx-trigger" not in root  # an older page holds still
            assert ">Newest</a>" in html
        url = older_link(html)
    assert seen == list(range(59, -1, -1)) and pages == 3
    assert "The oldest kept request is shown." in html


def test_the_newest_page_stays_live_and_keeps_its_filters_when_polled(admin_client, credential, history):
    html = text(admin_client.get(f"{BASE}/{credential.id}?status=4xx&method=PATCH"))
    root = re.search(r'<div id="request-log"[^>]*>', html, re.S).group(0)
    assert re.search(r'hx-trigger="every \d+s"', root)  # polled (slowly: the rows are old, the credential idle)
    assert f"{BASE}/{credential.id}/requests?status=4xx&amp;method=PATCH" in root
    polled = text(admin_client.get(f"{BASE}/{credential.id}/requests?status=4xx&method=PATCH", headers=HX))
    assert polled.lstrip().startswith('<div id="request-log"')
    assert 'name="status"' not in polled  # the filter form is outside the polled widget
    assert shown(polled) == [i for i in range(59, -1, -1) if i % 4 == 2][:25]  # PATCH answers 404 or 401 here


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=2xx", lambda i: i % 5 and i % 4 in (0, 1)),
        ("status=4xx", lambda i: not i % 5 or i % 4 == 2),
        ("status=5xx", lambda i: i % 5 and i % 4 == 3),
        ("method=DELETE", lambda i: i % 4 == 3),
        ("status=4xx&method=POST", lambda i: i % 4 == 1 and not i % 5),
    ],
)
def test_filters_by_status_class_and_method(admin_client, credential, history, query, expected):
    seen, url = [], f"{BASE}/{credential.id}?{query}"
    while url:
        html = text(admin_client.get(url))
        seen.extend(shown(html))
        url = older_link(html)
    assert seen == [i for i in range(59, -1, -1) if expected(i)]
    assert f'href="{BASE}/{credential.id}/requests.csv?{query.replace("&", "&amp;")}"' in html


def test_filters_by_time_range_in_utc(admin_client, credential, history):
    start = db.session.get(ScimRequest, history[0]).at
    since = (start + timedelta(hours=10)).strftime("%Y-%m-%dT%H:%M")
    until = (start + timedelta(hours=14)).strftime("%Y-%m-%dT%H:%M")
    html = text(admin_client.get(f"{BASE}/{credential.id}?since={since}&until={until}"))
    assert shown(html) == [13, 12, 11, 10]  # minutes cut off: `since` falls just before row 10, `until` before 14
    assert f'value="{since}"' in html and "No requests match" not in html
    empty = text(admin_client.get(f"{BASE}/{credential.id}?since=2001-01-01T00:00&until=2001-01-02T00:00"))
    assert "No requests match these filters." in empty


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=3xx", "Not a valid choice"),
        ("method=TRACE", "Not a valid choice"),
        ("since=yesterday", "Not a valid datetime value"),
        ("since=2026-01-02T00:00&until=2026-01-01T00:00", "Choose a time after"),
    ],
)
def test_a_bad_filter_is_a_form_error_not_a_500(admin_client, credential, history, query, message):
    response = admin_client.get(f"{BASE}/{credential.id}?{query}")
    assert response.status_code == 200
    assert message in text(response) and "not applied until they are fixed" in text(response)
    assert len(shown(text(response))) == 25
    csv_response = admin_client.get(f"{BASE}/{credential.id}/requests.csv?{query}")
    assert csv_response.status_code == 400 and csv_response.mimetype == "text/plain"


def test_a_bad_page_cursor_is_ignored(admin_client, credential, history):
    for before in ("abc", "", "-5"):
        assert admin_client.get(f"{BASE}/{credential.id}?before={before}").status_code == 200


def test_the_page_says_how_long_history_is_kept(admin_client, credential, app, monkeypatch):
    assert "History is kept for 90 days" in text(admin_client.get(f"{BASE}/{credential.id}"))
    monkeypatch.setitem(app.config, "REQUEST_LOG_DAYS", 30)
    assert "History is kept for 30 days" in text(admin_client.get(f"{BASE}/{credential.id}"))


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    lines = list(csv.reader(io.StringIO(text(response), newline="")))
    assert tuple(lines[0]) == COLUMNS
    return lines[1:]


@pytest.mark.parametrize("query", ["", "status=4xx", "method=PATCH", "status=5xx&method=DELETE&since={since}"])
def test_download_csv_gives_the_rows_the_api_gives(admin_client, client, tenant, credential, history, query):
    since = (db.session.get(ScimRequest, history[20]).at).strftime("%Y-%m-%dT%H:%M")
    query = query.format(since=since)
    response = admin_client.get(f"{BASE}/{credential.id}/requests.csv?{query}")
    assert re.fullmatch(
        r'attachment; filename="scim-requests-okta-\d{8}-\d{4}\.csv"', response.headers["Content-Disposition"]
    )
    rows = read_csv(response)
    assert rows
    api_query = query.replace(since, since + ":00Z") if since in query else query
    _, token = api_keys.issue(tenant, "compare")
    from_api = ApiClient(client, token).get(
        f"/scim-credentials/{credential.id}/requests?{api_query}", headers={"Accept": "text/csv"}
    )
    assert rows == read_csv(from_api)
    assert [int(r[0]) for r in rows] == sorted(int(r[0]) for r in rows)  # oldest first, as the API


def test_download_csv_needs_a_session_and_scim(client, admin_client, tenant, credential, history):
    url = f"{BASE}/{credential.id}/requests.csv"
    other = credentials.issue(tenants.create_tenant("acme"), "Acme")[0]
    assert admin_client.get(f"{BASE}/{other.id}/requests.csv").status_code == 404
    tenants.set_scim(tenant, False)
    assert admin_client.get(url).status_code == 404
    tenants.set_scim(tenant, True)
    admin_client.post("/admin/logout")
    assert client.get(url).location.startswith("/admin/login")
