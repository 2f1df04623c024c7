"""Time how long oversized but well-formed SCIM bodies hold a worker before their 400.

Run: .venv/bin/python bench/bench_oversized.py [--runs 5]
Each request goes through the Flask test client on a temporary SQLite database; the answer is a 400 every time,
and the figure that matters is how much work comes before it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from models import db  # noqa: E402
from services import credentials, tenants  # noqa: E402

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def main() -> None:
    """Print the median time and the answer for each oversized body."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    folder = tempfile.mkdtemp()
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.db",
            "SECRET_KEY": "bench",
            "RATELIMIT_ENABLED": False,
            "MAIL_OUTBOX_DIR": folder,
        }
    )
    with app.app_context():
        db.create_all()
        tenant, _ = tenants.ensure_default()
        _, token = credentials.issue(tenant, "bench")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    user = client.post("/scim/v2/Users", data=json.dumps({"userName": "bench"}), headers=headers).get_json()["id"]
    emails = [{"value": f"u{i}@example.com"} for i in range(100_000)]
    cases = [
        ("POST /Users, 100,000 emails", "POST", "/scim/v2/Users", {"userName": "a", "emails": emails}),
        ("PUT /Users, 250,000 phoneNumbers", "PUT", f"/scim/v2/Users/{user}",
         {"userName": "bench", "phoneNumbers": [{"value": "1"}] * 250_000}),
        ("PATCH, one add of 100,000 emails", "PATCH", f"/scim/v2/Users/{user}",
         {"schemas": [PATCH], "Operations": [{"op": "add", "path": "emails", "value": emails}]}),
        ("PATCH, 1,000 one-email adds", "PATCH", f"/scim/v2/Users/{user}",
         {"schemas": [PATCH],
          "Operations": [{"op": "add", "path": "emails", "value": [e]} for e in emails[:1000]]}),
    ]  # fmt: skip
    print(f"{'case':<36}{'MB':>6}{'median ms':>11}  answer")
    for label, method, path, body in cases:
        data = json.dumps(body)
        samples, response = [], None
        for _ in range(args.runs):
            start = time.perf_counter()
            response = client.open(path, method=method, data=data, headers=headers)
            samples.append((time.perf_counter() - start) * 1000)
        detail = response.get_json().get("detail", "")[:60]
        print(f"{label:<36}{len(data) / 1e6:>6.1f}{statistics.median(samples):>11.0f}  {response.status_code} {detail}")


if __name__ == "__main__":
    main()
