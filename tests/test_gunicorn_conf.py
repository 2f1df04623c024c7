"""gunicorn.conf.py: access-log lines never carry a link's token; the per-worker rate-limit warning."""

from __future__ import annotations

import runpy
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote

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


@pytest.fixture
def error_log():
    """gunicorn's error logger as a worker has it after post_fork; yields the lines it writes."""
    import logging

    logger = CONF["logger_class"](Config())
    CONF["post_fork"](None, None)
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(logging.Formatter().format(record))
    logger.error_log.addHandler(handler)
    yield logger, lines
    logger.error_log.removeHandler(handler)
    for installed in [f for f in logger.error_log.filters if type(f).__name__ == "ErrorLogFilter"]:
        logger.error_log.removeFilter(installed)


def test_an_error_handling_a_request_is_logged_without_its_query_or_message(error_log):
    logger, lines = error_log
    uri = "/scim/v2/Users?filter=userName%20eq%20%22ada%40example.com%22"
    try:
        raise RuntimeError(unquote(uri))  # a message quoting the request, as SQLAlchemy's quote SQL parameters
    except RuntimeError:
        logger.exception("Error handling request %s %s", "GET", uri)  # what gunicorn's worker does
    (line,) = lines
    assert line.startswith("Error handling request GET /scim/v2/Users?…\nRuntimeError (message withheld)\n")
    assert "test_an_error_handling_a_request_is_logged" in line  # the frames stay, for the operator
    assert "ada@example.com" not in line and "ada%40example.com" not in line and "filter=" not in line


def test_a_malformed_request_line_is_logged_without_its_query(error_log):
    logger, lines = error_log
    line = 'GET /scim/v2/Users?filter=userName eq "ada@example.com" HTTP/1.1'  # spaces make it invalid
    logger.warning(f"Invalid request from ip=203.0.113.7: Invalid HTTP request line: '{line}'")  # as gunicorn does
    assert lines == ["Invalid request from ip=203.0.113.7: Invalid HTTP request line: 'GET /scim/v2/Users?… HTTP/1.1'"]


def test_other_error_log_lines_are_left_alone(error_log):
    logger, lines = error_log
    logger.error("Worker (pid:%s) was sent SIGKILL! Perhaps out of memory?", 4242)
    assert lines == ["Worker (pid:4242) was sent SIGKILL! Perhaps out of memory?"]
