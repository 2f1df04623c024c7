"""gunicorn with gunicorn.conf.py, as production runs it: its limits, its access log, the app behind it.

One real server on 127.0.0.1 for the module, one worker, on a fresh SQLite file; stopped at the end.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.helpers import subprocess_env

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Served:
    def __init__(self, port: int, token: str, process: subprocess.Popen, log: Path) -> None:
        self.port, self.token, self.process, self.log = port, token, process, log

    def request(self, method: str, target: str, headers: dict | None = None) -> tuple[int, str, str]:
        """Send one request and return (status, content type, body)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            merged = {"Host": f"127.0.0.1:{self.port}", "Authorization": f"Bearer {self.token}", **(headers or {})}
            for name, value in merged.items():
                connection.putheader(name, value)
            connection.endheaders()
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type") or "", response.read().decode("utf-8")
        finally:
            connection.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("gunicorn")
    port = _free_port()
    env = subprocess_env(
        DATABASE_URL=f"sqlite:///{folder / 'served.db'}",
        SECRET_KEY="gunicorn-test-secret",
        INSTANCE_PATH=str(folder / "instance"),
        MOBIEUS_PUBLIC_URL=f"http://127.0.0.1:{port}",
        BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="1",
    )

    def flask(*args: str) -> str:
        done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    flask("db", "upgrade")
    flask("bootstrap")
    token = flask("scim", "issue", "--tenant", "default", "--name", "gunicorn test").splitlines()[-1]
    log = folder / "gunicorn.log"
    with log.open("w") as output:
        # Only where the access log goes differs from production: a file the test can read while serving.
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            # No control socket: its default path is shared by every gunicorn of the user on this machine.
            [sys.executable, "-m", "gunicorn", "--access-logfile", str(log), "--no-control-socket", "app:create_app()"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Served(port, token, process, log)
    try:
        for _ in range(300):  # up to 30 s for the worker to come up on a busy machine
            if process.poll() is not None:
                pytest.fail("gunicorn exited at start:\n" + log.read_text())
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_long_filter_that_gunicorns_default_limit_refused_reaches_the_app(served):
    # 1,500 characters, each percent-encoded: about 4,500 bytes of request line, over gunicorn's default of 4094.
    text = 'userName eq "' + '"' * 1487 + '"'
    target = "/scim/v2/Users?filter=" + quote(text, safe="")
    assert len(target) > 4094
    status, content_type, body = served.request("GET", target)
    assert status == 400 and content_type.startswith("application/scim+json")
    assert json.loads(body)["scimType"] == "invalidFilter"


def test_a_long_header_field_reaches_the_app(served):
    status, content_type, body = served.request("GET", "/scim/v2/Users", {"Authorization": "Bearer " + "x" * 12_000})
    assert status == 401 and content_type.startswith("application/scim+json")


def test_beyond_gunicorns_maximum_gunicorn_answers_itself(served):
    status, content_type, _ = served.request("GET", "/scim/v2/Users?filter=" + "a" * 9000)
    assert status in (400, 414) and not content_type.startswith("application/scim+json")


def test_options_and_a_hostile_host_answer_in_scim_terms(served):
    status, content_type, body = served.request("OPTIONS", "/scim/v2/Users")
    assert status == 204 and body == ""
    status, content_type, body = served.request("GET", "/scim/v2/Users", {"Host": "attacker.evil"})
    assert status == 400 and content_type.startswith("application/scim+json") and "attacker.evil" not in body


def test_the_access_log_keeps_one_line_per_request(served):
    served.request("GET", "/scim/v2/Users/x%0a203.0.113.99%20%22GET%20/forged%22%20200%0d%1b[2J", {"User-Agent": "ok"})
    # One sync worker logs a request before it reads the next one: after a second answer, the line is there.
    served.request("GET", "/scim/v2/ServiceProviderConfig")
    text = served.log.read_text()
    lines = [line for line in text.splitlines() if '"GET /scim/v2/Users/x' in line]
    assert len(lines) == 1, text
    assert "\\x0a203.0.113.99" in lines[0] and "\\x0d\\x1b[2J" in lines[0]
    assert not any(line.startswith("203.0.113.99") for line in text.splitlines())
