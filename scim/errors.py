"""SCIM error types and the one renderer for RFC 7644 §3.12 error bodies."""

from __future__ import annotations

from flask import Response, g, json, make_response

from scim.definitions import ERROR

SCIM_MEDIA_TYPE = "application/scim+json"
# The one detail for every unknown or hidden user or group, so the bodies are byte-identical (R3).
RESOURCE_NOT_FOUND = "resource not found"


class ScimError(Exception):
    """An error the client caused or must know about, rendered as a SCIM Error body."""

    status = 400
    scim_type: str | None = None
    retry_after: int | None = None  # seconds, sent as Retry-After (an integer: Okta waits exactly that long)

    def __init__(
        self, detail: str, *, status: int | None = None, failure: str | None = None, reason: str | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.failure = failure  # our own failure code for the request log, where scimType says too little
        # Finer still, for the request's detail view: a fixed code of ours, never a value from the request.
        self.reason = reason
        if status is not None:
            self.status = status


class InvalidFilter(ScimError):
    """The filter syntax is invalid or names an attribute we cannot filter on."""

    scim_type = "invalidFilter"


class Uniqueness(ScimError):
    """A unique attribute clashes with another resource (409)."""

    status = 409
    scim_type = "uniqueness"


class Mutability(ScimError):
    """The request tried to change a read-only or immutable attribute."""

    scim_type = "mutability"


class InvalidSyntax(ScimError):
    """The request body is not a well-formed SCIM message."""

    scim_type = "invalidSyntax"


class InvalidPath(ScimError):
    """A PATCH path is not a valid attribute path."""

    scim_type = "invalidPath"


class NoTarget(ScimError):
    """A PATCH path matched nothing where something was needed."""

    scim_type = "noTarget"


class InvalidValue(ScimError):
    """A value is missing, of the wrong type, or not allowed."""

    scim_type = "invalidValue"


class NotFound(ScimError):
    """The resource does not exist, or does not exist for SCIM (R3)."""

    status = 404


class Unauthorized(ScimError):
    """The bearer credential is missing, wrong, disabled or revoked (R9)."""

    status = 401
    scim_type = "invalid_token"


class TooManyFailures(ScimError):
    """Too many failed authentications from this client address (429); retry after `retry_after` seconds."""

    status = 429

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, failure="too_many_failures")
        self.retry_after = retry_after


class Unavailable(ScimError):
    """The service cannot do this now (503)."""

    status = 503


def error_response(status: int, detail: str, scim_type: str | None = None, *, failure: str | None = None) -> Response:
    """Build a SCIM Error response and note the failure kind for the audit log (R11)."""
    body: dict[str, object] = {"schemas": [ERROR], "status": str(status), "detail": detail}
    # `invalid_token` is our own code: RFC 7644 scimType values apply to 400 and 409 only.
    if scim_type and status in (400, 409):
        body["scimType"] = scim_type
    g.scim_failure = failure or scim_type or _default_failure(status)
    response = make_response(json.dumps(body), status)
    response.mimetype = SCIM_MEDIA_TYPE
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="SCIM", error="invalid_token"'
    return response


def render(error: ScimError) -> Response:
    """Render a ScimError raised anywhere under /scim/v2."""
    response = error_response(error.status, error.detail, error.scim_type, failure=error.failure)
    g.scim_reason = error.reason
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def _default_failure(status: int) -> str:
    return {
        401: "invalid_token",
        404: "not_found",
        405: "method_not_allowed",
        415: "unsupported_media_type",
        429: "rate_limited",
        500: "server_error",
        501: "not_implemented",
        503: "unavailable",
    }.get(status, f"http_{status}")
