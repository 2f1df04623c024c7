"""Soak the SCIM API under gunicorn: 8 clients of mixed traffic, then check the request log row for row.

Run: .venv/bin/python bench/soak.py [--seconds 60] [--clients 8] [--workers 2]
         [--database-url postgresql://user@host/db [--kill-connections] [--kill-every 3]]

Without --database-url it uses a fresh SQLite file; with one, a fresh schema in that database
(dropped afterwards). gunicorn starts on a free 127.0.0.1 port with the project's gunicorn.conf.py,
after `flask db upgrade`, a super-admin (groups need an owner) and a credential made with the CLI.
--kill-connections ends every backend of the app with pg_terminate_backend every few seconds.
It prints requests, status counts, p50/p95 latency per operation, and checks that every answer was
SCIM JSON, that the request log holds exactly one row per request answered, and that gunicorn's log
has no "Error handling request" line and no query string. The exit status is 1 if a check fails.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import itertools
import json
import os
import secrets
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from soak_server import count_log_rows, fresh_database, gunicorn, killer, prepare

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass
class Tally:
    """Every answer the clients got: (operation, status, milliseconds), plus what went wrong."""

    answers: list[tuple[str, int, float]] = field(default_factory=list)
    not_scim: int = 0  # an answer that was not application/scim+json (HTML error pages)
    bare_5xx: int = 0  # a 5xx other than a 503 with Retry-After
    no_answer: list[str] = field(default_factory=list)  # no HTTP response at all
    lock: threading.Lock = field(default_factory=threading.Lock)


class Client:
    """One IdP connection to the server."""

    def __init__(self, port: int, token: str, tally: Tally) -> None:
        self.port, self.token, self.tally = port, token, tally

    def call(self, operation: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict | None]:
        headers = {"Authorization": f"Bearer {self.token}", "User-Agent": "mobieus-soak"}
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/scim+json"
        started = time.perf_counter()
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            connection.request(method, "/scim/v2" + path, payload, headers)
            response = connection.getresponse()
            raw = response.read()
            connection.close()
        except OSError as error:
            with self.tally.lock:
                self.tally.no_answer.append(f"{method} {operation}: {type(error).__name__}")
            return 0, None
        elapsed = (time.perf_counter() - started) * 1000
        scim = (response.getheader("Content-Type") or "").startswith("application/scim+json")
        with self.tally.lock:
            self.tally.answers.append((operation, response.status, elapsed))
            self.tally.not_scim += not scim
            self.tally.bare_5xx += response.status >= 500 and not (
                response.status == 503 and response.getheader("Retry-After")
            )
        return response.status, (json.loads(raw) if raw and scim else None)


def patch(*operations: dict) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def traffic(client: Client, number: int, deadline: float) -> None:
    """Mixed provisioning: users through their whole life, groups and their members, lists and filters."""
    call = client.call
    status, group = call("group.create", "POST", "/Groups", {"schemas": [GROUP], "displayName": f"Team {number}"})
    groups = f"/Groups/{group['id']}" if status == 201 else None
    members: list[str] = []
    for round_ in itertools.count():
        if time.monotonic() >= deadline:
            return
        name = f"soak{number}-{round_}@example.com"
        user = {"schemas": [USER], "userName": name, "name": {"givenName": "Soak", "familyName": str(round_)}}
        user["emails"] = [{"value": name, "type": "work", "primary": True}]
        status, created = call("user.create", "POST", "/Users", user)
        if status != 201:
            continue
        path = f"/Users/{created['id']}"
        call("user.get", "GET", path)
        call("user.filter", "GET", "/Users?filter=" + quote(f'userName eq "{name}"'))
        call("user.patch", "PATCH", path, patch({"op": "replace", "path": "displayName", "value": f"Soak {round_}"}))
        call("user.put", "PUT", path, {**user, "displayName": f"Soak {number}.{round_}"})
        if groups:
            add = {"op": "add", "path": "members", "value": [{"value": created["id"]}]}
            if call("group.add", "PATCH", groups, patch(add))[0] == 200:
                members.append(created["id"])
            call("group.get", "GET", f"{groups}?excludedAttributes=members")
            if round_ % 3 == 2 and members:
                gone = {"op": "remove", "path": f'members[value eq "{members.pop(0)}"]'}
                call("group.remove", "PATCH", groups, patch(gone))
        if round_ % 4 == 3:
            call("user.list", "GET", f"/Users?startIndex={1 + round_ % 50}&count=20")
        if round_ % 2:  # Okta deactivates before it deletes
            call("user.patch", "PATCH", path, patch({"op": "replace", "path": "active", "value": False}))
            call("user.delete", "DELETE", path)
        if round_ % 10 == 9:
            body = {"schemas": [GROUP], "displayName": f"Extra {number}.{round_}"}
            status, extra = call("group.create", "POST", "/Groups", body)
            if status == 201:
                call("group.put", "PUT", f"/Groups/{extra['id']}", {**body, "displayName": f"X {number}.{round_}"})
                call("group.delete", "DELETE", f"/Groups/{extra['id']}")


def warm_up(client: Client, server: subprocess.Popen, workers: int, seconds: float = 60) -> int:
    """Wait until the workers have loaded the app and answer; return how many requests that took.

    gunicorn listens before its workers have imported the app, so the first requests would time the boot.
    """
    answered = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("gunicorn exited at start; see its log")
        status, _ = client.call("warm-up", "GET", "/ServiceProviderConfig")
        answered += status != 0
        if status == 200 and answered >= 4 * workers:
            return answered
        time.sleep(0.05 if status == 200 else 0.2)
    raise SystemExit("gunicorn did not answer")


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def report(args, tally: Tally, rows: int, server_log: str, ended: list[int], elapsed: float) -> bool:
    """Print the figures and the checks; return whether every check held."""
    statuses = collections.Counter(status for _, status, _ in tally.answers)
    total = len(tally.answers)
    latencies = [ms for _, _, ms in tally.answers]
    print(f"requests      {total} in {elapsed:.0f} s ({total / elapsed:.0f}/s)")
    print("statuses      " + "  ".join(f"{status}: {n}" for status, n in sorted(statuses.items())))
    print(f"5xx           {sum(n for status, n in statuses.items() if status >= 500)}")
    print(f"latency       p50 {statistics.median(latencies):.1f} ms   p95 {percentile(latencies, 0.95):.1f} ms")
    by_operation = collections.defaultdict(list)
    for operation, _, ms in tally.answers:
        by_operation[operation].append(ms)
    for operation, samples in sorted(by_operation.items()):
        p50, p95 = statistics.median(samples), percentile(samples, 0.95)
        print(f"  {operation:<14} n={len(samples):<6} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms")
    if args.kill_connections:
        print(f"backends ended {sum(ended)} in {len(ended)} rounds (every {args.kill_every:g} s)")
    errors_handling = server_log.count("Error handling request")
    leaks = server_log.count("filter=") + server_log.count("?filter")
    lost = server_log.count("gave up on the row")
    checks = {
        f"every answer was SCIM JSON ({tally.not_scim} were not)": tally.not_scim == 0,
        f"every request got an answer ({len(tally.no_answer)} did not)": not tally.no_answer,
        f"every 5xx was a 503 with Retry-After ({tally.bare_5xx} were not)": tally.bare_5xx == 0,
        f"request log: {rows} rows for {total} requests (warm-up requests aside)": rows == total,
        f"gunicorn log: {errors_handling} 'Error handling request' lines": errors_handling == 0,
        f"gunicorn log: {leaks} query strings": leaks == 0,
        f"request-log rows given up: {lost}": lost == 0,
    }
    for check, held in checks.items():
        print(f"{'ok  ' if held else 'FAIL'}  {check}")
    return all(checks.values())


def drive(args, port: int, token: str, admin_url: str | None, name: str) -> tuple[Tally, list[int], float]:
    """Run the clients (and the connection killer) for args.seconds; return the tally, kills and duration."""
    tally, ended, stop = Tally(), [], threading.Event()
    killing = None
    if args.kill_connections:
        killing = threading.Thread(target=killer, args=(admin_url, name, args.kill_every, stop, ended))
        killing.start()
    started = time.monotonic()
    clients = [
        threading.Thread(target=traffic, args=(Client(port, token, tally), n, started + args.seconds))
        for n in range(args.clients)
    ]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    elapsed = time.monotonic() - started
    stop.set()
    if killing:
        killing.join()
    return tally, ended, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--database-url", help="PostgreSQL database to soak in a fresh schema (default: SQLite file)")
    parser.add_argument("--kill-connections", action="store_true", help="pg_terminate_backend the app's backends")
    parser.add_argument("--kill-every", type=float, default=3.0, help="seconds between rounds of --kill-connections")
    args = parser.parse_args()
    if args.kill_connections and not (args.database_url or "").startswith("postgres"):
        parser.error("--kill-connections needs --database-url postgresql://...")

    name = f"mobieus-soak-{secrets.token_hex(4)}"
    with (
        tempfile.TemporaryDirectory(prefix="mobieus-soak-") as tmp,
        fresh_database(args.database_url, tmp, name) as (
            database_url,
            admin_url,
        ),
    ):
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": tmp,
            "SECRET_KEY": secrets.token_urlsafe(32),
            "MOBIEUS_SCIM_RATE_LIMIT": "",  # measure the app, not the limiter
            "MOBIEUS_MAIL_OUTBOX_DIR": f"{tmp}/mail",
        }
        token = prepare(env)
        log_path = Path(tmp) / "gunicorn.log"
        with gunicorn(env, args.workers, log_path) as (server, port):
            warmed = warm_up(Client(port, token, Tally()), server, args.workers)
            kills = f", ending its backends every {args.kill_every:g} s" if args.kill_connections else ""
            kind = "PostgreSQL" if admin_url else "SQLite"
            print(f"soak: {kind}, {args.seconds:g} s, {args.clients} clients, {args.workers} workers{kills}")
            tally, ended, elapsed = drive(args, port, token, admin_url, name)
        held = report(args, tally, count_log_rows(database_url) - warmed, log_path.read_text(), ended, elapsed)
    raise SystemExit(0 if held else 1)


if __name__ == "__main__":
    main()
