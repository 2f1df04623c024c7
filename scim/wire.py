"""Wire helpers shared by every SCIM view: bodies in, SCIM JSON out, paging (RFC 7644 §3.4.2.4, §3.8)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from flask import Response, current_app, g, json, make_response, request

from scim.definitions import LIST_RESPONSE
from scim.errors import SCIM_MEDIA_TYPE, InvalidSyntax, InvalidValue, ScimError

_ACCEPTED_TYPES = ("application/scim+json", "application/json")
# NUL and lone surrogates: PostgreSQL text cannot hold the first, UTF-8 cannot encode the second.
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
# A key or path that may be quoted in an error: it is client text, so only when it looks like a name.
PLAIN_NAME = re.compile(r"[A-Za-z0-9$_.:-]{1,100}")
# Real SCIM bodies nest about 6 levels (PatchOp > Operations > op > value > extension > manager).
MAX_BODY_DEPTH = 32
# SQL INTEGER: startIndex and count beyond it would overflow the driver (SQLite) or mean nothing.
_MAX_INT = 2**31 - 1
# An integer as a query parameter or JSON string: ASCII digits only. int() also reads "1_000" and "١٢".
_INTEGER = re.compile(r"[+-]?[0-9]+")
# How `_check_strings` reached a value: (how it reached the container, key or index), innermost last.
_Trail: TypeAlias = tuple["_Trail | None", str | int]


def scim_response(body: dict[str, Any] | None, status: int = 200, location: str | None = None) -> Response:
    """Serialise a SCIM body as application/scim+json (Entra rejects plain JSON)."""
    response = make_response("" if body is None else json.dumps(body), status)
    response.mimetype = SCIM_MEDIA_TYPE
    if location:
        response.headers["Location"] = location
    return response


def request_body(precheck: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Return the JSON object sent, whatever JSON-ish media type (or none) labels it.

    Entra sends DELETE with no Content-Type and Okta's tests send application/json, so only a
    media type that is clearly something else is refused. `precheck` sees the body before anything
    walks all of it, to refuse a list that is too long at the cost of one len().
    """
    mimetype = request.mimetype
    if mimetype and mimetype not in _ACCEPTED_TYPES and not mimetype.endswith("+json"):
        raise ScimError("send the body as application/scim+json or application/json", status=415)
    try:
        body = request.get_json(force=True, silent=True)
    except RecursionError:  # `[[[[...` deeper than the JSON scanner's stack
        raise InvalidSyntax(f"the request body is nested more than {MAX_BODY_DEPTH} levels deep") from None
    if not isinstance(body, dict):
        raise InvalidSyntax("the request body must be a JSON object")
    if precheck is not None:
        precheck(body)
    _check_strings(body)
    return body


def _check_strings(body: dict[str, Any]) -> None:
    """Refuse NUL and lone surrogates in any key or string value, naming where but never echoing the value.

    Iterative, so a deep body cannot exhaust the stack here; the depth cap keeps it from doing so later. A 4 MB
    body holds about a million values, so the loop only remembers how it reached each container, and spells the
    path out when there is something to report.
    """
    search = _UNSTORABLE.search
    pending: list[tuple[dict[Any, Any] | list[Any], _Trail | None, int]] = [(body, None, 0)]
    while pending:
        node, trail, depth = pending.pop()
        if depth > MAX_BODY_DEPTH:
            raise InvalidSyntax(f"the request body is nested more than {MAX_BODY_DEPTH} levels deep")
        if isinstance(node, dict):
            for key, value in node.items():
                if search(key):
                    where = f" in {_spell(trail)}" if trail else ""
                    raise InvalidValue(f"an attribute name{where} contains a NUL character or an unpaired surrogate")
                if isinstance(value, str):
                    if search(value):
                        _unstorable((trail, key))
                elif isinstance(value, dict | list):
                    pending.append((value, (trail, key), depth + 1))
        else:
            for index, item in enumerate(node):  # a list: only dicts and lists are pushed
                if isinstance(item, str):
                    if search(item):
                        _unstorable((trail, index))
                elif isinstance(item, dict | list):
                    pending.append((item, (trail, index), depth + 1))


def _unstorable(trail: _Trail) -> None:
    raise InvalidValue(f"{_spell(trail)} contains a NUL character or an unpaired surrogate")


def _spell(trail: _Trail | None) -> str:
    """Spell `((None, "emails"), 0), "value")` as `emails[0].value`; only name-like keys, as keys are client text."""
    parts: list[str] = []
    while trail is not None:
        trail, step = trail
        if isinstance(step, int):
            parts.append(f"[{step}]")
        else:
            parts.append(("." if trail is not None else "") + (step if PLAIN_NAME.fullmatch(step) else "?"))
    return "".join(reversed(parts))


def paging(source: Mapping[str, Any] | None = None) -> tuple[int, int]:
    """Return (startIndex, count) from the query (or a .search body): 1-based, count defaulting to 100, capped."""
    source = request.args if source is None else source
    config = current_app.config
    start = _integer(source, "startIndex", 1)
    count = _integer(source, "count", config["SCIM_DEFAULT_COUNT"])
    # RFC 7644 §3.4.2.4: a startIndex below 1 is 1, a negative count is 0; both stay within SQL INTEGER.
    return min(max(start, 1), _MAX_INT), min(max(count, 0), config["SCIM_MAX_RESULTS"], _MAX_INT)


def _integer(source: Mapping[str, Any], name: str, default: int) -> int:
    raw = source.get(name)
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return default
    # JSON numbers arrive as floats when written 2.0 or 1e999 (inf); only whole, finite ones are integers.
    if isinstance(raw, bool) or (isinstance(raw, float) and not (math.isfinite(raw) and raw.is_integer())):
        raise InvalidValue(f"{name} must be an integer")
    if isinstance(raw, str) and not _INTEGER.fullmatch(raw.strip()):
        raise InvalidValue(f"{name} must be an integer written in ASCII digits")
    try:
        return int(raw)
    except (TypeError, ValueError, OverflowError):  # ValueError also for more digits than int() will read
        raise InvalidValue(f"{name} must be an integer") from None


def list_response(resources: list[dict[str, Any]], total: int, start: int) -> dict[str, Any]:
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


# `find(query, offset, limit) -> (total, resources)`, as `list_page` calls it.
Finder: TypeAlias = Callable[[Query, int, int], tuple[int, list[dict[str, Any]]]]


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


def list_page(find: Finder, query: Query, operation: str) -> Response:
    """Answer a list or search request with `find(query, offset, limit) -> (total, resources)`."""
    total, resources = find(query, query.start - 1, query.count)
    g.scim_operation = operation
    return scim_response(list_response(resources, total, query.start))


def attribute_params() -> tuple[list[str], list[str]]:
    """Return the `attributes` and `excludedAttributes` query parameters as lists."""
    return _csv(request.args.get("attributes")), _csv(request.args.get("excludedAttributes"))


def _csv(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]
