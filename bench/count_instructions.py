"""Count the CPU instructions one SCIM request costs, in process under valgrind: a figure load cannot move.

Run: .venv/bin/python bench/count_instructions.py [--phases get,filter,list,patch,post,deactivate] [--requests 60]
     [--users 100] [--database-url postgresql://postgres@127.0.0.1:5432/test] [--tree PATH] [--crud]

On a shared two-core machine, CPU time per request moves by ±20 % from run to run, and so does the plain CRUD
app it is compared with (bench/compare.py). An instruction count does not: the same tree gives the same count
to about 1 % whatever else runs, so two trees compare in one run each. The script starts itself again under
valgrind's callgrind (apt-get install valgrind), makes the app as bench/profile_scim.py does, and asks
callgrind for its counts right before and right after each phase's requests, after 50 requests to warm up.
Only this process is counted: the app's Python, SQLite's C, and the client side of psycopg, not the
PostgreSQL server. `--tree` counts another checkout of the project (an older commit, say) with this script.
`--crud` counts the plain CRUD baseline of bench/compare.py instead, through the same requests: the floor the
hot path's target is stated against. Neither count holds gunicorn's own share, which both apps pay alike, so
the ratio of the two counts is a little above the ratio of whole-process CPU that bench/compare.py reads.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_UNDER_VALGRIND = "COUNT_INSTRUCTIONS_OUT"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phases", default="get,filter,list,patch,post")
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--database-url")
    parser.add_argument("--tree", help="the project checkout to count (default: the one holding this script)")
    parser.add_argument("--crud", action="store_true", help="count the plain CRUD baseline instead of the app")
    args = parser.parse_args()
    tree = Path(args.tree or Path(__file__).resolve().parent.parent).resolve()
    if _UNDER_VALGRIND not in os.environ:
        _restart_under_valgrind()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from profile_scim import _call, _environ, phase_request, prepared_app, prepared_crud_app, warm

    out = Path(os.environ[_UNDER_VALGRIND])
    prepared = (
        prepared_crud_app(args.database_url, args.users)
        if args.crud
        else prepared_app(args.database_url, args.users, root=tree)
    )
    with prepared as (app, token, seeded):
        for phase in args.phases.split(","):
            warm(app, token, phase, seeded)
            environs = [_environ(*phase_request(phase, seeded, i), token) for i in range(args.requests)]
            _dump(out)  # what came before this phase
            statuses: dict[int, int] = {}
            for environ in environs:
                status = _call(app, environ)[0]
                statuses[status] = statuses.get(status, 0) + 1
            counted = _instructions(_dump(out))
            print(f"{phase:7} {counted / args.requests / 1e6:6.3f} M instructions per request  {statuses}", flush=True)


def _restart_under_valgrind() -> None:
    """Run this script again under callgrind, counting from the start, and exit with its status."""
    with tempfile.TemporaryDirectory() as folder:
        command = [
            _tool("valgrind"),
            "--tool=callgrind",
            "--dump-instr=no",
            f"--callgrind-out-file={folder}/counts",
            sys.executable,
            *sys.argv,
        ]
        env = {**os.environ, _UNDER_VALGRIND: folder}
        finished = subprocess.run(command, env=env, stderr=subprocess.DEVNULL, check=False)
    raise SystemExit(finished.returncode)


def _dump(out: Path) -> Path:
    """Ask callgrind to write the counts since its last dump; return the file it writes them to.

    Nothing here reads the file: whatever runs between two dumps is counted in the second, so reading the first
    (all of the start-up, several megabytes) while the phase's own count runs would count the reading too.
    """
    before = set(out.glob("counts*"))
    subprocess.run([_tool("callgrind_control"), "--dump", str(os.getpid())], capture_output=True, check=False)
    while not (written := set(out.glob("counts*")) - before):
        time.sleep(0.05)
    return written.pop()


def _tool(name: str) -> str:
    """Return the path of one of valgrind's programs, or stop saying how to install them."""
    path = shutil.which(name)
    if path is None:
        raise SystemExit(f"{name} is not installed (apt-get install valgrind)")
    return path


def _instructions(dump: Path) -> int:
    """Return the total instructions a callgrind dump holds, once callgrind has finished writing it."""
    while True:
        for line in dump.read_text(errors="replace").splitlines():
            if line.startswith("totals:"):  # the file's last line
                return int(line.split()[1])
        time.sleep(0.05)


if __name__ == "__main__":
    main()
