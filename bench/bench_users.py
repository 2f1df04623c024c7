"""Benchmark the /Users hot paths through the Flask test client on a temporary SQLite database.

Run: .venv/bin/python bench/bench_users.py [--users 20000] [--runs 200]
Prints the median and 95th percentile per request kind, and the cost of the per-request token
check (one SHA-256) against what bcrypt would cost, as a ratio.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import bcrypt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from models import Role, User, UserEmail, db  # noqa: E402
from services import credentials, tenants  # noqa: E402

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def seed(tenant_id: int, count: int) -> None:
    """Insert `count` SCIM members with one work email each, in bulk."""
    batch = 5000
    for start in range(0, count, batch):
        users = [
            User(
                tenant_id=tenant_id,
                scim_managed=True,
                role=Role.MEMBER,
                user_name=f"Member{i}@Example.com",
                user_name_ci=f"member{i}@example.com",
                external_id=f"ext-{i}",
                email=f"member{i}@example.com",
                email_ci=f"member{i}@example.com",
                given_name="Member",
                family_name=str(i),
                profile={"name": {"givenName": "Member", "familyName": str(i)}},
            )
            for i in range(start, min(start + batch, count))
        ]
        db.session.add_all(users)
        db.session.flush()
        db.session.add_all(
            UserEmail(user_id=u.id, position=0, value=u.email, value_ci=u.email_ci, type="work", primary=True)
            for u in users
        )
        db.session.commit()


def timed(runs: int, call) -> list[float]:
    samples = []
    for i in range(runs):
        started = time.perf_counter()
        response = call(i)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code < 300, response.get_data(as_text=True)
    return samples


def report(name: str, samples: list[float]) -> None:
    samples.sort()
    p95 = samples[int(len(samples) * 0.95) - 1]
    print(f"{name:<44} median {statistics.median(samples):7.2f} ms   p95 {p95:7.2f} ms   n={len(samples)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        # The rate limit is off: this measures the app's own work, not the limiter refusing it.
        settings = {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db",
            "SECRET_KEY": "bench",
            "RATELIMIT_ENABLED": False,
        }
        app = create_app(settings)
        with app.app_context():
            db.create_all()
            tenant, _ = tenants.ensure_default()
            _, token = credentials.issue(tenant, "bench")
            started = time.perf_counter()
            seed(tenant.id, args.users)
            print(f"seeded {args.users} members in {time.perf_counter() - started:.1f} s (SQLite, WAL)")
        client = app.test_client()
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
        n = args.users

        def get(path):
            return lambda i: client.get(path(i), headers=auth)

        report(
            "GET /ServiceProviderConfig (auth + log only)",
            timed(args.runs, get(lambda i: "/scim/v2/ServiceProviderConfig")),
        )
        report(
            'GET /Users?filter=userName eq "…" (hit)',
            timed(args.runs, get(lambda i: f'/scim/v2/Users?filter=userName eq "MEMBER{(i * 7919) % n}@example.com"')),
        )
        report(
            'GET /Users?filter=emails[type eq "work"].value eq',
            timed(
                args.runs,
                get(
                    lambda i: (
                        f'/scim/v2/Users?filter=emails[type eq "work"].value eq "member{(i * 31) % n}@example.com"'
                    )
                ),
            ),
        )
        report(
            "GET /Users?startIndex=1&count=100",
            timed(max(args.runs // 4, 10), get(lambda i: "/scim/v2/Users?count=100")),
        )
        report(
            f"GET /Users?startIndex={n - 100}&count=100 (deep page)",
            timed(max(args.runs // 4, 10), get(lambda i: f"/scim/v2/Users?startIndex={n - 100}&count=100")),
        )

        created: list[str] = []

        def create(i):
            body = {"schemas": [USER], "userName": f"new{i}@example.com", "emails": [{"value": f"new{i}@example.com"}]}
            response = client.post("/scim/v2/Users", json=body, headers=auth)
            created.append(response.get_json()["id"])
            return response

        report("POST /Users", timed(args.runs, create))
        deactivate = {"Operations": [{"op": "replace", "value": {"active": False}}]}
        report(
            "PATCH /Users/{id} (Okta deactivate)",
            timed(args.runs, lambda i: client.patch(f"/scim/v2/Users/{created[i]}", json=deactivate, headers=auth)),
        )

    # The per-request credential check: one SHA-256 versus a bcrypt verification (cost 12).
    secret = b"ms_scim_" + b"x" * 43
    started = time.perf_counter()
    for _ in range(10000):
        hashlib.sha256(secret).hexdigest()
    sha = (time.perf_counter() - started) / 10000
    hashed = bcrypt.hashpw(secret, bcrypt.gensalt(12))
    started = time.perf_counter()
    for _ in range(3):
        bcrypt.checkpw(secret, hashed)
    slow = (time.perf_counter() - started) / 3
    print(f"token check: sha256 {sha * 1e6:.2f} µs, bcrypt(12) {slow * 1000:.0f} ms, ratio {slow / sha:,.0f}x")


if __name__ == "__main__":
    main()
