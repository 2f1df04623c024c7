"""Start an app under gunicorn on a free loopback port, talk to it, and read its CPU time: for the benchmarks."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Gunicorn:
    """One app under gunicorn: 2 gthread workers x 4 threads, as every app in a comparison runs."""

    def __init__(self, name: str, target: str, *, cwd: Path, env: dict[str, str], preload: bool = False) -> None:
        self.name, self.target, self.cwd, self.preload = name, target, cwd, preload
        self.env = {**os.environ, **env, "PYTHONPATH": str(cwd)}
        self.port = free_port()
        self.token: str | None = None
        self.process: subprocess.Popen | None = None

    def flask(self, *args: str) -> str:
        """Run a `flask --app app` command in the app's environment and return what it printed."""
        command = [str(BIN / "flask"), "--app", "app", *args]
        return subprocess.run(command, cwd=self.cwd, env=self.env, check=True, capture_output=True, text=True).stdout

    def python(self, code: str) -> None:
        subprocess.run([sys.executable, "-c", code], cwd=self.cwd, env=self.env, check=True)

    @contextmanager
    def running(self) -> Iterator[Gunicorn]:
        command = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{self.port}", "--workers", "2", "--threads", "4"]
        command += ["--worker-class", "gthread", "--log-level", "warning", "--access-logfile", "/dev/null"]
        if self.preload:
            command.append("--preload")
        # Ours reads gunicorn.conf.py from its folder; the baselines get the same worker settings from the flags.
        self.process = subprocess.Popen([*command, self.target], cwd=self.cwd, env=self.env)
        try:
            self._wait_until_listening()
            yield self
        finally:
            self.process.terminate()
            self.process.wait(timeout=30)

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name}: gunicorn exited with {self.process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                time.sleep(0.5)  # let every worker finish booting
                return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"{self.name}: gunicorn did not listen within 60 s")

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def send(self, connection: http.client.HTTPConnection, method: str, path: str, body: dict | None):
        """Send one request on a keep-alive connection; return (status, body bytes)."""
        headers = {"Accept": "application/scim+json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/scim+json"
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()

    def cpu_seconds(self) -> float:
        """User + system CPU time of the master and its workers so far."""
        pids = [self.process.pid]
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        pids += [int(pid) for pid in children.read_text().split()]
        return cpu_seconds(pids)


def cpu_seconds(pids: Iterable[int]) -> float:
    """Return the user + system CPU seconds the processes `pids` have used, read from /proc (gone ones count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / TICKS


@contextmanager
def fresh_database(server_url: str | None, work: Path, name: str) -> Iterator[str]:
    """Yield a SQLite file URL in `work`, or a new PostgreSQL database on `server_url`, dropped afterwards."""
    if not server_url:
        yield f"sqlite:///{work / (name + '.db')}"
        return
    import psycopg

    database = f"bench_{name}_{uuid.uuid4().hex[:8]}"
    plain = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    try:
        yield plain.replace("postgresql://", "postgresql+psycopg://", 1).rsplit("/", 1)[0] + "/" + database
    finally:
        with psycopg.connect(plain, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
