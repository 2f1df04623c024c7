"""gunicorn.conf.py: access-log lines never carry a link's token; the per-worker rate-limit warning."""

from __future__ import annotations

import logging
import re
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


def access_line(
    path: str, query: str = "", referer: str = "-", user_agent: str = "curl/8", log_format: str | None = None
) -> tuple[str, dict]:
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
        "HTTP_USER_AGENT": user_agent,
    }
    response = SimpleNamespace(status="200 OK", headers=[("Content-Type", "text/html")], sent=512)
    request = SimpleNamespace(headers=[("Referer", referer), ("Host", "localhost"), ("User-Agent", user_agent)])
    atoms = logger.atoms_wrapper_class(logger.atoms(response, request, environ, timedelta(milliseconds=12)))
    # Every atom as a format naming it would read it: escaped on reading, so read each one.
    return (log_format or CONF["access_log_format"]) % atoms, {name: atoms[name] for name in atoms}


@pytest.mark.parametrize("prefix", ["/admin/password/", "/admin/verify/", "/admin/setup/", "/admin/sign-in/"])
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


# --- control characters: a client cannot write lines of its own --------------------------------------------

# What `%0a`, `%0d` and `%1b` in a request path decode to, and what a User-Agent can carry.
FORGED = '\n203.0.113.99 "GET /admin/login" 200 0 1ms\r\x1b[2J\x00\u2028'
UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def test_control_characters_in_the_path_cannot_forge_a_line():
    line, atoms = access_line("/scim/v2/Users/" + FORGED)
    assert not UNPRINTABLE.search(line) and "\n" not in line
    assert line.startswith('203.0.113.7 "GET /scim/v2/Users/\\x0a203.0.113.99 ')
    assert "\\x0d\\x1b[2J\\x00\\u2028" in line


def test_control_characters_in_the_user_agent_and_every_other_atom_are_escaped():
    log_format = '%(h)s "%(r)s" %(s)s "%(f)s" "%(a)s" %({user-agent}i)s'
    line, atoms = access_line(
        "/a%0a" + FORGED, referer="https://x/" + FORGED, user_agent="Okta" + FORGED, log_format=log_format
    )
    assert not UNPRINTABLE.search(line)
    assert 'Okta\\x0a203.0.113.99 \\"GET' in line  # gunicorn itself escapes the quotes
    assert line.count("Okta\\x0a203.0.113.99") == 2
    assert not [name for name, value in atoms.items() if isinstance(value, str) and UNPRINTABLE.search(value)]


def test_a_backslash_is_escaped_so_an_escape_in_the_log_is_never_text_the_client_typed():
    line, _ = access_line("/x\\x0aforged")
    assert "/x\\\\x0aforged" in line


def test_gunicorn_error_log_lines_quoting_a_request_are_escaped_too():
    # Read twice and built twice, as a reload does: the lines must still be escaped once, not twice.
    CONF["logger_class"](Config())
    reread = runpy.run_path(str(Path(__file__).resolve().parents[1] / "gunicorn.conf.py"))
    logger = reread["logger_class"](Config())
    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())
    logger.error_log.addHandler(handler)
    try:
        logger.warning("Invalid request from ip=203.0.113.7: Invalid header 'X" + FORGED + "'")
        logger.exception("Error handling request %s", "/admin/password/" + "T" * 40 + FORGED)
        logger.error("Error handling request %s", "/a\\b")
    finally:
        logger.error_log.removeHandler(handler)
    assert len(seen) == 3
    assert seen[2] == "Error handling request /a\\\\b"
    assert not any(UNPRINTABLE.search(message) for message in seen), seen
    assert "T" * 40 not in seen[1]  # and the link's token is cut out there as well


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
