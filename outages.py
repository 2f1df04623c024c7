"""What a request gets when the database goes away: a 503 in its protocol, and nothing past the app.

Three places meet a lost connection: the view (or its COMMIT), the error handler's rollback, and the
end of the request, where Flask-SQLAlchemy's session.remove() rolls back on the dead connection.
None of them may let an exception out to the WSGI server: gunicorn would answer an HTML page and
print the request URI, query string included, in its error log.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from flask import Flask, Response, request
from sqlalchemy.exc import SQLAlchemyError

import logsafe
from models import db
from services import database

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    from _typeshed import OptExcInfo

    # start_response's arguments, held until the app has returned.
    _Start = tuple[str, list[tuple[str, str]], OptExcInfo | None]

log = logsafe.logger(__name__)

# Seconds an IdP should wait, as an integer (the form Okta reads): long enough for a pool to reconnect
# or a failover to finish, short enough that a sync is not held up.
RETRY_AFTER = 5
UNAVAILABLE_DETAIL = "the database is unavailable; retry after Retry-After seconds"
_PAGE = (
    "<!doctype html><title>503 Service Unavailable</title>"
    "<h1>503 · Service Unavailable</h1><p>The service is briefly unavailable. Try again in a few seconds.</p>"
)
_ERROR_PAGE = "<!doctype html><title>500 Internal Server Error</title><h1>500 · Internal Server Error</h1>"


def init_app(app: Flask) -> None:
    """End every request's session safely, and keep exceptions from reaching the server.

    Call it last in create_app: the teardown must run before Flask-SQLAlchemy's own (Flask runs
    teardowns in reverse order of registration), and the WSGI guard must wrap every other middleware.
    """
    app.teardown_appcontext(_release_session)
    app.wsgi_app = LastResort(app.wsgi_app)  # type: ignore[method-assign]  # Flask's documented middleware hook


def unavailable_response() -> Response:
    """Answer 503 with Retry-After: a SCIM Error body on /scim/v2, a plain page elsewhere (no template, no query)."""
    from scim import is_scim_path
    from scim.errors import error_response

    if is_scim_path(request.path):
        response = error_response(503, UNAVAILABLE_DETAIL, failure="database_unavailable")
    else:
        response = Response(_PAGE, 503, mimetype="text/html")
    response.headers["Retry-After"] = str(RETRY_AFTER)
    return response


def _release_session(_error: BaseException | None) -> None:
    """Close the request's session; a connection the server ended cannot even roll back, and need not."""
    try:
        db.session.close()
    except SQLAlchemyError as error:
        if not database.unavailable(error):
            log.warning("closing the database session failed: %s", type(error).__name__)
        # SQLAlchemy has invalidated the connection and dropped the transaction; Flask-SQLAlchemy's
        # session.remove() that follows now finds nothing left to roll back.


class LastResort:
    """WSGI middleware: an exception that escapes the app becomes a logged 500/503, never a server error page.

    The app's status and headers are held back until it has returned: Flask sends them before its
    teardown runs, and an error there must still be able to replace them.
    """

    def __init__(self, wsgi_app: WSGIApplication) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        held: list[_Start] = []
        returned = False

        def hold(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> Callable[[bytes], object]:
            if returned:  # an app that starts its response lazily, from its iterable
                return start_response(status, headers, exc_info)
            held[:] = [(status, headers, exc_info)]
            return lambda data: self._late_write(start_response, held, data)

        try:
            body = self.wsgi_app(environ, hold)
        except Exception as error:  # noqa: BLE001 - the last place to answer in the client's protocol
            return self._answer(environ, start_response, error)
        returned = True
        if held:
            start_response(*held.pop())
        return body

    @staticmethod
    def _late_write(start_response: StartResponse, held: list[_Start], data: bytes) -> None:
        """Serve the old-style write() callable: start the response first if it is still held."""
        if held:
            write = start_response(*held.pop())
            write(data)
            return
        raise RuntimeError("write() after the response was started elsewhere")

    @staticmethod
    def _answer(environ: WSGIEnvironment, start_response: StartResponse, error: Exception) -> list[bytes]:
        from scim import is_scim_path
        from scim.definitions import ERROR

        status = 503 if database.unavailable(error) else 500
        scim = is_scim_path(environ.get("PATH_INFO", ""))
        # The type and frames only: the message may quote SQL parameters, and paths may carry link tokens.
        frames = "".join(traceback.format_tb(error.__traceback__))
        surface = "SCIM" if scim else "dashboard"
        log.error(
            "%s escaped the app on a %s %s request\n%s",
            type(error).__name__,
            surface,
            environ.get("REQUEST_METHOD"),
            frames,
        )
        if scim:
            detail = UNAVAILABLE_DETAIL if status == 503 else "internal server error"
            body = json.dumps({"schemas": [ERROR], "status": str(status), "detail": detail}).encode()
            content_type = "application/scim+json"
        else:
            body = (_PAGE if status == 503 else _ERROR_PAGE).encode()
            content_type = "text/html; charset=utf-8"
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        if status == 503:
            headers.append(("Retry-After", str(RETRY_AFTER)))
        start_response("503 Service Unavailable" if status == 503 else "500 Internal Server Error", headers)
        return [body]
