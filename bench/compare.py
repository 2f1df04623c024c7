"""Our SCIM hot path beside a plain CRUD app and the scim2-server package, in one run, under one gunicorn setup.

Run: .venv/bin/python bench/compare.py [--database-url postgresql://postgres@127.0.0.1:5432/test]
     [--requests 2000] [--rounds 4] [--clients 8] [--users 1000] [--only ours,crud,peer]

Each server runs under gunicorn with 2 gthread workers x 4 threads on 127.0.0.1, all of them at once. The same
client (8 threads, keep-alive connections) drives five phases; at each phase the servers take turns, `--rounds`
times, so the machine's load falls on all of them alike. Server CPU per request is read from /proc (user +
system time of the gunicorn processes), which is steadier than wall time on a shared machine.
The peer (`pip install scim2-server`) is skipped when it is not installed. The rate limit is off for
our app: this measures the app, not the limiter.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from servers import ROOT, Gunicorn, fresh_database  # noqa: E402

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
PHASES = ("GET /Users/{id}", "filter userName eq", "POST /Users", "PATCH active", "GET /Users?count=100")


def user_document(name: str) -> dict:
    return {
        "schemas": [USER],
        "userName": name,
        "name": {"givenName": "Bench", "familyName": name.split("@")[0]},
        "emails": [{"value": name, "type": "work", "primary": True}],
        "displayName": f"Bench {name}",
        "active": True,
    }


def phase_request(phase: str, seeded: list[tuple[str, str]], counter) -> tuple[str, str, dict | None]:
    """Return (method, path, body) for one request of a phase."""
    scim_id, user_name = seeded[next(counter) % len(seeded)]
    if phase == PHASES[0]:
        return "GET", f"/scim/v2/Users/{scim_id}", None
    if phase == PHASES[1]:
        return "GET", f"/scim/v2/Users?filter=userName%20eq%20%22{user_name}%22", None
    if phase == PHASES[2]:
        return "POST", "/scim/v2/Users", user_document(f"new-{uuid.uuid4().hex[:12]}@example.com")
    if phase == PHASES[3]:
        active = next(counter) % 2 == 0
        return (
            "PATCH",
            f"/scim/v2/Users/{scim_id}",
            {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": active}}]},
        )
    return "GET", "/scim/v2/Users?count=100", None


def drive(server: Gunicorn, phase: str, seeded, requests: int, clients: int) -> dict:
    """Send `requests` requests of one phase from `clients` threads; return throughput and server CPU per request."""
    import itertools

    counter = itertools.count()
    lock = threading.Lock()
    statuses: dict[int, int] = {}
    per_client = requests // clients

    def client() -> None:
        connection = server.connection()
        for _ in range(per_client):
            with lock:
                method, path, body = phase_request(phase, seeded, counter)
            status = server.send(connection, method, path, body)[0]
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
        connection.close()

    cpu_before = server.cpu_seconds()
    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    sent = per_client * clients
    cpu = server.cpu_seconds() - cpu_before
    return {"rps": sent / elapsed, "cpu_ms": cpu / sent * 1000, "statuses": statuses, "sent": sent, "elapsed": elapsed}


def seed_over_http(server: Gunicorn, users: int) -> list[tuple[str, str]]:
    connection = server.connection()
    seeded = []
    for i in range(users):
        name = f"member{i}@example.com"
        status, body = server.send(connection, "POST", "/scim/v2/Users", user_document(name))
        if status != 201:
            raise SystemExit(f"{server.name}: seeding answered {status}: {body[:200]!r}")
        seeded.append((json.loads(body)["id"], name))
    connection.close()
    return seeded


def ours(database_url: str, work: Path) -> Gunicorn:
    server = Gunicorn(
        "ours",
        "app:create_app()",
        cwd=ROOT,
        env={"DATABASE_URL": database_url, "INSTANCE_PATH": str(work / "instance"), "MOBIEUS_SCIM_RATE_LIMIT": ""},
    )
    server.flask("db", "upgrade")
    server.flask("tenants", "create", "default")
    server.token = server.flask("scim", "issue", "--tenant", "default", "--name", "bench").strip().splitlines()[-1]
    return server


def crud(database_url: str, work: Path) -> Gunicorn:
    server = Gunicorn(
        "crud", "baselines.crud_app:create_app()", cwd=ROOT / "bench", env={"BASELINE_DATABASE_URL": database_url}
    )
    server.python(
        "from baselines.crud_app import create_app, db\napp = create_app()\nwith app.app_context(): db.create_all()"
    )
    return server


def peer(work: Path, users: int) -> Gunicorn:
    seed = work / "peer-seed.json"
    seed.write_text(json.dumps([user_document(f"member{i}@example.com") for i in range(users)]))
    return Gunicorn(
        "peer", "baselines.peer_app:create_app()", cwd=ROOT / "bench", env={"PEER_SEED": str(seed)}, preload=True
    )


def peer_ids(server: Gunicorn) -> list[tuple[str, str]]:
    connection = server.connection()
    seeded, start = [], 1
    while True:
        status, body = server.send(connection, "GET", f"/scim/v2/Users?startIndex={start}&count=100", None)
        page = json.loads(body)["Resources"]
        seeded += [(resource["id"], resource["userName"]) for resource in page]
        if not page:
            return seeded
        start += len(page)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL server URL; a fresh database per app is made and dropped")
    parser.add_argument("--requests", type=int, default=2000, help="per phase and app, over all rounds")
    parser.add_argument("--rounds", type=int, default=4, help="turns the apps take at each phase")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--only", default="ours,crud,peer")
    args = parser.parse_args()
    wanted = args.only.split(",")
    if "peer" in wanted and importlib.util.find_spec("scim2_server") is None:
        print("scim2-server is not installed: the peer is skipped (pip install scim2-server)")
        wanted.remove("peer")

    with tempfile.TemporaryDirectory() as folder, ExitStack() as running:
        work = Path(folder)
        servers: dict[str, tuple[Gunicorn, list[tuple[str, str]]]] = {}
        for name in wanted:
            database_url = running.enter_context(fresh_database(args.database_url, work, name))
            server = start(name, database_url, work, args.users)
            running.enter_context(server.running())
            servers[name] = (server, peer_ids(server) if name == "peer" else seed_over_http(server, args.users))
        results = take_turns(servers, args)
        for name, phases in results.items():
            for phase, figures in phases.items():
                rate, cpu = figures["rps"], figures["cpu_ms"]
                print(f"{name:5} {phase:24} {rate:8.0f} req/s  {cpu:6.2f} ms CPU/req  {figures['statuses']}")
    report(results, args)


def start(name: str, database_url: str, work: Path, users: int) -> Gunicorn:
    """Prepare one of the compared apps (not yet running)."""
    if name == "ours":
        return ours(database_url, work)
    if name == "crud":
        return crud(database_url, work)
    return peer(work, users)


def take_turns(servers: dict[str, tuple[Gunicorn, list]], args) -> dict[str, dict[str, dict]]:
    """Drive every phase on all the apps, which run side by side and take turns in rounds.

    A change in the machine's load during a phase then falls on every app alike, not on whichever ran then:
    on a shared machine that moved one app's figure by a third from one run to the next.
    """
    results: dict[str, dict[str, dict]] = {name: {} for name in servers}
    share = max(args.clients, args.requests // args.rounds)
    for phase in PHASES:
        turns: dict[str, list[dict]] = {name: [] for name in servers}
        for _ in range(args.rounds):
            for name, (server, seeded) in servers.items():
                turns[name].append(drive(server, phase, seeded, share, args.clients))
        for name, taken in turns.items():
            sent = sum(t["sent"] for t in taken)
            statuses: dict[int, int] = {}
            for t in taken:
                for status, count in t["statuses"].items():
                    statuses[status] = statuses.get(status, 0) + count
            results[name][phase] = {
                "rps": sent / sum(t["elapsed"] for t in taken),
                "cpu_ms": sum(t["cpu_ms"] * t["sent"] for t in taken) / sent,
                "statuses": statuses,
            }
    return results


def report(results: dict, args) -> None:
    """Print one Markdown table with the ratios the targets are stated in."""
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"\n{database}, {args.clients} clients, {args.requests} requests per phase, {args.users} users seeded")
    print("| phase | ours: CPU/req | plain CRUD | peer | ours ÷ CRUD (CPU) | our throughput ÷ peer's |")
    print("|---|---|---|---|---|---|")
    for phase in PHASES:
        ours_, crud_, peer_ = (results.get(name, {}).get(phase) for name in ("ours", "crud", "peer"))
        cells = [f"{r['cpu_ms']:.2f} ms" if r else "-" for r in (ours_, crud_, peer_)]
        over_crud = f"{ours_['cpu_ms'] / crud_['cpu_ms']:.2f}×" if ours_ and crud_ else "-"
        over_peer = f"{ours_['rps'] / peer_['rps']:.2f}×" if ours_ and peer_ else "-"
        print(f"| {phase} | {' | '.join(cells)} | {over_crud} | {over_peer} |")


if __name__ == "__main__":
    main()
