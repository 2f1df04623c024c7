"""Time /Users and /Groups paging as the tenant grows: first page, a deep page, a middle page, an `eq` filter.

Run: .venv/bin/python bench/bench_paging.py [--users 1000,100000] [--database sqlite|postgresql://…] [--explain]
One database (a temporary SQLite file, or a throwaway schema of the PostgreSQL database given) holds one tenant
per size in --users, each bulk-filled with that many SCIM-visible members (one work email each, every member in
one of size/10 SCIM groups) interleaved with accounts SCIM may not see: about 1 in 20 a local account, 1 in 50
promoted past member, 1 in 20 deprovisioned, and 1 in 10 of another tenant. On PostgreSQL `VACUUM ANALYZE` runs
before the timing, as autovacuum would soon do: an index-only scan needs the visibility map it sets.
The request of each size takes turns with the others, so a busy moment of a shared machine falls on all alike.
Every request goes through the Flask test client with a SCIM token; each cell is the median ms of --runs
requests, then the mean CPU ms of the app and its database (this process, with SQLite in it; on PostgreSQL
also the backends serving its connections, read from /proc, parallel workers not counted: CPU time is steadier
than wall time on a busy machine), the SQL statements one request runs and the median ms spent in them.
"""

from __future__ import annotations

import argparse
import statistics
import time

import bench_request_log as log_bench  # first: it puts this checkout on sys.path
from servers import cpu_seconds
from sqlalchemy import event, insert, select, text

from models import Cohort, CohortMember, Role, User, UserEmail, db, utcnow
from services import credentials, tenants, visibility

PAGE = 100
GROUP_SIZE = 10  # members per SCIM group
DOMAIN = "bench.test"  # tenant t1000 answers on t1000.bench.test


def accounts(start: int, visible: int, tenant_id: int, other_id: int):
    """Yield (row, is_visible) from index `start` until `visible` SCIM-visible members have been yielded."""
    i, shown = start, 0
    while shown < visible:
        kind = "member"
        if i % 10 == 3:
            kind = "other tenant"
        elif i % 20 == 7:
            kind = "local"
        elif i % 50 == 11:
            kind = "promoted"
        elif i % 20 == 13:
            kind = "deprovisioned"
        name = f"user{i}@example.com"
        yield (
            {
                "tenant_id": other_id if kind == "other tenant" else tenant_id,
                "scim_managed": kind != "local",
                "role": Role.ADMIN if kind == "promoted" else Role.MEMBER,
                "deprovisioned_at": utcnow() if kind == "deprovisioned" else None,
                "user_name": name if kind != "local" else None,
                "user_name_ci": name if kind != "local" else None,
                "external_id": f"ext-{i}" if kind != "local" else None,
                "email": name,
                "email_ci": name,
                "given_name": "User",
                "given_name_ci": "user",
                "family_name": str(i),
                "family_name_ci": str(i),
                "profile": {"name": {"givenName": "User", "familyName": str(i)}},
                "profile_ci": {"name.givenname": "user", "name.familyname": str(i)},
            },
            kind == "member",
        )
        shown += kind == "member"
        i += 1


