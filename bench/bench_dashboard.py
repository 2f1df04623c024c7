"""Benchmark the credential dashboard (live page, its polled fragments, the list) as the request log grows.

Run: .venv/bin/python bench/bench_dashboard.py [--rows 10000,100000,1000000] [--database sqlite|postgresql://…]
One database grows step by step to each size in --rows: each step bulk-inserts the new log rows (the filler
of bench/bench_request_log.py, COPY on PostgreSQL) spread over the last 8 days for 3 credentials, checks the
rollups the log's triggers kept as the rows went in (where the tree timed has them), then rebuilds the rollups
and first-seen operations with the SQL of the migration that introduced them (d7a3c5e19b42's backfill) and
checks they add up to the log. Every page goes through the Flask test client
signed in as the tenant's super-admin; the tables give medians of --runs requests and the SQL statements
one request runs. To time an older checkout, which has no rollup tables:
PYTHONPATH=/path/to/old/tree .venv/bin/python bench/bench_dashboard.py --no-rollups
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sqlite3
import statistics
import time
from datetime import timedelta
from pathlib import Path

import bench_request_log as log_bench  # first: it puts the tree to time on sys.path
from sqlalchemy import case, event, func, select, text

from admin.context import session_values
from models import Role, ScimRequest, db, utcnow
from services import accounts, credentials, tenants

DAYS = 8
MIGRATION = Path(__file__).resolve().parent.parent / "migrations/versions/d7a3c5e19b42_request_rollups.py"


def pages(credential_id: int, request_id: int) -> list[tuple[str, str, dict]]:
    """Return (column name, URL, headers) of each page and fragment the dashboard shows or polls."""
    base = f"/admin/learn/scim-credentials/{credential_id}"
    htmx = {"HX-Request": "true"}
    return [
        ("credential page", base, {}),
        ("requests fragment", f"{base}/requests", htmx),
        ("histogram hour", f"{base}/histogram?window=hour", htmx),
        ("histogram day", f"{base}/histogram?window=day", htmx),
        ("histogram week", f"{base}/histogram?window=week", htmx),
        ("checklist", f"{base}/checklist", htmx),
        ("credentials list", "/admin/learn/scim-credentials", {}),
        ("request detail", f"{base}/requests/{request_id}", {}),
    ]


def kept_by_triggers() -> bool:
    """Whether the tree timed keeps the rollups by triggers on the log (models/request_log.py), not from Python."""
    from models import request_log

    return hasattr(request_log, "SQLITE_ROLLUP_TRIGGERS")


def fill_rollups() -> None:
    """Rebuild the rollups and first-seen operations from the whole log, as the migration's backfill does.

    Rebuilt even where triggers kept the rollups during the bulk insert (first-seen operations are not theirs
    to write, and the backfill inserts plain rows), so every tree timed starts from the same tables: minute
    rollups for the last day only, as `scim prune-log` leaves them.
    """
    spec = importlib.util.spec_from_file_location("rollups_migration", MIGRATION)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    with db.engine.begin() as connection:
        connection.execute(text("DELETE FROM scim_request_rollups"))
        connection.execute(text("DELETE FROM scim_credential_operations"))
        migration.backfill(connection)


def check_totals(credential_ids: list[int]) -> None:
    """Fail unless the hour rollups count every logged request, by credential and status class."""
    from services import rollups  # absent from older checkouts

    since = db.session.scalar(select(func.min(ScimRequest.at)))
    counted = rollups.counts_for(credential_ids, since.replace(minute=0, second=0, microsecond=0))
    klass = case((ScimRequest.status < 300, "2xx"), (ScimRequest.status < 500, "4xx"), else_="5xx")
    for cid in credential_ids:
        rows = db.session.execute(
            select(klass, func.sum(ScimRequest.count)).where(ScimRequest.credential_id == cid).group_by(klass)
        )
        logged = {"2xx": 0, "4xx": 0, "5xx": 0} | {k: n for k, n in rows}
        assert counted[cid] == logged, (cid, counted[cid], logged)


def check_rollups(credential_ids: list[int]) -> None:
    """Fail unless the hour rollups count every logged request and first-seen holds every successful operation."""
    from services import rollups  # absent from older checkouts

    check_totals(credential_ids)
    for cid in credential_ids:
        done = db.session.scalars(
            select(ScimRequest.operation)
            .distinct()
            .where(ScimRequest.credential_id == cid, ScimRequest.status < 300, ScimRequest.operation.is_not(None))
        )
        assert rollups.operations_seen(cid) == {op for ops in done for op in ops.split()}, cid


def measure(client, url: str, headers: dict, runs: int) -> tuple[float, int, float] | None:
    """Return the median ms of `runs` requests, the statements one runs and the median ms spent in them.

    None where the page is absent (an older checkout). The rest of a request's time is Python: routing,
    the session, Jinja rendering.
    """
    statements: list[float] = []

    def before(conn, *_args) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def after(conn, *_args) -> None:
        statements.append(time.perf_counter() - conn.info.pop("bench_started"))

    event.listen(db.engine, "before_cursor_execute", before)
    event.listen(db.engine, "after_cursor_execute", after)
    try:
        response = client.get(url, headers=headers)  # also warms caches and templates
        if response.status_code == 404:
            return None
        assert response.status_code == 200, (url, response.status_code)
        count = len(statements)
        samples, in_sql = [], []
        for _ in range(runs):
            statements.clear()
            started = time.perf_counter()
            response = client.get(url, headers=headers)
            response.get_data()
            samples.append((time.perf_counter() - started) * 1000)
            in_sql.append(sum(statements) * 1000)
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
        event.remove(db.engine, "after_cursor_execute", after)
    return statistics.median(samples), count, statistics.median(in_sql)


def explain(client, url: str, headers: dict, top: int = 3) -> None:
    """Print the slowest statements of one request of `url`, with their time and the database's plan."""
    timed: list[tuple[float, str, object]] = []

    def before(conn, _cursor, _statement, _parameters, *_args) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def after(conn, _cursor, statement, parameters, *_args) -> None:
        timed.append(((time.perf_counter() - conn.info.pop("bench_started")) * 1000, statement, parameters))

    event.listen(db.engine, "before_cursor_execute", before)
    event.listen(db.engine, "after_cursor_execute", after)
    try:
        client.get(url, headers=headers)
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
        event.remove(db.engine, "after_cursor_execute", after)
    print(f"\nslowest statements of {url}:")
    for ms, statement, parameters in sorted(timed, key=lambda t: t[0], reverse=True)[:top]:
        print(f"  {ms:.1f} ms: " + " ".join(statement.split())[:300])
        print(log_bench.plan(statement, parameters))


