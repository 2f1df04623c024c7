"""Connections ended under load (PostgreSQL): SCIM JSON only, no committed write answered as failed, all logged.

Six clients drive mixed SCIM traffic through a real threaded HTTP server while an operator's connection
ends every backend of the app every 150 ms with pg_terminate_backend.
"""

from __future__ import annotations

import http.client
import itertools
import json
import threading
import time
import traceback
from dataclasses import dataclass, field
from urllib.parse import quote

from sqlalchemy import func, select
from werkzeug.serving import make_server

from models import Cohort, CohortMember, ScimRequest, User, db
from tests.faults import admin_engine, named_app, require_postgresql, terminate_all
from tests.helpers import ERROR, GROUP, PATCH_OP, USER

CLIENTS = 6
SECONDS = 3.0
KILL_EVERY = 0.15


@dataclass
class Answer:
    method: str
    path: str
    status: int
    content_type: str
    retry_after: str | None
    body: dict | None


@dataclass
class Ledger:
    """What the clients were told, to compare with what the database holds afterwards."""

    answers: list[Answer] = field(default_factory=list)
    created: dict[str, bool] = field(default_factory=dict)  # userName -> answered 201
    display: dict[str, str | None] = field(default_factory=dict)  # user id -> last displayName answered 200
    unconfirmed: dict[str, set[str]] = field(default_factory=dict)  # user id -> displayNames answered 5xx
    deleted: dict[str, bool] = field(default_factory=dict)  # user id -> DELETE answered 204
    members: dict[str, set[str]] = field(default_factory=dict)  # group id -> user ids added with a 200
    refused: dict[str, set[str]] = field(default_factory=dict)  # group id -> user ids whose add answered 5xx
    crashes: list[str] = field(default_factory=list)  # a client that got no HTTP answer at all
    lock: threading.Lock = field(default_factory=threading.Lock)


class Client:
    """One IdP connection: a fresh HTTP connection per request, answers kept in the ledger."""

    def __init__(self, port: int, token: str, ledger: Ledger) -> None:
        self.port, self.token, self.ledger = port, token, ledger

    def call(self, method: str, path: str, body: dict | None = None) -> Answer:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Authorization": f"Bearer {self.token}", "Host": "localhost"}
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/scim+json"
        connection.request(method, "/scim/v2" + path, payload, headers)
        response = connection.getresponse()
        raw = response.read()
        connection.close()
        content_type = response.getheader("Content-Type") or ""
        parsed = None
        if raw and content_type.startswith("application/scim+json"):
            parsed = json.loads(raw)
        answer = Answer(method, path, response.status, content_type, response.getheader("Retry-After"), parsed)
        if raw and parsed is None:
            answer.body = {"raw": raw[:200].decode("utf-8", "replace")}
        with self.ledger.lock:
            self.ledger.answers.append(answer)
        return answer


def traffic(client: Client, number: int, stop: threading.Event, group_id: str) -> None:
    """Run one client's rounds; a request that gets no HTTP answer is noted, not lost in the thread."""
    try:
        rounds(client, number, stop, group_id)
    except Exception:  # noqa: BLE001 - reported by the test
        client.ledger.crashes.append(traceback.format_exc())


