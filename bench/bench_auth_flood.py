"""Measure a flood of bad SCIM tokens from one address: answers, log rows, cost per refusal, valid token beside it.

Run: .venv/bin/python bench/bench_auth_flood.py [--requests 3000] [--limit "30 per minute"]
Uses a temporary SQLite database and the in-memory limiter. Prints how the flood was answered,
how many request-log rows it added against how many requests they stand for, the median time
of a refused request, and the answers and median time of a valid token sent from the same
address in between.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402

from app import create_app  # noqa: E402
from models import ScimRequest, db  # noqa: E402
from services import credentials, tenants  # noqa: E402

ADDRESS = "198.51.100.7"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--limit", default="30 per minute", help='SCIM_AUTH_FAILURE_LIMIT ("" turns it off)')
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        settings = {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db",
            "SECRET_KEY": "bench",
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": "memory://",
            "SCIM_AUTH_FAILURE_LIMIT": args.limit,
        }
        app = create_app(settings)
        with app.app_context():
            db.create_all()
            tenant, _ = tenants.ensure_default()
            _, token = credentials.issue(tenant, "bench")
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = ADDRESS
        bad = {"Authorization": "Bearer ms_scim_" + "x" * 43}
        good = {"Authorization": f"Bearer {token}"}

        refused: Counter[int] = Counter()
        valid: Counter[int] = Counter()
        refused_ms: list[float] = []
        valid_ms: list[float] = []
        started = time.perf_counter()
        for i in range(args.requests):
            t0 = time.perf_counter()
            refused[client.get("/scim/v2/Users", headers=bad).status_code] += 1
            refused_ms.append((time.perf_counter() - t0) * 1000)
            if i % 50 == 0:  # the valid token keeps calling from the same address
                t0 = time.perf_counter()
                valid[client.get("/scim/v2/Users", headers=good).status_code] += 1
                valid_ms.append((time.perf_counter() - t0) * 1000)
        elapsed = time.perf_counter() - started

        with app.app_context():
            flood = select(func.count(), func.sum(ScimRequest.count)).where(ScimRequest.credential_id.is_(None))
            rows, represented = db.session.execute(flood).one()

        print(f"limit {args.limit or 'off'}; {args.requests} bad-token requests in {elapsed:.1f} s from {ADDRESS}")
        print(f"answers to the flood        {dict(sorted(refused.items()))}")
        print(f"answers to the valid token  {dict(sorted(valid.items()))}")
        print(f"log rows for the flood      {rows} (standing for {represented} requests)")
        print(f"median refused request      {statistics.median(refused_ms):.2f} ms")
        print(f"median valid request        {statistics.median(valid_ms):.2f} ms")


if __name__ == "__main__":
    main()
