"""gunicorn settings, read from the working directory by `gunicorn 'app:create_app()'`."""

import logging
import os
import re
import traceback

from gunicorn.glogging import Logger, SafeAtoms

from logsafe import install, printable  # the project folder is on sys.path: gunicorn reads this file from there

bind = os.environ.get("BIND", "127.0.0.1:5000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
accesslog = "-"
# gunicorn answers a request line or header field over these limits itself, in HTML, before the app sees
# the request. Raised from 4094 and 8190 so that the app answers more of them in its own protocol: the
# request line at gunicorn's maximum holds a SCIM filter well past the app's 1,000-character cap even
# percent-encoded (a SCIM 400 invalidFilter), and a header field of up to 16 KiB reaches the app (an
# over-long bearer token is a SCIM 401). Beyond these, gunicorn's own 400/414/431 remains.
limit_request_line = 8190  # gunicorn's maximum
limit_request_field_size = 16384
# The path only: SCIM query strings carry filters such as userName eq "someone@corp", which are
# personal data and must stay out of logs (as the request log in the database keeps them out).
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'

# Mailed and printed links carry a live token as a path segment: /admin/password/<token>,
# /admin/verify/<token> (but not /admin/verify/resend), /admin/setup/<token> and /admin/sign-in/<token>.
TOKEN_IN_PATH = re.compile(r"(/admin/(?:password|setup|sign-in|verify)/)(?!resend(?:[/?#\s]|$))[^/?#\s]+")


def redact(value):
    """Replace the token segment of a link path in a log value with an ellipsis."""
    return TOKEN_IN_PATH.sub("\\1…", value) if isinstance(value, str) else value


class _PrintableErrorLog(logging.Filter):
    """gunicorn's own lines quote requests too ("Invalid request from ip=...: <what was sent>", "Error handling
    request <uri>"): escape and redact their message and arguments. A traceback's frames are left alone."""

    escapes_control_characters = True  # the mark logsafe.install() looks for

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = printable(redact(record.msg))
        if isinstance(record.args, tuple):
            record.args = tuple(printable(redact(arg)) for arg in record.args)
        return True


class EscapedAtoms(SafeAtoms):
    """The atoms of one access-log line, each without tokens and with control characters escaped as the format
    reads it, so `%0a` in a path cannot forge a line.

    Escaped on reading, not all at once: gunicorn offers some thirty atoms (one per request and response header
    among them) and the format names six, so escaping each costs more than writing the line. Any atom a custom
    format names is read through here too. Quotes are escaped last, as gunicorn's own SafeAtoms does.
    """

    def __init__(self, atoms) -> None:
        dict.__init__(self, atoms)

    def __getitem__(self, name):
        value = super().__getitem__(name)
        return printable(redact(value)).replace('"', '\\"') if isinstance(value, str) else value


class RedactingLogger(Logger):
    """gunicorn's logger: every access-log atom (path, request line, User-Agent, Referer ...) without tokens
    and with control characters escaped; the same for the error log."""

    atoms_wrapper_class = EscapedAtoms

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        # Once per logger, however often this file is read. It runs before ErrorLogFilter (added after the
        # fork, below), which appends a traceback's frames, multi-line on purpose, after this escaping.
        install(self.error_log, _PrintableErrorLog())


logger_class = RedactingLogger


def on_starting(server):
    """Say once, at start, when the sign-in and link-request limits are counted per worker."""
    storage = os.environ.get("MOBIEUS_RATELIMIT_STORAGE_URI") or ""  # the name the app reads (config.py)
    if server.cfg.workers > 1 and (not storage or storage.startswith("memory://")):
        server.log.warning(
            "rate limits (failed sign-ins, link requests) are kept in memory, per worker: each of the %d workers "
            "allows the full limit; set MOBIEUS_RATELIMIT_STORAGE_URI=redis://host:6379 to share them",
            server.cfg.workers,
        )


# The error log. An exception that reaches gunicorn is logged as "Error handling request <URI>" with its
# traceback, and a malformed request as "Invalid request from ip=...: <request line>": both would print the
# query string, and the traceback the exception's message (SQL parameters, filter values). The app keeps
# its exceptions in (outages.LastResort); this filter is the second line, for whatever still gets here.
QUERY_STRING = re.compile(r"(/[^\s?]*)\?.*?(?=\s+HTTP/\d|$)", re.MULTILINE)


def strip_query(value):
    """Cut the query string out of every path in a log text."""
    return QUERY_STRING.sub("\\1?…", value) if isinstance(value, str) else value


class ErrorLogFilter(logging.Filter):
    """Rewrite gunicorn's error-log records: no query strings, and tracebacks as frames without the message."""

    def filter(self, record):
        message = strip_query(record.getMessage())
        error = record.exc_info[1] if record.exc_info else None
        if error is not None:
            frames = "".join(traceback.format_tb(error.__traceback__))
            message = f"{message}\n{type(error).__name__} (message withheld)\n{frames}"
            record.exc_info = record.exc_text = None
        record.msg, record.args = message, ()
        return True


def post_fork(server, worker):
    """Install the error-log filter in each worker, where requests are handled."""
    error_log = logging.getLogger("gunicorn.error")
    if not any(isinstance(f, ErrorLogFilter) for f in error_log.filters):
        error_log.addFilter(ErrorLogFilter())
