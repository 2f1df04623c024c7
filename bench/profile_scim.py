"""Profile one SCIM phase in process: where a request's CPU goes, function by function.

Run: .venv/bin/python bench/profile_scim.py [--phase get|filter|post|patch|list] [--requests 2000]
     [--database-url postgresql://postgres@127.0.0.1:5432/test] [--sort tottime|cumtime] [--limit 40]

The app is made as gunicorn makes it (create_app, no test config) on a fresh database with 1,000 members,
and each request goes through its WSGI callable as a server would call it, without a network or a server in
between. What this prints is the app's own share of a request; bench/compare.py measures the whole process.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare import PATCH, user_document  # noqa: E402
from servers import BIN, ROOT, fresh_database  # noqa: E402


def _environ(method: str, path: str, body: dict | None, token: str) -> dict:
    """Return a WSGI environ like gunicorn's for one request."""
    raw_path, _, query = path.partition("?")
    payload = json.dumps(body).encode() if body is not None else b""
    return {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": raw_path.replace("%20", " ").replace("%22", '"'),
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_ACCEPT": "application/scim+json",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "HTTP_USER_AGENT": "profile",
        "CONTENT_TYPE": "application/scim+json" if body is not None else "",
        "CONTENT_LENGTH": str(len(payload)) if body is not None else "",
        "wsgi.input": io.BytesIO(payload),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def _call(app, environ: dict) -> tuple[int, bytes]:
    status: list[str] = []
    chunks = app(environ, lambda line, headers, exc_info=None: status.append(line))
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close:
            close()
    return int(status[0].split()[0]), body


PHASES = ("get", "filter", "post", "patch", "deactivate", "list")
# The index of the first warm-up request (`warm`): a phase's counted requests come before it.
WARM_FROM = 1_000_000


@contextmanager
def prepared_app(
    database_url: str | None, users: int, root: Path = ROOT
) -> Iterator[tuple[Any, str, list[tuple[str, str]]]]:
    """Yield (app, token, seeded) on a fresh database: the app of the project at `root` (this one by default),
    made as gunicorn makes it, with `users` members."""
    with tempfile.TemporaryDirectory() as folder, fresh_database(database_url, Path(folder), "profile") as url:
        env = {"DATABASE_URL": url, "INSTANCE_PATH": str(Path(folder) / "instance"), "MOBIEUS_SCIM_RATE_LIMIT": ""}
        os.environ.update(env)
        flask = [str(BIN / "flask"), "--app", "app"]
        run = {"cwd": root, "check": True, "capture_output": True, "text": True}
        subprocess.run([*flask, "db", "upgrade"], **run)
        subprocess.run([*flask, "tenants", "create", "default"], **run)
        issued = subprocess.run([*flask, "scim", "issue", "--tenant", "default", "--name", "profile"], **run)
        token = issued.stdout.strip().splitlines()[-1]

        sys.path.insert(0, str(root))
        from app import create_app

        app = create_app()
        seeded = []
        for i in range(users):
            name = f"member{i}@example.com"
            status, body = _call(app, _environ("POST", "/scim/v2/Users", user_document(name), token))
            if status != 201:
                raise SystemExit(f"seeding answered {status}: {body[:300]!r}")
            seeded.append((json.loads(body)["id"], name))
        yield app, token, seeded


@contextmanager
def prepared_crud_app(database_url: str | None, users: int) -> Iterator[tuple[Any, str, list[tuple[str, str]]]]:
    """Yield (app, token, seeded) as prepared_app does, for the plain CRUD baseline (which reads no token)."""
    with tempfile.TemporaryDirectory() as folder, fresh_database(database_url, Path(folder), "crud") as url:
        os.environ["BASELINE_DATABASE_URL"] = url
        from baselines.crud_app import create_app, db

        app = create_app()
        with app.app_context():
            db.create_all()
        seeded = []
        for i in range(users):
            name = f"member{i}@example.com"
            status, body = _call(app, _environ("POST", "/scim/v2/Users", user_document(name), ""))
            if status != 201:
                raise SystemExit(f"seeding answered {status}: {body[:300]!r}")
            seeded.append((json.loads(body)["id"], name))
        yield app, "", seeded


def phase_request(phase: str, seeded: list[tuple[str, str]], i: int) -> tuple[str, str, dict | None]:
    """Return (method, path, body) of the i-th request of a phase, as bench/compare.py sends them.

    `deactivate` is a PATCH that always changes the member: the counted requests (i below `WARM_FROM`, fewer
    than the members) each deactivate an active one, and the warm-up's re-assert `active` on others. The
    `patch` phase alternates, as bench/compare.py does, so half of its requests change nothing.
    """
    scim_id, name = seeded[i % len(seeded)]
    if phase == "deactivate":
        active = i >= WARM_FROM
        return (
            "PATCH",
            f"/scim/v2/Users/{scim_id}",
            {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": active}}]},
        )
    return {
        "get": ("GET", f"/scim/v2/Users/{scim_id}", None),
        "filter": ("GET", f"/scim/v2/Users?filter=userName%20eq%20%22{name}%22", None),
        "post": ("POST", "/scim/v2/Users", user_document(f"new-{phase}-{i}@example.com")),
        "patch": (
            "PATCH",
            f"/scim/v2/Users/{scim_id}",
            {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": i % 2 == 0}}]},
        ),
        "list": ("GET", "/scim/v2/Users?count=100", None),
    }[phase]


def warm(app, token: str, phase: str, seeded: list[tuple[str, str]]) -> None:
    """Send 50 requests of the phase first: caches and the pool as a running worker has them."""
    for i in range(50):
        _call(app, _environ(*phase_request(phase, seeded, WARM_FROM + i), token))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", default="get", choices=PHASES)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--database-url")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--dump", help="also write the raw profile here, for pstats or snakeviz")
    args = parser.parse_args()

    with prepared_app(args.database_url, args.users) as (app, token, seeded):
        environs = [_environ(*phase_request(args.phase, seeded, i), token) for i in range(args.requests)]
        warm(app, token, args.phase, seeded)
        profiler = cProfile.Profile()
        started_cpu = time.process_time()
        profiler.enable()
        statuses: dict[int, int] = {}
        for environ in environs:
            status, answer = _call(app, environ)
            if status >= 400 and not statuses:
                print(f"the first request answered {status}: {answer[:300]!r}")
            statuses[status] = statuses.get(status, 0) + 1
        profiler.disable()
        if args.dump:
            profiler.dump_stats(args.dump)
        cpu = time.process_time() - started_cpu
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats(args.sort).print_stats(args.limit)
        print(stream.getvalue())
        per_request = cpu / args.requests * 1000
        print(f"{args.phase}: {per_request:.3f} ms CPU per request under the profiler, answers {statuses}")


if __name__ == "__main__":
    main()
