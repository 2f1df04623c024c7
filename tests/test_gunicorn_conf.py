"""gunicorn.conf.py: access-log lines never carry a link's token; the per-worker rate-limit warning."""

from __future__ import annotations

import runpy
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

CONF = runpy.run_path(str(Path(__file__).resolve().parents[1] / "gunicorn.conf.py"))
TOKEN = "Q2hvb3NlLWEtcGFzc3dvcmQtdG9rZW4tMzItYnl0ZXMtbG9uZw"


def access_line(path: str, query: str = "", referer: str = "-") -> tuple[str, dict]:
    """Format one access-log line as gunicorn would, with the logger class gunicorn.conf.py names."""
    logger_class = CONF["logger_class"]
    assert issubclass(logger_class, Logger)
    logger = logger_class(Config())
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": path + (f"?{query}" if query else ""),
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.7",
        "HTTP_REFERER": referer,
    }
    response = SimpleNamespace(status="200 OK", headers=[("Content-Type", "text/html")], sent=512)
    request = SimpleNamespace(headers=[("Referer", referer), ("Host", "localhost")])
    atoms = logger.atoms(response, request, environ, timedelta(milliseconds=12))
    return CONF["access_log_format"] % logger.atoms_wrapper_class(atoms), atoms


@pytest.mark.parametrize("prefix", ["/admin/password/", "/admin/verify/", "/admin/setup/"])
def test_the_token_of_a_link_path_never_reaches_the_access_log(prefix):
    line, atoms = access_line(prefix + TOKEN, referer=f"https://localhost{prefix}{TOKEN}")
    assert line == f'203.0.113.7 "GET {prefix}…" 200 512 12ms'
    assert TOKEN not in repr(atoms)  # nor in any other atom a custom format could use (%(r)s, %(f)s ...)


@pytest.mark.parametrize(
    "path",
    ["/admin/verify/resend", "/admin/users/7/resend", "/scim/v2/Users/2819c223", "/admin/login", "/admin/password/"],
)
def test_other_paths_are_logged_as_they_are(path):
    line, _ = access_line(path)
    assert line == f'203.0.113.7 "GET {path}" 200 512 12ms'


def test_query_strings_stay_out_of_the_log():
    line, _ = access_line("/scim/v2/Users", query='filter=userName eq "ada@example.com"')
    assert "ada@example.com" not in line


def starting(workers: int) -> list[str]:
    warnings: list[str] = []
    log = SimpleNamespace(warning=lambda message, *args: warnings.append(message % args))
    CONF["on_starting"](SimpleNamespace(cfg=SimpleNamespace(workers=workers), log=log))
    return warnings


@pytest.mark.parametrize("variable", [None, "MOBIEUS_RATELIMIT_STORAGE_URI", "RATELIMIT_STORAGE_URI"])
def test_in_memory_limits_with_several_workers_warn_once_at_start(monkeypatch, variable):
    monkeypatch.delenv("MOBIEUS_RATELIMIT_STORAGE_URI", raising=False)
    monkeypatch.delenv("RATELIMIT_STORAGE_URI", raising=False)
    if variable:
        monkeypatch.setenv(variable, "memory://")
    (warning,) = starting(workers=4)
    assert "per worker" in warning and "4 workers" in warning and "redis://" in warning
    assert "\n" not in warning


def test_shared_storage_or_one_worker_does_not_warn(monkeypatch):
    monkeypatch.delenv("MOBIEUS_RATELIMIT_STORAGE_URI", raising=False)
    assert starting(workers=1) == []
    monkeypatch.setenv("MOBIEUS_RATELIMIT_STORAGE_URI", "redis://cache:6379")
    assert starting(workers=4) == []


def test_the_unprefixed_name_the_app_does_not_read_still_warns(monkeypatch):
    monkeypatch.delenv("MOBIEUS_RATELIMIT_STORAGE_URI", raising=False)
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "redis://cache:6379")
    assert len(starting(workers=4)) == 1