def rounds(client: Client, number: int, stop: threading.Event, group_id: str) -> None:
    """Create, read, filter, patch, put and delete users, and add them to a group, until told to stop."""
    ledger = client.ledger
    for round_ in itertools.count():
        if stop.is_set():
            return
        name = f"c{number}-{round_}@example.com"
        answer = client.call("POST", "/Users", {"schemas": [USER], "userName": name})
        ledger.created[name] = answer.status == 201
        if answer.status != 201:
            continue
        user_id = answer.body["id"]
        ledger.display[user_id] = None
        ledger.unconfirmed[user_id] = set()
        client.call("GET", f"/Users/{user_id}")
        client.call("GET", "/Users?filter=" + quote(f'userName eq "{name}"'))
        for step in range(2):
            marker = f"p{step}-{number}-{round_}"
            patch = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": marker}]}
            record_display(ledger, user_id, marker, client.call("PATCH", f"/Users/{user_id}", patch))
        marker = f"put-{number}-{round_}"
        put = {"schemas": [USER], "userName": name, "displayName": marker}
        record_display(ledger, user_id, marker, client.call("PUT", f"/Users/{user_id}", put))
        add = {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": user_id}]}]}
        added = client.call("PATCH", f"/Groups/{group_id}", add)
        with ledger.lock:
            if added.status == 200:
                ledger.members.setdefault(group_id, set()).add(user_id)
            elif added.status >= 500:
                ledger.refused.setdefault(group_id, set()).add(user_id)
        if round_ % 2:
            ledger.deleted[user_id] = client.call("DELETE", f"/Users/{user_id}").status == 204


def record_display(ledger: Ledger, user_id: str, marker: str, answer: Answer) -> None:
    if answer.status == 200:
        ledger.display[user_id] = marker
        ledger.unconfirmed[user_id].clear()  # an earlier 5xx write is overwritten either way
    elif answer.status >= 500:
        ledger.unconfirmed[user_id].add(marker)


def test_connections_ended_under_load(make_app, app, engine_options, database_url, tenant, super_admin, scim_token):
    require_postgresql(database_url)
    faulty, name = named_app(make_app, engine_options, TESTING=False)
    server = make_server("127.0.0.1", 0, faulty, threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    ledger = Ledger()
    try:
        setup = Client(server.server_port, scim_token, Ledger())
        group = setup.call("POST", "/Groups", {"schemas": [GROUP], "displayName": "Under load"})
        assert group.status == 201, group
        stop = threading.Event()
        clients = [
            threading.Thread(
                target=traffic, args=(Client(server.server_port, scim_token, ledger), n, stop, group.body["id"])
            )
            for n in range(CLIENTS)
        ]
        for thread in clients:
            thread.start()
        ended = 0
        with admin_engine(database_url) as admin:
            deadline = time.monotonic() + SECONDS
            while time.monotonic() < deadline:
                time.sleep(KILL_EVERY)
                ended += terminate_all(admin, name)
        stop.set()
        for thread in clients:
            thread.join(timeout=60)
        requests_answered = len(ledger.answers) + len(setup.ledger.answers)
    finally:
        server.shutdown()
        serving.join(timeout=10)
    assert ended >= 10, "the backends were not ended often enough to test anything"
    assert not ledger.crashes, ledger.crashes[0]

    # Clients only ever get SCIM JSON; a failure is a 503 with Retry-After, never an HTML page.
    for answer in ledger.answers:
        assert answer.content_type.startswith("application/scim+json"), answer
        if answer.status >= 500:
            assert answer.status == 503 and answer.retry_after, answer
            assert answer.body["schemas"] == [ERROR], answer
    assert any(a.status < 300 for a in ledger.answers)

    # No committed write was answered as a failure.
    db.session.expire_all()
    users = {u.user_name: u for u in db.session.scalars(select(User).where(User.tenant_id == tenant.id))}
    for user_name, answered_201 in ledger.created.items():
        assert (user_name in users) == answered_201, f"POST of {user_name} answered {answered_201=}"
    by_id = {u.scim_id: u for u in users.values()}
    for user_id, display in ledger.display.items():
        stored = by_id[user_id].display_name
        # A 5xx write that was applied anyway would show here, unless a later 200 overwrote it.
        assert stored == display, f"user {user_id} holds {stored!r}; the last write answered 200 set {display!r}"

    for user_id, answered_204 in ledger.deleted.items():
        assert (by_id[user_id].deprovisioned_at is not None) == answered_204, user_id
    cohort = db.session.scalar(select(Cohort).where(Cohort.scim_id == group.body["id"]))
    stored_members = set(
        db.session.scalars(
            select(User.scim_id)
            .join(CohortMember, CohortMember.user_id == User.id)
            .where(CohortMember.cohort_id == cohort.id)
        )
    )
    assert not stored_members & ledger.refused.get(cohort.scim_id, set()), "a membership answered 5xx was applied"
    kept = {u for u in ledger.members.get(cohort.scim_id, set()) if not ledger.deleted.get(u)}
    assert kept <= stored_members, "a membership answered 200 is missing"

    # Exactly one request-log row per request answered.
    rows = db.session.scalar(select(func.count()).select_from(ScimRequest))
    assert rows == requests_answered
