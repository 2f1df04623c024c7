"""/Users (RFC 7644 §3.2-§3.6): members on the rung SCIM owns (docs/design.md R1-R5, R8)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from flask import Response, g
from sqlalchemy import ColumnElement, select

from models import User, db
from scim import bp, paging
from scim.commits import answered_at_commit
from scim.definitions import USER_RESOURCE, split_urn
from scim.errors import InvalidValue
from scim.filter_maps import USER_FILTERS
from scim.filters import compile_filter, equality_value, parse_filter
from scim.patch import apply_patch
from scim.patch_message import patch_operations, read_operation
from scim.projection import project
from scim.refused import deletion, from_active, noticed, patch_intent
from scim.schemas import MAX_VALUES, UserSchema, check_value_counts, load
from scim.translate import domain_errors
from scim.user_resources import request_links, user_resource
from scim.wire import (
    PLAIN_NAME,
    Query,
    attribute_params,
    list_page,
    query_from_args,
    query_from_body,
    request_body,
    scim_response,
)
from services import member_reads, provisioning, visibility

_user_schema = UserSchema()


def _render(user: member_reads.MemberView | User, groups: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """Render a member: a read's view carries its groups; a write's entity comes with those its locked read found
    (a member created in this transaction has none)."""
    if isinstance(user, member_reads.MemberView):
        groups = user.groups
    elif groups is None:
        raise AssertionError("a member's entity is rendered with the groups its write read")
    attributes, excluded = attribute_params()
    return project(user_resource(user, groups), USER_RESOURCE, attributes, excluded)


def _profile(body: dict[str, Any]) -> provisioning.ScimProfile:
    data = load(_user_schema, body)
    attributes = {k: v for k, v in data.items() if k not in ("userName", "externalId", "active", "emails")}
    return provisioning.ScimProfile(
        user_name=data["userName"],
        external_id=data.get("externalId"),
        active=data.get("active"),
        emails=data.get("emails", []),
        attributes=attributes,
    )


def _user_body() -> dict[str, Any]:
    """Read a POST or PUT body; an over-long multi-valued attribute is refused before anything walks it."""
    return request_body(lambda body: check_value_counts(_user_schema, body))


def _patch_body() -> dict[str, Any]:
    """Read a PATCH body; no value of a User is a list of more than MAX_VALUES, so a longer one is refused at once."""

    def precheck(body: dict[str, Any]) -> None:
        for operation in patch_operations(body):
            if not isinstance(operation, dict):
                continue  # apply_patch reports it
            read = read_operation(operation)
            value = read.value
            named = [(read.path, value)] + (list(value.items()) if isinstance(value, dict) else [])
            for name, item in named:
                if isinstance(item, list) and len(item) > MAX_VALUES:
                    where = repr(name) if isinstance(name, str) and PLAIN_NAME.fullmatch(name) else "a value"
                    raise InvalidValue(f"{where} holds {len(item)} values; at most {MAX_VALUES} are accepted")

    return request_body(precheck)


def find_users(query: Query, offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
    """Return the total of members matching the query and the rendered slice [offset, offset+limit)."""
    tenant_id = g.scim_tenant.id
    parsed = parse_filter(query.filter) if query.filter else None
    user_name = equality_value(parsed, USER_FILTERS, "username") if parsed is not None else None
    if user_name is not None:  # the filter IdPs send before every create: a statement built once, few rows
        matches = member_reads.with_user_name(tenant_id, user_name)
        return len(matches), _rendered(matches[offset : offset + limit], query) if limit > 0 else []
    if parsed is None:  # the whole list: statements built once, and the total the database keeps
        window = partial(member_reads.visible_window, tenant_id)
        total, users = paging.page_of(offset, limit, window, lambda: member_reads.visible_count(tenant_id))
        return total, _rendered(users, query)
    ids = select(User.id).where(visibility.scim_visible_for_list(tenant_id, filtered=True))
    ids = ids.where(compile_filter(parsed, USER_FILTERS))
    # SQLite would walk the tenant in id order to save a sort of the few matches.
    key: ColumnElement[int] = User.id + 0 if db.engine.dialect.name == "sqlite" else User.id.expression
    total, users = paging.page_of(offset, limit, *paging.over(ids, key, member_reads.members_in))
    return total, _rendered(users, query)


def _rendered(users: list[member_reads.MemberView], query: Query) -> list[dict[str, Any]]:
    links = request_links()
    resources = [user_resource(u, u.groups, links) for u in users]
    if query.attributes or query.excluded:
        resources = [project(r, USER_RESOURCE, query.attributes, query.excluded) for r in resources]
    return resources


@bp.get("/Users", strict_slashes=False)
def index_users() -> Response:
    """List or filter members (RFC 7644 §3.4.2); zero matches is a 200 with totalResults 0."""
    return list_page(find_users, query_from_args(), "users.searched")


@bp.post("/Users/.search", strict_slashes=False)
def search_users() -> Response:
    """Search with POST (RFC 7644 §3.4.3), for filters that should not travel in a URL."""
    return list_page(find_users, query_from_body(), "users.searched")


@bp.post("/Users", strict_slashes=False)
def create_user() -> Response:
    """Provision a member (201 with the full resource and its Location)."""
    profile = _profile(_user_body())
    # The answer is built before COMMIT: after it, nothing is read that a lost connection could fail.
    with answered_at_commit(partial(_render, groups=[]), User) as outcome, domain_errors():
        provisioning.create_scim_user(g.scim_tenant, profile)
    g.scim_operation = "user.created"
    resource = outcome.built()
    return scim_response(resource, 201, location=resource["meta"]["location"])


@bp.get("/Users/<scim_id>", strict_slashes=False)
def show_user(scim_id: str) -> Response:
    """Show a member; deactivated ones stay readable with active false (R2)."""
    with domain_errors():
        user = member_reads.scim_user(g.scim_tenant.id, scim_id)
    g.scim_operation = "user.read"
    return scim_response(_render(user))


def _save(
    scim_id: str,
    plan: Callable[[User], provisioning.ScimProfile | None],
    operation: str,
    intent: Callable[[User], str | None],
) -> Response:
    """Write a member with `plan` (the new profile, computed from the member as it is now) and answer it.

    The log names every kind of change the request made: a PATCH that reactivates and renames is both
    "user.reactivated" and "user.updated", so the first-sync checklist sees the profile update too.
    `intent(user)` says what the request asks of a member SCIM may not see (scim.refused), for the dashboard.
    """
    seen: list[tuple[User, bool, tuple[object, ...], list[tuple[str, str]]]] = []

    def planned(user: User, groups: Any) -> provisioning.ScimProfile | None:
        seen.append((user, user.active, _profile_fields(user), member_reads.pairs(groups)))
        return plan(user)

    def answer(_: object) -> tuple[dict[str, Any], bool, bool]:
        user, _, before, groups = seen[-1]
        return _render(user, groups), user.active, _profile_fields(user) != before

    # The answer is built before COMMIT: after it, nothing is read that a lost connection could fail.
    with noticed(scim_id, intent), answered_at_commit(answer) as outcome, domain_errors():
        provisioning.update_scim_user(g.scim_tenant, scim_id, planned, read_with=member_reads.groups_column())
    resource, active, profile_changed = outcome.built()
    was_active = seen[-1][1]  # the state the change was applied to
    operations: list[str] = []
    if was_active and not active:
        operations.append("user.deactivated")
    elif not was_active and active:
        operations.append("user.reactivated")
    if profile_changed or not operations:  # a write that changed nothing still reads as an update
        operations.append(operation)
    g.scim_operation = " ".join(operations)
    return scim_response(resource)


def _profile_fields(user: User) -> tuple[object, ...]:
    """Return what a profile update can change, as the write sets it (provisioning.ScimProfile): not `active`.

    Compared before and after a write to tell a profile update from a (de)activation. The fields themselves,
    not the rendered resource: rendering the member twice more per write cost more than the comparison.
    """
    emails = [(e.value, e.type, e.primary, e.display) for e in user.emails]
    return user.user_name, user.external_id, user.profile, emails


@bp.put("/Users/<scim_id>", strict_slashes=False)
def replace_user(scim_id: str) -> Response:
    """Replace a member's profile (RFC 7644 §3.5.1); read-only attributes sent back are ignored."""
    body = _user_body()
    return _save(scim_id, lambda _: _profile(body), "user.updated", lambda _: from_active(_profile(body).active))


