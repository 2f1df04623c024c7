"""Errors of the public API as RFC 9457 problem details (`application/problem+json`), Flask's own included."""

from __future__ import annotations

import time

from flask import Response, json, make_response
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ApiProblem(Exception):
    """An error the client caused or must know about; `extensions` become extra members of the body."""

    def __init__(
        self, status: int, detail: str, *, headers: dict[str, str] | None = None, **extensions: object
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions


def problem_response(status: int, detail: str, headers: dict[str, str] | None = None, **extensions: object) -> Response:
    """Build a problem details response: RFC 9457 §3.1's members, then any extension members."""
    # "about:blank" says the status code is the whole story; `detail` says what happened this time.
    body: dict[str, object] = {
        "type": "about:blank",
        "title": HTTP_STATUS_CODES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    body.update(extensions)
    response = make_response(json.dumps(body), status)
    response.mimetype = PROBLEM_MEDIA_TYPE
    response.headers.update(headers or {})
    return response


def render(error: ApiProblem) -> Response:
    """Render an ApiProblem raised anywhere under /api/v1."""
    return problem_response(error.status, error.detail, error.headers, **error.extensions)


def from_http_error(error: HTTPException) -> Response:
    """Answer Flask's own errors (404, 405, 429, 500 ...) on /api/v1 as problem details."""
    status = error.code or 500
    detail = {
        404: "no such API endpoint or resource",
        405: "this endpoint does not take that method",
        429: "too many requests with this API key; retry after Retry-After seconds",
        500: "the request failed on our side",
    }.get(status, error.description or HTTP_STATUS_CODES.get(status, "request failed"))
    headers: dict[str, str] = {}
    allowed = getattr(error, "valid_methods", None)
    if status == 405 and allowed:
        headers["Allow"] = ", ".join(sorted(allowed))
    if status == 429:
        headers["Retry-After"] = str(_retry_after(error))
    return problem_response(status, detail, headers)


def _retry_after(error: HTTPException) -> int:
    """Seconds until the key's window resets (an integer, as clients sleep on it), at least 1."""
    from app import limiter

    current = limiter.current_limit
    if current is not None and current.breached:
        return max(1, int(current.reset_at - time.time()))
    window = getattr(getattr(error, "limit", None), "limit", None)
    return max(1, int(window.get_expiry()) if window else 1)
