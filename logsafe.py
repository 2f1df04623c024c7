"""Log what a client wrote without letting it write the log: control characters come out escaped.

A path decoded from `%0a`, or a User-Agent with a carriage return or a terminal escape (`\\x1b[2J`),
would otherwise start a forged line or rewrite an operator's terminal. gunicorn.conf.py uses the
same function for the access log.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # gunicorn.conf.py imports this module too, without the app
    from flask import Flask

# C0 and C1 controls, DEL, the Unicode line and paragraph separators, and the backslash (so that an
# escape in the log always means an escaped character, never text the client typed as `\x0a`).
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\\]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\\":
        return "\\\\"
    return f"\\x{ord(char):02x}" if ord(char) <= 0xFF else f"\\u{ord(char):04x}"


def printable(value: object) -> object:
    """Return a string with its control characters escaped as \\xNN; other values unchanged."""
    return _UNPRINTABLE.sub(_escape, value) if isinstance(value, str) else value


class Traceback(str):
    """Stack frames our own code formatted, multi-line on purpose: the filter leaves them as they are."""


class PrintableArgs(logging.Filter):
    """Escape every string argument of a record; the message format itself is ours."""

    escapes_control_characters = True  # the mark install() looks for

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(arg if isinstance(arg, Traceback) else printable(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: printable(arg) for key, arg in record.args.items()}
        return True


def install(logger: logging.Logger, log_filter: logging.Filter) -> None:
    """Add an escaping filter to `logger` unless one is there already.

    Twice would escape every backslash twice: every app of a process shares its logger (tests build many),
    and gunicorn reads its config file again on reload.
    """
    if not any(getattr(present, "escapes_control_characters", False) for present in logger.filters):
        logger.addFilter(log_filter)


def logger(name: str) -> logging.Logger:
    """Return the logger `name` with the escaping filter: how every module of the project gets its logger.

    A filter on a logger sees only the records logged on that very logger, not its children's, so each
    module's logger carries one (`log = logsafe.logger(__name__)`).
    """
    found = logging.getLogger(name)
    install(found, PrintableArgs())
    return found


def init_app(app: Flask) -> None:
    """Escape the arguments of every line the app logs (request method, anything a client chose)."""
    install(app.logger, PrintableArgs())