def versions() -> str:
    """Name the database server the figures come from."""
    if db.engine.dialect.name == "postgresql":
        return db.session.scalar(text("SHOW server_version")).split()[0]
    return sqlite3.sqlite_version


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10000,100000,1000000", help="comma-separated log sizes, ascending")
    parser.add_argument("--database", default="sqlite", help="sqlite, or a postgresql:// URL (a schema is made in it)")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--explain", action="store_true", help="plans of the slowest statements at the largest size")
    parser.add_argument("--no-rollups", action="store_true", help="the tree timed has no rollup tables")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.rows.split(","))
    with log_bench.bench_app(args.database, "bench_dashboard") as app:
        run(app, sizes, args)


def run(app, sizes: list[int], args) -> None:
    with app.app_context():
        db.create_all()
        tenant, _ = tenants.ensure_default()
        admin = accounts.create_local_user(
            tenant, "owner@example.com", Role.SUPER_ADMIN, password="bench-pw-1", verified=True
        )
        issued = [credentials.issue(tenant, f"IdP {i}")[0] for i in range(3)]
        for credential in issued:  # older than its log, as in production: the page's windows look back a full hour
            credential.created_at = utcnow() - timedelta(days=DAYS + 1)
        db.session.commit()
        credential_ids = [credential.id for credential in issued]
        client = app.test_client()
        with client.session_transaction() as session:
            session.update(session_values(admin))
        name = db.engine.dialect.name
        print(f"{name} {versions()}, {os.cpu_count()} cores, rollups {'off' if args.no_rollups else 'on'}")
        results: dict[int, dict[str, tuple[float, int, float] | None]] = {}
        logged = 0
        for step, size in enumerate(sizes, start=1):
            started = time.perf_counter()
            log_bench.fill(size - logged, tenant.id, credential_ids, [], days=DAYS, seed=step)
            logged = size
            if not args.no_rollups:
                if kept_by_triggers():
                    check_totals(credential_ids)  # what the triggers counted as the bulk insert went in
                fill_rollups()
                check_rollups(credential_ids)
            if name == "postgresql":
                # What autovacuum would soon do, done now so that it does not run beside the timed requests.
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                    connection.execute(text("VACUUM ANALYZE"))
            load = os.getloadavg()[0]
            print(f"{size:,} rows: filled in {time.perf_counter() - started:.0f} s; load average {load:.1f}")
            newest = db.session.scalar(  # a change to a user: the detail page names its target
                select(func.max(ScimRequest.id)).where(
                    ScimRequest.credential_id == credential_ids[0],
                    ScimRequest.status == 200,
                    ScimRequest.path.like("/scim/v2/Users/%"),
                )
            )
            results[size] = {}
            for label, url, headers in pages(credential_ids[0], newest):
                results[size][label] = figure = measure(client, url, headers, args.runs)
                shown = f"{figure[0]:.1f} ms, {figure[1]} statements taking {figure[2]:.1f} ms" if figure else "absent"
                print(f"  {label:<20} {shown}")
            print(f"  load average after: {os.getloadavg()[0]:.1f}")
        if args.explain:
            for _label, url, headers in pages(credential_ids[0], newest)[:2]:
                explain(client, url, headers)
        print(table(name, results))


def table(name: str, results: dict[int, dict[str, tuple[float, int, float] | None]]) -> str:
    """Format the medians as Markdown: one row per log size, one column per page, ms (statements, ms in SQL)."""
    labels = list(next(iter(results.values())))
    heading = f"\n{name}: median ms (SQL statements per request, median ms spent in them)\n"
    lines = [heading, "| logged requests | " + " | ".join(labels) + " |"]
    lines.append("|---" * (len(labels) + 1) + "|")
    for size, row in results.items():
        cells = [cell(row[label]) for label in labels]
        lines.append(f"| {size:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cell(figure: tuple[float, int, float] | None) -> str:
    return f"{figure[0]:.1f} ({figure[1]}, {figure[2]:.1f})" if figure else "—"


if __name__ == "__main__":
    main()
