"""Search at the service root (RFC 7644 §3.4.3): one filter over Users and Groups, paged as one list."""

from __future__ import annotations

from typing import Any

from flask import Response, g

from scim import bp
from scim.errors import InvalidFilter
from scim.groups import find_groups
from scim.users import find_users
from scim.wire import list_response, query_from_body, scim_response


@bp.post("/.search", strict_slashes=False)
def search_all() -> Response:
    """Search every resource type; users come first, then groups, each in their stable order.

    A filter naming an attribute one type lacks simply matches none of that type; only a filter
    that fits no type at all is an error.
    """
    query = query_from_body()
    offset, remaining = query.start - 1, query.count
    resources: list[dict[str, Any]] = []
    total = 0
    errors: list[InvalidFilter] = []
    for find in (find_users, find_groups):
        try:
            # First count only, to know where this type's slice of the combined list begins.
            found, _ = find(query, 0, 0)
        except InvalidFilter as error:
            errors.append(error)
            continue
        if remaining > 0 and offset < found:
            _, page = find(query, offset, remaining)
            resources.extend(page)
            remaining -= len(page)
        offset = max(offset - found, 0)
        total += found
    if len(errors) == 2:
        raise errors[0]
    g.scim_operation = "resources.searched"
    return scim_response(list_response(resources, total, query.start))
