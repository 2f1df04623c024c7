"""A member as a SCIM User resource (RFC 7643 §4.1), rendered from the ORM entity or from a read's plain row."""

from __future__ import annotations

import re
from typing import Any

from flask import g, url_for

from models import User
from scim.definitions import ENTERPRISE_USER_SCHEMA, USER_SCHEMA
from scim.translate import iso
from services import member_reads

# Characters a URL path segment carries as they are.
_UNQUOTED = re.compile(r"[A-Za-z0-9-]{1,100}")


def user_resource(
    user: User | member_reads.MemberView, groups: list[tuple[str, str]], links: Links | None = None
) -> dict[str, Any]:
    """Render a member as a SCIM User; nothing empty, `manager` always as `{"value": ...}`.

    A page of members shares one `links` (the request's, when none is given).
    """
    if links is None:
        links = request_links()
    profile = dict(user.profile or {})
    enterprise = profile.pop("enterprise", None)
    body: dict[str, Any] = {"schemas": [USER_SCHEMA], "id": user.scim_id}
    if user.external_id:
        body["externalId"] = user.external_id
    body["userName"] = user.user_name
    body.update(profile)
    body["active"] = user.active
    if user.emails:
        body["emails"] = [_email(e.value, e.type, e.primary, e.display) for e in user.emails]
    if groups:
        body["groups"] = [
            {"value": scim_id, "$ref": links.link("scim.show_group", scim_id), "display": name, "type": "direct"}
            for scim_id, name in groups
        ]
    if enterprise:
        body["schemas"].append(ENTERPRISE_USER_SCHEMA)
        body[ENTERPRISE_USER_SCHEMA] = enterprise
    created: str | None
    last_modified: str | None
    if isinstance(user, member_reads.MemberView):  # read with its times formatted by the database
        created, last_modified = user.created, user.last_modified
    else:
        created, last_modified = iso(user.created_at), iso(user.updated_at)
    body["meta"] = {
        "resourceType": "User",
        "created": created,
        "lastModified": last_modified,
        "location": links.link("scim.show_user", user.scim_id),
    }
    return body


def _email(value: str | None, kind: str | None, primary: bool | None, display: str | None) -> dict[str, Any]:
    """Return an email as SCIM shows it: the sub-attributes that are set."""
    email: dict[str, Any] = {}
    if value is not None:
        email["value"] = value
    if kind is not None:
        email["type"] = kind
    if primary is not None:
        email["primary"] = primary
    if display is not None:
        email["display"] = display
    return email


class Links:
    """url_for(endpoint, scim_id=..., _external=True) for many ids, building the URL once per endpoint.

    A page of 100 users asks for 100 or more links; an id that needs no quoting (ours are UUIDs) is appended
    to the URL built for a placeholder, which is what url_for would return. Any other id goes through url_for.
    """

    __slots__ = ("_prefixes",)

    def __init__(self) -> None:
        self._prefixes: dict[str, str] = {}

    def link(self, endpoint: str, scim_id: str) -> str:
        if not _UNQUOTED.fullmatch(scim_id):
            return url_for(endpoint, scim_id=scim_id, _external=True)
        prefix = self._prefixes.get(endpoint)
        if prefix is None:
            prefix = self._prefixes[endpoint] = url_for(endpoint, scim_id="0", _external=True)[:-1]
        return prefix + scim_id


def request_links() -> Links:
    """Return the links of the current request: a write renders its member up to three times."""
    links: Links = g.setdefault("scim_links", Links())
    return links
