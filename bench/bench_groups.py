"""Time group membership at scale on SQLite, through the Flask test client (issue 3, "Scale").

    .venv/bin/python bench/bench_groups.py [--runs 5] [--users 10000] [--add 1000]

Builds a throw-away SQLite database in a temporary directory with one tenant, a super-admin and `--users`
SCIM users; puts all of them in one group; then, per run, times a PATCH adding `--add` members to a fresh
group and a GET of the big group (with and without `excludedAttributes=members`). Prints every run and the
medians. Nothing outside the temporary directory is touched.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def build(database: Path, users: int):
    """Create the app, tenant, super-admin, credential and users; return (app, token, user scim ids)."""
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import insert, select

    from app import create_app
    from models import Role, User, db, new_scim_id, utcnow
    from services import accounts, credentials, tenants

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}", "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False}
    )
    with app.app_context():
        db.create_all()
        tenant, _ = tenants.ensure_default()
        accounts.create_local_user(tenant, "owner@example.com", Role.SUPER_ADMIN, verified=True)
        _, token = credentials.issue(tenant, "bench")
        now = utcnow()
        rows = [
            {
                "tenant_id": tenant.id,
                "scim_id": new_scim_id(),
                "user_name": f"user{i}@example.com",
                "user_name_ci": f"user{i}@example.com",
                "display_name": f"User {i}",
                "role": Role.MEMBER,
                "scim_managed": True,
                "profile": {},
                "created_at": now,
                "updated_at": now,
            }
            for i in range(users)
        ]
        db.session.execute(insert(User), rows)
        db.session.commit()
        ids = list(db.session.scalars(select(User.scim_id).where(User.scim_managed.is_(True)).order_by(User.id)))
    return app, token, ids


def timed(call) -> tuple[float, object]:
    started = time.perf_counter()
    response = call()
    return (time.perf_counter() - started) * 1000, response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--add", type=int, default=1_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-groups-") as directory:
        started = time.perf_counter()
        app, token, ids = build(Path(directory) / "bench.db", args.users)
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}

        def post(path: str, body: dict):
            return client.post(f"/scim/v2{path}", json=body, headers=headers)

        def patch(path: str, body: dict):
            return client.patch(f"/scim/v2{path}", json=body, headers=headers)

        big = post("/Groups", {"schemas": [GROUP], "displayName": "Everyone"}).get_json()
        put_ms, response = timed(
            lambda: client.put(
                f"/scim/v2/Groups/{big['id']}",
                json={"schemas": [GROUP], "displayName": "Everyone", "members": [{"value": v} for v in ids]},
                headers=headers,
            )
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        setup_s = time.perf_counter() - started
        print(f"setup: {len(ids)} users; PUT of a {len(ids)}-member group {put_ms:.0f} ms; setup {setup_s:.1f} s")

        figures: dict[str, list[float]] = {"patch_add": [], "get": [], "get_excluded": []}
        for run in range(1, args.runs + 1):
            group = post("/Groups", {"schemas": [GROUP], "displayName": f"Run {run}"}).get_json()
            operation = {"op": "add", "path": "members", "value": [{"value": v} for v in ids[: args.add]]}
            body = {"schemas": [PATCH_OP], "Operations": [operation]}
            ms, response = timed(lambda: patch(f"/Groups/{group['id']}", body))  # noqa: B023 - called at once
            assert response.status_code == 200 and len(response.get_json()["members"]) == args.add
            figures["patch_add"].append(ms)
            ms, response = timed(lambda: client.get(f"/scim/v2/Groups/{big['id']}", headers=headers))
            assert response.status_code == 200 and len(response.get_json()["members"]) == len(ids)
            figures["get"].append(ms)
            ms, response = timed(
                lambda: client.get(f"/scim/v2/Groups/{big['id']}?excludedAttributes=members", headers=headers)
            )
            assert response.status_code == 200 and "members" not in response.get_json()
            figures["get_excluded"].append(ms)
            print(f"run {run}: " + describe(args.add, len(ids), {k: v[-1] for k, v in figures.items()}))
        medians = {k: statistics.median(v) for k, v in figures.items()}
        print(f"median of {args.runs} runs: " + describe(args.add, len(ids), medians))


def describe(added: int, size: int, ms: dict[str, float]) -> str:
    return (
        f"PATCH add {added} members {ms['patch_add']:.0f} ms; GET {size}-member group {ms['get']:.0f} ms; "
        f"GET with excludedAttributes=members {ms['get_excluded']:.1f} ms"
    )


if __name__ == "__main__":
    main()
