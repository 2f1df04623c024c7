"""SCIM GET throughput while `flask scim prune-log` deletes most of a 1,000,000-row request log.

Run: .venv/bin/python bench/bench_prune.py [--rows 1000000] [--database-url postgresql://postgres@127.0.0.1:5432/x]
     [--clients 4] [--seconds 20] [--days 10]
The app runs under gunicorn (bench/servers.py: 2 gthread workers x 4 threads) on a fresh SQLite file or a new
PostgreSQL database. The log is bulk-filled (bench/bench_request_log.py's filler, COPY on PostgreSQL) with
--rows rows spread over 100 days, so `prune-log --days 10` deletes about 90 % of them. --clients threads send
GET /Users/{id} and GET /Users?filter=userName eq on keep-alive connections (each one also writes its log row)
for --seconds, then while the prune runs, then for --seconds again. Prints requests/s of each period, the
ratio during/before and during/(the mean of before and after: the machine's other load moves both), and the
prune's wall time and CPU time (its own process: user + system).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from servers import BIN, ROOT, Gunicorn, fresh_database  # noqa: E402

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def fill_log(database_url: str, work: Path, rows: int) -> None:
    """Bulk-insert `rows` log rows of the default tenant's credential, spread over the last 100 days."""
    os.environ.setdefault("PYTHONPATH", str(ROOT))  # bench_request_log: time this checkout
    sys.path.insert(0, str(ROOT))
    import bench_request_log as log_bench
    from sqlalchemy import select

    from app import create_app
    from models import ScimCredential, Tenant, db

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench", "INSTANCE_PATH": str(work)})
    with app.app_context():
        tenant_id = db.session.scalar(select(Tenant.id))
        credential_ids = list(db.session.scalars(select(ScimCredential.id)))
        log_bench.fill(rows, tenant_id, credential_ids, [], days=100)
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE scim_requests")
        db.engine.dispose()


def seed(server: Gunicorn, users: int) -> list[tuple[str, str]]:
    connection = server.connection()
    seeded = []
    for i in range(users):
        name = f"member{i}@example.com"
        body = {"schemas": [USER], "userName": name, "emails": [{"value": name, "type": "work", "primary": True}]}
        status, answer = server.send(connection, "POST", "/scim/v2/Users", body)
        assert status == 201, answer[:200]
        seeded.append((json.loads(answer)["id"], name))
    connection.close()
    return seeded


class Load:
    """Client threads sending SCIM GETs until stopped; `done` holds the time each answer arrived."""

    def __init__(self, server: Gunicorn, seeded: list[tuple[str, str]], clients: int) -> None:
        self.server, self.seeded, self.clients = server, seeded, clients
        self.done: list[float] = []
        self.errors: dict[int, int] = {}
        self.stop = threading.Event()
        self.counter = itertools.count()
        self.threads = [threading.Thread(target=self._client) for _ in range(clients)]

    def _client(self) -> None:
        connection = self.server.connection()
        while not self.stop.is_set():
            n = next(self.counter)
            scim_id, name = self.seeded[n % len(self.seeded)]
            path = f"/scim/v2/Users/{scim_id}" if n % 2 else f"/scim/v2/Users?filter=userName%20eq%20%22{name}%22"
            status, _ = self.server.send(connection, "GET", path, None)
            if status == 200:
                self.done.append(time.monotonic())
            else:
                self.errors[status] = self.errors.get(status, 0) + 1
        connection.close()

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()

    def rate(self, start: float, end: float) -> float:
        return sum(start <= t < end for t in self.done) / (end - start)


def prune(server: Gunicorn, days: int) -> tuple[str, float, float]:
    """Run `flask scim prune-log`; return what it printed, its wall time and its CPU time (user + system)."""
    command = [str(BIN / "flask"), "--app", "app", "scim", "prune-log", "--days", str(days)]
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=server.cwd, env=server.env, stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - started
    output = process.stdout.read().strip()
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.returncode == 0, output
    return output, wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="a PostgreSQL server URL; a database is made on it (default: SQLite)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--days", type=int, default=10)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, fresh_database(args.database_url, Path(tmp), "prune") as url:
        work = Path(tmp)
        server = Gunicorn(
            "ours",
            "app:create_app()",
            cwd=ROOT,
            env={"DATABASE_URL": url, "INSTANCE_PATH": str(work / "instance"), "MOBIEUS_SCIM_RATE_LIMIT": ""},
        )
        server.flask("db", "upgrade")
        server.flask("tenants", "create", "default")
        server.token = server.flask("scim", "issue", "--tenant", "default", "--name", "bench").strip().splitlines()[-1]
        started = time.monotonic()
        fill_log(url, work, args.rows)
        print(f"{url.split(':')[0]}: {args.rows:,} log rows in {time.monotonic() - started:.0f} s", flush=True)
        with server.running():
            seeded = seed(server, 200)
            with Load(server, seeded, args.clients) as load:
                time.sleep(2)  # warm the workers
                before_start = time.monotonic()
                time.sleep(args.seconds)
                prune_start = time.monotonic()
                output, wall, cpu = prune(server, args.days)
                prune_end = time.monotonic()
                time.sleep(args.seconds)
                after_end = time.monotonic()
            before = load.rate(before_start, prune_start)
            during = load.rate(prune_start, prune_end)
            after = load.rate(prune_end, after_end)
        print(f"prune-log: {output}")
        print("| database | GET/s before | during prune | after | during ÷ before | during ÷ mean(before, after) "
              "| prune wall | prune CPU |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|")
        print(f"| {url.split(':')[0]} | {before:.0f} | {during:.0f} | {after:.0f} | {during / before:.0%} "
              f"| {during / ((before + after) / 2):.0%} | {wall:.1f} s | {cpu:.1f} s |")  # fmt: skip
        if load.errors:
            print(f"non-200 answers: {load.errors}")


if __name__ == "__main__":
    main()
