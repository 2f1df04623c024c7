"""marshmallow schemas of the API: query parameters in, entries and pages out, problems; the OpenAPI source."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate

from services import request_log

_STATUS = re.compile(r"^(?:[1-5]xx|[1-5][0-9]{2})$")
_METHOD = re.compile(r"^[A-Z]{1,10}$")
_CURSOR_PREFIX = "r1:"
_EARLIEST, _LATEST = datetime(1, 1, 2), datetime(9999, 12, 30)


def encode_cursor(after: int) -> str:
    """Return the opaque `after` value for a row id."""
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{after}".encode()).decode().rstrip("=")


class Cursor(fields.Field[int]):
    """An opaque cursor from a `next` link; it decodes to the id of the last row a page held.

    A string on the wire (its metadata tells the OpenAPI document), an int once loaded: not a fields.String, which
    loads a str.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> int:
        if not isinstance(value, str):  # a query parameter always is one
            raise ValidationError("not a cursor from a next link")
        try:
            decoded = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise ValidationError("not a cursor from a next link") from None
        number = decoded.removeprefix(_CURSOR_PREFIX)
        if not decoded.startswith(_CURSOR_PREFIX) or not number.isdigit() or len(number) > 18:
            raise ValidationError("not a cursor from a next link")
        return int(number)


class UtcDateTime(fields.AwareDateTime):
    """An RFC 3339 date-time with an offset, loaded as naive UTC (how the log stores times)."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            utc = moment.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:
            utc = None
        # A day of margin at either end: queries move these bounds by a few seconds.
        if utc is None or not _EARLIEST <= utc <= _LATEST:
            raise ValidationError("must lie between the years 1 and 9999")
        return utc


class RequestLogQuery(Schema):
    """Parameters of both request-log endpoints, modelled on Okta's System Log API."""

    class Meta:
        unknown = RAISE

    since = UtcDateTime(
        format="iso",
        metadata={"description": "Only requests at or after this time (RFC 3339, e.g. 2026-11-01T00:00:00Z)."},
    )
    until = UtcDateTime(
        format="iso",
        metadata={
            "description": "Only requests before this time (exclusive). With it the query is bounded: its last page "
            "has no next link. Without it the query polls: every page has a next link to follow forever."
        },
    )
    limit = fields.Integer(
        load_default=request_log.DEFAULT_LIMIT,
        validate=validate.Range(1, request_log.MAX_LIMIT),
        metadata={"description": f"Rows per page, at most {request_log.MAX_LIMIT}. For CSV: the most rows to export."},
    )
    after = Cursor(
        metadata={"type": "string", "description": "Opaque cursor; take it from a next link, never build it."}
    )
    status = fields.List(
        fields.String(validate=validate.Regexp(_STATUS, error="must be a class such as 4xx or a code such as 404")),
        load_default=list,
        metadata={"description": "Status class (2xx, 4xx, 5xx ...) or exact code; repeat for several (any matches)."},
    )
    method = fields.List(
        fields.String(validate=validate.Regexp(_METHOD, error="must be an HTTP method such as GET")),
        load_default=list,
        metadata={"description": "HTTP method, e.g. DELETE; repeat for several."},
    )
    operation = fields.List(
        fields.String(validate=validate.Length(1, 40)),
        load_default=list,
        metadata={"description": "SCIM operation, e.g. user.deactivated; repeat for several."},
    )

    @post_load
    def _check_range(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise ValidationError("must be later than since", "until")
        return data


LIST_PARAMETERS = ("status", "method", "operation")


class RequestEntry(Schema):
    """One SCIM request as logged: never its body, query string or token."""

    id = fields.Integer(required=True, metadata={"description": "The entry's id; entries are returned in id order."})
    time = fields.String(
        required=True, metadata={"format": "date-time", "description": "When it was answered: RFC 3339, UTC, ms."}
    )
    credential_id = fields.Integer(
        allow_none=True, metadata={"description": "The SCIM credential it carried; null when none was accepted."}
    )
    method = fields.String(required=True)
    path = fields.String(required=True, metadata={"description": "The path alone, without the query string."})
    status = fields.Integer(required=True)
    duration_ms = fields.Float(required=True)
    client_ip = fields.String(allow_none=True)
    user_agent = fields.String(allow_none=True)
    operations = fields.List(
        fields.String(), required=True, metadata={"description": "What the request did, e.g. user.created."}
    )
    failure = fields.String(
        allow_none=True, metadata={"description": "Kind of failure: a SCIM scimType or our own code, e.g. not_found."}
    )
    count = fields.Integer(
        required=True,
        metadata={
            "description": "How many requests the entry stands for: 1, except for refusals of requests that proved no "
            "credential, which are counted per client address and minute."
        },
    )
    skipped_members = fields.Integer(
        required=True,
        metadata={
            "description": "How many member ids a group write skipped because they name no user SCIM can see "
            "(unknown, deprovisioned, promoted or local): a count, never the ids."
        },
    )
    resource_type = fields.String(
        allow_none=True, validate=validate.OneOf(["User", "Group"]), metadata={"description": "User or Group."}
    )
    resource_id = fields.String(
        allow_none=True, metadata={"description": "The SCIM id of the user or group the path names, if any."}
    )


class RequestPage(Schema):
    data = fields.List(fields.Nested(RequestEntry), required=True)
    next = fields.Url(
        allow_none=True,
        require_tld=False,
        required=True,
        metadata={"description": "The next page (also the Link rel=next header); null once a bounded query ends."},
    )


class Credential(Schema):
    """A SCIM credential of the tenant; never its token."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    slug = fields.String(allow_none=True)
    state = fields.String(required=True, validate=validate.OneOf(["active", "disabled", "revoked"]))
    created = fields.String(required=True, metadata={"format": "date-time"})
    last_used = fields.String(allow_none=True, metadata={"format": "date-time"})


class CredentialList(Schema):
    data = fields.List(fields.Nested(Credential), required=True)


class InvalidParam(Schema):
    name = fields.String(required=True)
    reason = fields.String(required=True)


class Problem(Schema):
    """RFC 9457 problem details."""

    type = fields.String(required=True, metadata={"example": "about:blank"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    invalid_params = fields.List(fields.Nested(InvalidParam), metadata={"description": "On 400: what is wrong."})
    required_scope = fields.String(metadata={"description": "On 403: the scope the key lacks."})
