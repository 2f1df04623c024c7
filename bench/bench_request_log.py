"""Benchmark the request-log API at scale: keyset pages and the streamed CSV export, on SQLite or PostgreSQL.

Run: .venv/bin/python bench/bench_request_log.py [--rows 1000000] [--database sqlite|postgresql://…]
SQLite uses a temporary file; PostgreSQL a schema of its own in the given database, dropped afterwards.
Rows are bulk-inserted (COPY on PostgreSQL) with every index in place, spread over 90 days, with a
quarter as many again of two other tenants interleaved. Pages go through
the Flask test client with an API key, so each figure includes authentication, the settle-bound probe and
JSON encoding. Prints medians, the query plans of the page queries, and the CSV export's rows/s and peak
Python memory (tracemalloc) for a tenth of the log and for all of it: flat memory means the two peaks match.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, event, func, select, text

# This checkout ahead of the venv's install of the main tree; a PYTHONPATH given names the tree to time
# instead (bench/bench_dashboard.py times an older checkout so).
if not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import config  # noqa: E402
from api.schemas import encode_cursor  # noqa: E402
from app import create_app  # noqa: E402
from models import ScimRequest, db, utcnow  # noqa: E402
from services import api_keys, credentials, tenants  # noqa: E402

COLUMNS = ("tenant_id", "credential_id", "at", "method", "path", "status", "duration_ms", "ip", "user_agent",
           "operation", "failure")  # fmt: skip
# (weight, method, path kind, status, operation, failure): about 85 % 2xx, 12 % 4xx, 3 % 5xx.
TRAFFIC = [
    (40, "GET", "Users", 200, "users.searched", None),
    (12, "POST", "Users", 201, "user.created", None),
    (18, "PATCH", "User", 200, "user.updated", None),
    (6, "PATCH", "User", 200, "user.deactivated", None),
    (5, "PATCH", "Group", 200, "group.members_changed", None),
    (4, "DELETE", "User", 204, "user.deleted", None),
    (6, "GET", "User", 404, None, "not_found"),
    (3, "POST", "Users", 409, None, "uniqueness"),
    (3, "GET", "Users", 401, None, "invalid_token"),
    (2, "PATCH", "User", 500, None, "server_error"),
    (1, "POST", "Groups", 503, None, "no_super_admin"),
]


def rows(count: int, tenant_id: int, credential_ids: list[int], others: list[int], days: int = 90, seed: int = 7):
    """Yield `count` log rows of the tenant, and a quarter as many of `others`, interleaved in time order.

    The rows span the last `days` days, ids following time as in production; the other tenants make the
    tenant condition select, as it must in a shared database. Another `seed` gives other rows.
    """
    rng = random.Random(seed)
    weights = [t[0] for t in TRAFFIC]
    total = count + (count // 4 if others else 0)
    start = utcnow() - timedelta(days=days)
    step = timedelta(days=days) / total
    for i in range(total):
        _, method, kind, status, operation, failure = rng.choices(TRAFFIC, weights)[0]
        path = {"Users": "/scim/v2/Users", "Groups": "/scim/v2/Groups"}.get(kind) or (
            f"/scim/v2/{kind}s/{uuid.UUID(int=rng.getrandbits(128), version=4)}"
        )
        tenant, credential = tenant_id, credential_ids[i % len(credential_ids)]
        if others and i % 5 == 4:
            tenant, credential = others[i % len(others)], None
        yield (tenant, credential if status != 401 else None, start + step * i, method, path, status,
               round(rng.uniform(1, 40), 2), "192.0.2.10", "Okta SCIM Client 1.0.0", operation, failure)  # fmt: skip


def fill(count: int, tenant_id: int, credential_ids: list[int], others: list[int], **spread) -> None:
    """Bulk-insert the rows (`spread`: `days` and `seed` of `rows()`): COPY on PostgreSQL, executemany on SQLite."""
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if db.engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY scim_requests ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows(count, tenant_id, credential_ids, others, **spread):
                    copy.write_row(row)
        else:
            # Our own column names; the values go as parameters.
            sql = f"INSERT INTO scim_requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"  # noqa: S608
            batch = []
            for row in rows(count, tenant_id, credential_ids, others, **spread):
                batch.append((*row[:2], row[2].isoformat(sep=" ", timespec="microseconds"), *row[3:]))
                if len(batch) == 50_000:
                    cursor.executemany(sql, batch)
                    batch.clear()
            cursor.executemany(sql, batch)
        raw.commit()
    finally:
        raw.close()
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as connection:
            connection.execute(text("ANALYZE scim_requests"))  # what autovacuum would soon do


@contextmanager
def captured():
    """Collect the SQL statements (and parameters) the app runs."""
    seen: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, *_args):
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def plan(statement: str, parameters) -> str:
    """Return the database's plan for one captured statement."""
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if db.engine.dialect.name == "postgresql":
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF) " + statement, parameters)
            return "\n".join("    " + line[0] for line in cursor.fetchall())
        cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        return "\n".join(f"    {line[-1]}" for line in cursor.fetchall())
    finally:
        raw.close()


def timed(client, url: str, headers: dict, runs: int) -> tuple[list[float], int]:
    samples, count = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        body = response.get_json()
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.get_data(as_text=True)
        count = len(body["data"])
    return samples, count