@bp.patch("/Users/<scim_id>", strict_slashes=False)
def modify_user(scim_id: str) -> Response:
    """Apply PATCH operations (RFC 7644 §3.5.2) in Okta's or Entra's dialect; 200 with the resource."""
    body = _patch_body()

    def plan(user: User) -> provisioning.ScimProfile | None:
        # Runs with the member's row locked: the operations apply to the profile the last write left.
        operations = _without_password(patch_operations(body))
        if not operations:  # a password sync alone: accepted, and nothing to change
            return None
        return _profile(apply_patch(user_resource(user, []), operations, USER_RESOURCE))

    def intent(user: User) -> str | None:
        return patch_intent(user_resource(user, []), _without_password(patch_operations(body)))

    return _save(scim_id, plan, "user.updated", intent)


def _without_password(operations: list[Any]) -> list[Any]:
    """Drop `password` from PATCH operations: sign-in is the IdP's job, so Okta's password sync is a no-op."""
    kept: list[Any] = []
    for operation in operations:
        if not isinstance(operation, dict):
            kept.append(operation)  # apply_patch reports the malformed operation
            continue
        read = read_operation(operation)
        path, value = read.path, read.value
        if isinstance(path, str) and _names_password(path):
            continue
        if path is None and isinstance(value, dict):
            value = {k: v for k, v in value.items() if str(k).lower() != "password"}
            if not value:
                continue
            operation = {**{k: v for k, v in operation.items() if str(k).lower() != "value"}, "value": value}
        kept.append(operation)
    return kept


def _names_password(path: str) -> bool:
    """Whether a PATCH path names `password`, plain or qualified by the core schema's URN."""
    schema, rest = split_urn(path.strip(), USER_RESOURCE.schemas())
    return (schema is None or schema is USER_RESOURCE.schema) and (rest or "").lower() == "password"


@bp.delete("/Users/<scim_id>", strict_slashes=False)
def delete_user(scim_id: str) -> Response:
    """Deprovision (R8): the member is banned and leaves SCIM; the account stays for the tenant."""
    with noticed(scim_id, deletion), answered_at_commit(), domain_errors():
        provisioning.deprovision_scim_user(g.scim_tenant, scim_id)
    g.scim_operation = "user.deleted"
    return scim_response(None, 204)
