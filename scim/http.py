"""Wire helpers shared by every SCIM view: bodies in, SCIM JSON out, paging (RFC 7644 §3.4.2.4, §3.8)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, json, make_response, request

from scim.definitions import LIST_RESPONSE, PATCH_OP
from scim.errors import SCIM_MEDIA_TYPE, InvalidSyntax, InvalidValue, ScimError

_ACCEPTED_TYPES = ("application/scim+json", "application/json")


def scim_response(body: dict | None, status: int = 200, location: str | None = None):
    """Serialise a SCIM body as application/scim+json (Entra rejects plain JSON)."""
    response = make_response("" if body is None else json.dumps(body), status)
    response.mimetype = SCIM_MEDIA_TYPE
    if location:
        response.headers["Location"] = location
    return response


def request_body() -> dict:
    """Return the JSON object sent, whatever JSON-ish media type (or none) labels it.

    Entra sends DELETE with no Content-Type and Okta's tests send application/json, so only a
    media type that is clearly something else is refused.
    """
    mimetype = request.mimetype
    if mimetype and mimetype not in _ACCEPTED_TYPES and not mimetype.endswith("+json"):
        raise ScimError("send the body as application/scim+json or application/json", status=415)
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise InvalidSyntax("the request body must be a JSON object")
    return body


def paging(source=None) -> tuple[int, int]:
    """Return (startIndex, count) from the query (or a .search body): 1-based, count defaulting to 100, capped."""
    source = request.args if source is None else source
    config = current_app.config
    start = _integer(source, "startIndex", 1)
    count = _integer(source, "count", config["SCIM_DEFAULT_COUNT"])
    return max(start, 1), min(max(count, 0), config["SCIM_MAX_RESULTS"])


def _integer(source, name: str, default: int) -> int:
    raw = source.get(name)
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return default
    if isinstance(raw, bool):
        raise InvalidValue(f"{name} must be an integer")
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise InvalidValue(f"{name} must be an integer") from None


def list_response(resources: list[dict], total: int, start: int) -> dict:
    """Build a ListResponse; numbers stay numbers and Resources is always present (Okta reads it)."""
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


@dataclass(frozen=True)
class Query:
    """A list or search request (RFC 7644 §3.4.2, §3.4.3), from a query string or a SearchRequest body."""

    filter: str | None
    start: int
    count: int
    attributes: list[str]
    excluded: list[str]


def query_from_args() -> Query:
    """Read a GET's filter, paging and attribute selection."""
    start, count = paging()
    attributes, excluded = attribute_params()
    return Query(request.args.get("filter"), start, count, attributes, excluded)


def query_from_body() -> Query:
    """Read a POST .search body (RFC 7644 §3.4.3)."""
    body = request_body()
    start, count = paging(body)
    text = body.get("filter")
    attributes = body.get("attributes") or []
    excluded = body.get("excludedAttributes") or []
    if text is not None and not isinstance(text, str):
        raise InvalidValue("filter must be a string")
    if not all(isinstance(v, list) and all(isinstance(a, str) for a in v) for v in (attributes, excluded)):
        raise InvalidValue("attributes and excludedAttributes must be lists of attribute names")
    return Query(text, start, count, attributes, excluded)


def attribute_params() -> tuple[list[str], list[str]]:
    """Return the `attributes` and `excludedAttributes` query parameters as lists."""
    return _csv(request.args.get("attributes")), _csv(request.args.get("excludedAttributes"))


def _csv(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def patch_operations(body: dict) -> list:
    """Return the `Operations` of a PatchOp message (RFC 7644 §3.5.2), its key matched in any case."""
    schemas = body.get("schemas")
    if isinstance(schemas, list) and schemas and PATCH_OP not in schemas:
        raise InvalidSyntax(f"a PATCH body must declare the schema {PATCH_OP}")
    operations = next((v for k, v in body.items() if k.lower() == "operations"), None)
    if not isinstance(operations, list) or not operations:
        raise InvalidSyntax("a PATCH body needs a non-empty 'Operations' list")
    return operations