def grow(tenant_id: int, other_id: int, have: int, want: int, next_index: int) -> int:
    """Add members until the tenant has `want` SCIM-visible ones; return the next account index."""
    last_id = db.session.scalar(select(db.func.coalesce(db.func.max(User.id), 0)))
    rows = list(accounts(next_index, want - have, tenant_id, other_id))
    for start in range(0, len(rows), 10_000):
        db.session.execute(insert(User), [row for row, _ in rows[start : start + 10_000]])
    new = db.session.execute(
        select(User.id, User.email, User.tenant_id, User.scim_managed).where(User.id > last_id).order_by(User.id)
    ).all()
    db.session.execute(
        insert(UserEmail),
        [
            {
                "user_id": u.id,
                "position": 0,
                "value": u.email,
                "value_ci": u.email,
                "type": "work",
                "type_ci": "work",
                "primary": True,
            }
            for u in new
        ],  # fmt: skip
    )
    groups = want // GROUP_SIZE - have // GROUP_SIZE
    db.session.execute(
        insert(Cohort),
        [
            {
                "tenant_id": tenant_id,
                "name": f"Group {g}",
                "name_ci": f"group {g}",
                "external_id": f"g-{g}",
                "scim_managed": True,
            }
            for g in range(have // GROUP_SIZE, want // GROUP_SIZE)
        ],  # fmt: skip
    )
    cohort_ids = db.session.scalars(select(Cohort.id).where(Cohort.tenant_id == tenant_id).order_by(Cohort.id)).all()
    fresh = cohort_ids[-groups:] if groups else cohort_ids
    mine = [u.id for u in new if u.tenant_id == tenant_id and u.scim_managed]
    db.session.execute(
        insert(CohortMember), [{"cohort_id": fresh[k % len(fresh)], "user_id": uid} for k, uid in enumerate(mine)]
    )
    db.session.commit()
    return next_index + len(rows)


def cases(n: int, groups: int, name: str) -> list[tuple[str, str]]:
    deep, middle, groups_deep = n - 2 * PAGE + 1, n // 2, max(groups - 2 * PAGE + 1, 1)
    bare = "excludedAttributes=members"
    return [
        ("Users first page", f"/scim/v2/Users?count={PAGE}"),
        ("Users deep page", f"/scim/v2/Users?startIndex={deep}&count={PAGE}"),
        ("Users middle page", f"/scim/v2/Users?startIndex={middle}&count={PAGE}"),
        ("Users userName eq", f'/scim/v2/Users?filter=userName eq "{name.upper()}"'),
        ("Groups first page", f"/scim/v2/Groups?count={PAGE}&{bare}"),
        ("Groups deep page", f"/scim/v2/Groups?startIndex={groups_deep}&count={PAGE}&{bare}"),
        ("Groups displayName eq", f'/scim/v2/Groups?filter=displayName eq "group {groups // 2}"'),
    ]


def measure(client, calls: list[tuple[str, dict]], runs: int) -> list[tuple[float, float, int, float]]:
    """Send the requests of `calls` (url, headers) in turn, `runs` rounds; per call return its median ms, the
    mean CPU ms of the app and its database, the statements one runs and the median ms spent in them.
    The calls take turns, so a busy moment of a shared machine falls on every one alike.
    """
    spent: list[float] = []
    backends: set[int] = set()

    def checkout(dbapi_connection, *_args) -> None:
        if db.engine.dialect.name == "postgresql":
            backends.add(dbapi_connection.info.backend_pid)

    def before(conn, *_args) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def after(conn, *_args) -> None:
        spent.append(time.perf_counter() - conn.info.pop("bench_started"))

    for url, headers in calls:
        response = client.get(url, headers=headers)  # warms caches, and checks the answer
        assert response.status_code == 200, (url, response.get_data(as_text=True))
        assert response.get_json()["Resources"], url
    samples: list[list[tuple[float, float, int, float]]] = [[] for _ in calls]
    event.listen(db.engine, "checkout", checkout)
    event.listen(db.engine, "before_cursor_execute", before)
    event.listen(db.engine, "after_cursor_execute", after)
    try:
        for _ in range(runs):
            for (url, headers), taken in zip(calls, samples, strict=True):
                spent.clear()
                started, cpu = time.perf_counter(), time.process_time() + cpu_seconds(backends)
                client.get(url, headers=headers).get_data()
                wall, cpu = time.perf_counter() - started, time.process_time() + cpu_seconds(backends) - cpu
                taken.append((wall * 1000, cpu * 1000, len(spent), sum(spent) * 1000))
    finally:
        event.remove(db.engine, "checkout", checkout)
        event.remove(db.engine, "before_cursor_execute", before)
        event.remove(db.engine, "after_cursor_execute", after)
    return [
        (
            statistics.median(t[0] for t in taken),
            statistics.mean(t[1] for t in taken),  # /proc counts whole clock ticks: a mean, not a median
            taken[-1][2],
            statistics.median(t[3] for t in taken),
        )
        for taken in samples
    ]


def explain(client, url: str, headers: dict) -> None:
    """Print the plans of the statements of one request that read users or cohorts."""
    with log_bench.captured() as seen:
        client.get(url, headers=headers)
    print(f"\n{url}")
    for statement, parameters in seen:
        if "FROM users" in statement or "FROM cohorts" in statement:
            print("  " + " ".join(statement.split())[:220])
            print(log_bench.plan(statement, parameters))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="1000,100000", help="sizes to grow to, comma-separated")
    parser.add_argument("--database", default="sqlite", help="sqlite, or a postgresql:// URL (a schema is made in it)")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--explain", action="store_true", help="print the plans of the paging statements")
    args = parser.parse_args()
    sizes = [int(s) for s in args.users.split(",")]

    with log_bench.bench_app(args.database, "bench_paging", TENANT_BASE_DOMAIN=DOMAIN) as app, app.app_context():
        db.create_all()
        other = tenants.create_tenant("other")
        client = app.test_client()
        index, tenants_by_size = 0, []
        for size in sizes:  # one tenant per size, in one database: the requests of each size take turns
            tenant = tenants.create_tenant(f"t{size}", learn_scim=True)
            _, token = credentials.issue(tenant, "bench")
            started = time.perf_counter()
            index = grow(tenant.id, other.id, 0, size, index)
            print(f"{db.engine.dialect.name}: tenant of {size:,} visible members ({index:,} accounts in all) "
                  f"in {time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
            visible = visibility.scim_visible(tenant.id)
            someone = db.session.scalar(select(User.user_name).where(visible).order_by(User.id).offset(size // 3))
            tenants_by_size.append(
                (
                    cases(size, size // GROUP_SIZE, someone),
                    {"Authorization": f"Bearer {token}", "Host": f"t{size}.{DOMAIN}"},
                )
            )
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM ANALYZE"))

        names = [name for name, _ in tenants_by_size[0][0]]
        table = [[] for _ in sizes]
        for k in range(len(names)):
            calls = [(listed[k][1], headers) for listed, headers in tenants_by_size]
            for row, figures in zip(table, measure(client, calls, args.runs), strict=True):
                row.append(figures)
            if args.explain:
                for url, headers in calls:
                    explain(client, url, headers)

        print(
            f"\n{db.engine.dialect.name}: median ms (mean CPU ms, statements, median ms in SQL) of {args.runs} requests"
        )
        print("| visible members | " + " | ".join(names) + " |")
        print("|---" * (len(names) + 1) + "|")
        for size, row in zip(sizes, table, strict=True):
            cells = [f"{ms:.1f} ({cpu:.1f}, {count}, {sql:.1f})" for ms, cpu, count, sql in row]
            print(f"| {size:,} | " + " | ".join(cells) + " |")
        if len(table) > 1:
            ratios = [f"{b[0] / a[0]:.2f}× ({b[1] / a[1]:.2f}×)" for a, b in zip(table[0], table[-1], strict=True)]
            print(f"| ratio {sizes[-1]:,} / {sizes[0]:,} | " + " | ".join(ratios) + " |")


if __name__ == "__main__":
    main()
