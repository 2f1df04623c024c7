"""Time /admin/users on a tenant with many users: first page, a deep page, a search, a filter.

Rerunnable: each run builds a fresh temporary SQLite database (or empties the one given with
--database-url), bulk-inserts the users, then times requests through the Flask test client and prints
the median of several runs. Nothing here asserts a time; the figures are for people to read.

    .venv/bin/python bench/bench_admin_users.py [--users 100000] [--runs 7] [--database-url URL]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text  # noqa: E402

from app import create_app  # noqa: E402
from models import Role, User, db, utcnow  # noqa: E402
from services import accounts, tenants  # noqa: E402
from services.identifiers import fold  # noqa: E402

GIVEN = ["Ada", "Grace", "Alan", "Barbara", "Edsger", "Frances", "John", "Katherine", "Linus", "Margaret"]
FAMILY = ["Lovelace", "Hopper", "Turing", "Liskov", "Dijkstra", "Allen", "Backus", "Johnson", "Smith", "Hamilton"]

CASES = [
    ("first page", "/admin/users", {}),
    ("deep page (offset ~99,000)", "/admin/users?page=1980", {}),
    ("search 'smi' (~10% match)", "/admin/users?q=smi", {"HX-Request": "true"}),
    ("search 'user0999' (rare)", "/admin/users?q=user0999", {"HX-Request": "true"}),
    ("search two words 'grace hop'", "/admin/users?q=grace+hop", {"HX-Request": "true"}),
    ("filter role=moderator, local", "/admin/users?role=3&scim=no", {"HX-Request": "true"}),
    ("filter unverified SCIM, page 500", "/admin/users?scim=yes&verified=no&page=500", {"HX-Request": "true"}),
]


def populate(count: int, seed: int = 7) -> int:
    """Insert one tenant with a super-admin and `count` users in bulk; return the admin's id."""
    rng = random.Random(seed)
    tenant, _ = tenants.ensure_default()
    admin = accounts.create_local_user(tenant, "owner@example.com", Role.SUPER_ADMIN, verified=True)
    now = utcnow()
    batch: list[dict] = []
    for i in range(count):
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        scim = rng.random() < 0.7
        email = f"{given}.{family}.{i}@corp.example".lower()
        user_name = email if scim else None
        batch.append(
            {
                "tenant_id": tenant.id,
                "scim_id": f"00000000-0000-4000-8000-{i:012d}",
                "user_name": f"user{i:06d}" if not scim else user_name,
                "user_name_ci": fold(f"user{i:06d}" if not scim else user_name),
                "email": email,
                "email_ci": email,
                "email_verified_at": now if rng.random() < 0.6 else None,
                "role": rng.choices([Role.BANNED, Role.MEMBER, Role.MODERATOR, Role.ADMIN], [5, 85, 8, 2])[0],
                "scim_managed": scim,
                # A bulk insert skips the models' validators: fill the folded columns they would.
                "display_name": f"{given} {family}",
                "display_name_ci": fold(f"{given} {family}"),
                "given_name": given,
                "given_name_ci": fold(given),
                "family_name": family,
                "family_name_ci": fold(family),
                "profile": {},
                "created_at": now,
                "updated_at": now,
            }
        )
        if len(batch) == 10_000:
            db.session.execute(insert(User), batch)
            batch.clear()
    if batch:
        db.session.execute(insert(User), batch)
    db.session.commit()
    return admin.id


def refresh_statistics() -> None:
    """Give the planner the statistics autovacuum (PostgreSQL) or a periodic ANALYZE would have."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE" if connection.dialect.name == "postgresql" else "ANALYZE"))


def time_case(client, path: str, headers: dict, runs: int) -> tuple[float, int]:
    """Return the median milliseconds of `runs` requests (after one warm-up) and the status."""
    status = client.get(path, headers=headers).status_code
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        status = response.status_code
    return statistics.median(samples), status


def main() -> None:
    """Build the data set, time each case and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--database-url", help="use this database instead of a temporary SQLite file (emptied!)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        app = create_app(
            {"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False}
        )
        with app.app_context():
            db.drop_all()
            db.create_all()
            started = time.perf_counter()
            admin_id = populate(args.users)
            print(f"inserted {args.users:,} users in {time.perf_counter() - started:.1f}s ({url.split(':')[0]})")
            refresh_statistics()

        client = app.test_client()
        with client.session_transaction() as session:
            session["user_id"] = admin_id
        print(f"{'case':<38} {'median ms':>10}  status")
        for name, path, headers in CASES:
            median, status = time_case(client, path, headers, args.runs)
            print(f"{name:<38} {median:>10.1f}  {status}")
        if args.database_url:
            with app.app_context():
                db.drop_all()


if __name__ == "__main__":
    main()
