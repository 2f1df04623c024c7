"""Time /Users and /Groups paging as the tenant grows: first page, a deep page, a middle page, an `eq` filter.

Run: .venv/bin/python bench/bench_paging.py [--users 1000,100000] [--database sqlite|postgresql://…] [--explain]
One database (a temporary SQLite file, or a throwaway schema of the PostgreSQL database given) grows step by
step to each size in --users: each step bulk-inserts SCIM-visible members (one work email each, every member in
one of size/10 SCIM groups) interleaved with accounts SCIM may not see: about 1 in 20 a local account, 1 in 50
promoted past member, 1 in 20 deprovisioned, and 1 in 10 of another tenant. On PostgreSQL `VACUUM ANALYZE` runs
after each step, as autovacuum would soon do: an index-only scan needs the visibility map it sets.
Every request goes through the Flask test client with a SCIM token; each cell is the median of --runs
requests, with the SQL statements one request runs and the median ms spent in them.
"""

from __future__ import annotations

import argparse
import statistics
import time

import bench_request_log as log_bench  # first: it puts this checkout on sys.path
from sqlalchemy import event, insert, select, text

from models import Cohort, CohortMember, Role, User, UserEmail, db, utcnow
from services import credentials, members, tenants

PAGE = 100
GROUP_SIZE = 10  # members per SCIM group


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
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
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


def measure(client, url: str, headers: dict, runs: int) -> tuple[float, int, float]:
    """Return the median ms of `runs` requests, the statements one runs and the median ms spent in them."""
    spent: list[float] = []

    def before(conn, *_args) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def after(conn, *_args) -> None:
        spent.append(time.perf_counter() - conn.info.pop("bench_started"))

    response = client.get(url, headers=headers)  # warms caches, and checks the answer
    assert response.status_code == 200, (url, response.get_data(as_text=True))
    body = response.get_json()
    assert body["Resources"], (url, body)
    event.listen(db.engine, "before_cursor_execute", before)
    event.listen(db.engine, "after_cursor_execute", after)
    try:
        samples, in_sql, count = [], [], 0
        for _ in range(runs):
            spent.clear()
            started = time.perf_counter()
            client.get(url, headers=headers).get_data()
            samples.append((time.perf_counter() - started) * 1000)
            in_sql.append(sum(spent) * 1000)
            count = len(spent)
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
        event.remove(db.engine, "after_cursor_execute", after)
    return statistics.median(samples), count, statistics.median(in_sql)


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

    with log_bench.bench_app(args.database, "bench_paging") as app, app.app_context():
        db.create_all()
        tenant, _ = tenants.ensure_default()
        other = tenants.create_tenant("other")
        _, token = credentials.issue(tenant, "bench")
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        have, index, table = 0, 0, []
        for size in sizes:
            started = time.perf_counter()
            index = grow(tenant.id, other.id, have, size, index)
            have = size
            print(f"{db.engine.dialect.name}: {size:,} visible members ({index:,} accounts) "
                  f"in {time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
            row = []
            visible = members.scim_visible(tenant.id)
            someone = db.session.scalar(select(User.user_name).where(visible).order_by(User.id).offset(size // 3))
            for name, url in cases(size, size // GROUP_SIZE, someone):
                row.append((name, measure(client, url, headers, args.runs)))
                if args.explain:
                    explain(client, url, headers)
            table.append((size, row))

        names = [name for name, _ in table[0][1]]
        print(f"\n| {db.engine.dialect.name}, visible members | " + " | ".join(names) + " |")
        print("|---" * (len(names) + 1) + "|")
        for size, row in table:
            cells = [f"{ms:.1f} ({count}, {sql:.1f})" for _, (ms, count, sql) in row]
            print(f"| {size:,} | " + " | ".join(cells) + " |")
        if len(table) > 1:
            first, last = table[0][1], table[-1][1]
            ratios = [f"{b[1][0] / a[1][0]:.2f}×" for a, b in zip(first, last, strict=True)]
            print(f"| ratio {sizes[-1]:,} / {sizes[0]:,} | " + " | ".join(ratios) + " |")


if __name__ == "__main__":
    main()
