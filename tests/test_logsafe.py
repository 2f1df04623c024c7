"""The app's own log lines escape whatever a client wrote, so no value can start a line of its own."""

from __future__ import annotations

import logging

import pytest

from app import _unexpected_error
from logsafe import Traceback, printable


@pytest.mark.parametrize(
    ("raw", "logged"),
    [
        ("GET\nFORGED", "GET\\x0aFORGED"),
        ("a\r\nb", "a\\x0d\\x0ab"),
        ("\x1b[2Jclear", "\\x1b[2Jclear"),
        ("nul\x00del\x7fnel\x85", "nul\\x00del\\x7fnel\\x85"),
        ("line\u2028sep", "line\\u2028sep"),
        ("back\\slash", "back\\\\slash"),
        ("plain ünïcode / path", "plain ünïcode / path"),
    ],
)
def test_printable_escapes_control_characters(raw, logged):
    assert printable(raw) == logged


def test_every_string_argument_of_an_app_log_line_is_escaped(app, caplog):
    with caplog.at_level(logging.INFO, logger=app.logger.name):
        app.logger.warning("client said %s and %r", "x\ny", 7)
    (record,) = caplog.records
    assert record.getMessage() == "client said x\\x0ay and 7"


def test_each_app_of_a_process_escapes_once(make_app, app, caplog):
    """All apps share one logger: a filter per app would escape a backslash once more per app built."""
    for _ in range(3):
        make_app()
    with caplog.at_level(logging.INFO, logger=app.logger.name):
        app.logger.warning("path %s", "a\\b\n")
    assert caplog.records[-1].getMessage() == "path a\\\\b\\x0a"


def test_an_unhandled_error_logs_the_method_escaped_and_its_frames_as_they_are(app, caplog):
    secret = "never logged"  # a variable: the frames quote the source line, not the message
    try:
        raise KeyError(secret)
    except KeyError as error:
        raised = error
    with app.test_request_context("/anywhere", method="GET\r\n203.0.113.9 forged line"), caplog.at_level(logging.ERROR):
        assert _unexpected_error(raised)[1] == 500
    (record,) = [r for r in caplog.records if r.getMessage().startswith("unhandled")]
    first, _, frames = record.getMessage().partition("\n")
    assert (
        first == "unhandled KeyError on GET\\x0d\\x0a203.0.113.9 FORGED LINE (no route)"
    )  # werkzeug upper-cases methods
    assert "test_logsafe.py" in frames and secret not in record.getMessage()
    assert isinstance(record.args[-1], Traceback)


def test_a_module_logger_escapes_what_a_client_wrote(app, caplog):
    """outages.py logs the request method a client chose; its module logger escapes it like the app's."""
    import outages

    with caplog.at_level(logging.INFO, logger="outages"):
        outages.log.warning("method %s", "GET\nFORGED 200")
    (record,) = [r for r in caplog.records if r.name == "outages"]
    assert record.getMessage() == "method GET\\x0aFORGED 200"


def test_every_module_gets_its_logger_one_way():
    """Module loggers come from logsafe.logger(__name__): a bare getLogger or current_app.logger skips the escaping."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sources = [p for p in root.glob("*.py") if p.name not in {"logsafe.py", "gunicorn.conf.py"}]
    for package in ("scim", "admin", "api", "services", "cli", "models"):
        sources += (root / package).rglob("*.py")
    offenders = []
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in {"getLogger", "logger"}:
                owner = ast.unparse(node.value)
                if (node.attr, owner) in {("getLogger", "logging"), ("logger", "current_app"), ("logger", "app")}:
                    offenders.append(f"{path.relative_to(root)}:{node.lineno} {owner}.{node.attr}")
    assert offenders == []