def export(client, url: str, headers: dict, trace: bool) -> tuple[int, float, float]:
    """Stream one CSV export; return (rows, seconds, peak MiB of Python allocations or 0)."""
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    response = client.get(url, headers={**headers, "Accept": "text/csv"})
    lines = sum(chunk.count(b"\n") for chunk in response.response)
    seconds = time.perf_counter() - started
    peak = 0.0
    if trace:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    assert response.status_code == 200
    return lines - 1, seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database", default="sqlite", help="sqlite, or a postgresql:// URL (a schema is made in it)")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    with bench_app(args.database, "bench_request_log") as app:
        run(app, args)


@contextmanager
def bench_app(database: str, prefix: str, **extra):
    """Yield an app on a temporary SQLite file, or on a schema of its own in a PostgreSQL database (dropped after).

    `extra` settings are added to the app's.
    """
    with tempfile.TemporaryDirectory() as tmp:
        settings = {"SECRET_KEY": "bench", "RATELIMIT_ENABLED": False, "INSTANCE_PATH": tmp, **extra}
        schema = None
        if database == "sqlite":
            settings["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp}/bench.db"
        else:
            schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
            admin = create_engine(config.with_driver(database), isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f"CREATE SCHEMA {schema}"))
            settings["SQLALCHEMY_DATABASE_URI"] = database
            settings["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"options": f"-csearch_path={schema}"}}
        try:
            yield create_app(settings)
        finally:
            if schema:
                with admin.connect() as connection:
                    connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
                admin.dispose()


def run(app, args) -> None:
    with app.app_context():
        db.create_all()
        tenant, _ = tenants.ensure_default()
        credential_ids = [credentials.issue(tenant, f"IdP {i}")[0].id for i in range(3)]
        _, key = api_keys.issue(tenant, "bench")
        others = [tenants.create_tenant(f"other-{i}").id for i in range(2)]
        started = time.perf_counter()
        fill(args.rows, tenant.id, credential_ids, others)
        print(
            f"{db.engine.dialect.name}: inserted {args.rows:,} rows of the tenant and {args.rows // 4:,} of two others "
            f"in {time.perf_counter() - started:.0f} s"
        )
        mine = ScimRequest.tenant_id == tenant.id
        first, last = db.session.execute(select(func.min(ScimRequest.id), func.max(ScimRequest.id)).where(mine)).one()
        oldest = db.session.scalar(select(func.min(ScimRequest.at)).where(mine))
        month = oldest + timedelta(days=30)

        client = app.test_client()
        auth = {"Authorization": f"Bearer {key}"}
        deep = encode_cursor(first + int((last - first) * 0.9))
        since = (month - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        until = month.strftime("%Y-%m-%dT%H:%M:%SZ")
        cases = [
            ("page of 1,000 from the start", "/api/v1/scim-requests?limit=1000"),
            ("page of 1,000 deep in the history (cursor)", f"/api/v1/scim-requests?limit=1000&after={deep}"),
            ("page of 1,000, status=4xx", "/api/v1/scim-requests?limit=1000&status=4xx"),
            ("page of 1,000, status=5xx, deep", f"/api/v1/scim-requests?limit=1000&status=5xx&after={deep}"),
            (
                "page of 1,000 of one credential, deep",
                f"/api/v1/scim-credentials/{credential_ids[1]}/requests?limit=1000&after={deep}",
            ),  # fmt: skip
            ("page of 1,000 of one day (since/until)", f"/api/v1/scim-requests?limit=1000&since={since}&until={until}"),
            ("polling page at the newest end", f"/api/v1/scim-requests?limit=1000&after={encode_cursor(last)}"),
        ]
        plans = []
        for name, url in cases:
            with captured() as seen:
                client.get(url, headers=auth)
            page_queries = [(s, p) for s, p in seen if "scim_requests.user_agent" in s or "FROM scim_requests" in s]
            plans.append((name, [(s, plan(s, p)) for s, p in page_queries]))
            samples, count = timed(client, url, auth, args.runs)
            samples.sort()
            print(f"  {name:<44} median {statistics.median(samples):6.1f} ms   "
                  f"p95 {samples[int(len(samples) * 0.95) - 1]:6.1f} ms   rows {count}")  # fmt: skip

        tenth = (oldest + timedelta(days=9)).strftime("%Y-%m-%dT%H:%M:%SZ")
        n, seconds, _ = export(client, "/api/v1/scim-requests", auth, trace=False)
        print(f"  CSV export of everything: {n:,} rows in {seconds:.1f} s = {n / seconds:,.0f} rows/s")
        small_n, _, small_peak = export(client, f"/api/v1/scim-requests?until={tenth}", auth, trace=True)
        big_n, _, big_peak = export(client, "/api/v1/scim-requests", auth, trace=True)
        print(f"  CSV export peak Python memory: {small_peak:.1f} MiB for {small_n:,} rows, "
              f"{big_peak:.1f} MiB for {big_n:,} rows")  # fmt: skip

        print("\nquery plans (page queries of each case):")
        for name, queries in plans:
            print(f"- {name}")
            for statement, shape in queries:
                print("  " + " ".join(statement.split())[:160])
                print(shape)


if __name__ == "__main__":
    main()
