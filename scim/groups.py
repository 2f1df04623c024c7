"""/Groups (RFC 7644 §3.2-§3.6): SCIM Groups as cohorts (docs/design.md R6, R7).

Members are users SCIM can see (R7); the others in a cohort are never listed, and no SCIM change drops them.
Ids to add that SCIM cannot see are skipped with the usual success, the same whatever the reason (R3): the
request log counts them (`g.scim_skipped_members`), never naming them.
Membership PATCH operations become one set operation in the service layer (no statement per member, see
`scim.group_patch`); the other operations go through `apply_patch` on the group without its members, then the
same checks as PUT.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, url_for
from sqlalchemy import SQLColumnExpression, func, select

from models import Cohort, db
from scim import bp
from scim.commits import answered_at_commit
from scim.definitions import GROUP_RESOURCE, GROUP_SCHEMA, split_urn
from scim.filter_maps import GROUP_FILTERS
from scim.filters import compile_filter
from scim.group_patch import Members, member_ids, split_operations
from scim.patch import apply_patch
from scim.patch_message import patch_operations
from scim.projection import project, wanted
from scim.schemas import GroupSchema, load
from scim.translate import domain_errors, iso
from scim.wire import (
    Query,
    attribute_params,
    list_page,
    query_from_args,
    query_from_body,
    request_body,
    scim_response,
)
from services import cohort_members, cohorts
from services.cohort_members import MembershipChange, MembershipResult

_group_schema = GroupSchema()


def group_resource(cohort: Cohort, members: Members | None, *, display: bool = False) -> dict[str, Any]:
    """Render a cohort as a SCIM Group; `members` None leaves the attribute out (it was not asked for).

    A member's `display` is derived from the user, so it is returned only when asked for by name (`display`):
    echoing it by default would make every member differ from what a client wrote, which scim2-tester's PATCH
    checks count as an error.
    """
    body: dict[str, Any] = {"schemas": [GROUP_SCHEMA], "id": cohort.scim_id}
    if cohort.external_id:
        body["externalId"] = cohort.external_id
    body["displayName"] = cohort.name
    if members is not None:
        # One url_for for the whole list: 10,000 calls would cost more than the query.
        users = url_for("scim.index_users", _external=True).rstrip("/") + "/"
        body["members"] = [
            {"value": scim_id, "$ref": users + scim_id, **({"display": name} if display else {}), "type": "User"}
            for scim_id, name in members
        ]
    body["meta"] = {
        "resourceType": "Group",
        "created": iso(cohort.created_at),
        "lastModified": iso(cohort.updated_at),
        "location": url_for("scim.show_group", scim_id=cohort.scim_id, _external=True),
    }
    return body


def _display_requested(attributes: list[str]) -> bool:
    return any(_names_member_display(path) for path in attributes)


def _names_member_display(path: str) -> bool:
    """Whether an `attributes` entry names `members.display`, plain or qualified by the core schema's URN."""
    schema, rest = split_urn(path.strip(), GROUP_RESOURCE.schemas())
    return (schema is None or schema is GROUP_RESOURCE.schema) and (rest or "").lower() == "members.display"


def _render(cohort: Cohort) -> dict[str, Any]:
    attributes, excluded = attribute_params()
    # Entra asks for excludedAttributes=members (A10, A12): then not one member is read.
    members = _members_of(cohort) if wanted(GROUP_RESOURCE, attributes, excluded, "members") else None
    resource = group_resource(cohort, members, display=_display_requested(attributes))
    return project(resource, GROUP_RESOURCE, attributes, excluded)


def _members_of(cohort: Cohort) -> Members:
    return cohort_members.visible_members(cohort.tenant_id, [cohort.id])[cohort.id]


def _read_group(body: dict[str, Any]) -> tuple[cohorts.GroupProfile, list[str] | None]:
    """Validate a POST/PUT body; the member list is None when the body has no `members` at all."""
    data = load(_group_schema, body)
    profile = cohorts.GroupProfile(display_name=data["displayName"], external_id=data.get("externalId"))
    present = any(k.lower() == "members" for k in body)
    # `"members": null` is unassigned, like `[]` (RFC 7643 §2.5); only an absent key leaves members alone.
    return profile, (member_ids(data.get("members") or []) if present else None)


def find_groups(query: Query, offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
    """Return the total of groups matching the query and the rendered slice [offset, offset+limit)."""
    tenant = g.scim_tenant
    matching = select(Cohort).where(cohorts.scim_visible_cohort(tenant.id))
    key: SQLColumnExpression[int] = Cohort.id
    if query.filter:
        matching = matching.where(compile_filter(query.filter, GROUP_FILTERS))
        if db.engine.dialect.name == "sqlite":
            key = Cohort.id + 0  # SQLite would walk the tenant in id order to save a sort of the few matches
    total = db.session.execute(select(func.count()).select_from(matching.subquery())).scalar_one()
    page: list[Cohort] = []
    if limit > 0:
        page = list(db.session.scalars(matching.order_by(key).offset(offset).limit(limit)))
    members: dict[int, Members] | None = None
    if page and wanted(GROUP_RESOURCE, query.attributes, query.excluded, "members"):
        members = cohort_members.visible_members(tenant.id, [c.id for c in page])
    display = _display_requested(query.attributes)
    return total, [
        project(
            group_resource(c, None if members is None else members[c.id], display=display),
            GROUP_RESOURCE,
            query.attributes,
            query.excluded,
        )
        for c in page
    ]


@bp.get("/Groups", strict_slashes=False)
def index_groups() -> Response:
    """List or filter groups (RFC 7644 §3.4.2); Okta pages through them, Entra matches by displayName."""
    return list_page(find_groups, query_from_args(), "groups.searched")


@bp.post("/Groups/.search", strict_slashes=False)
def search_groups() -> Response:
    """Search groups with POST (RFC 7644 §3.4.3)."""
    return list_page(find_groups, query_from_body(), "groups.searched")


@bp.post("/Groups", strict_slashes=False)
def create_group() -> Response:
    """Create a cohort for a group (RFC 7644 §3.3), owned by the lowest-id super-admin (R6); 201."""
    profile, member_ids = _read_group(request_body())
    # The answer is built before COMMIT: after it, nothing is read that a lost connection could fail.
    result = None
    with answered_at_commit(_render, Cohort) as outcome, domain_errors():
        _, result = cohorts.create_scim_cohort(g.scim_tenant, profile, member_ids or [])
    g.scim_operation = "group.created"
    _note_skipped(result)
    resource = outcome.built()
    return scim_response(resource, 201, location=resource["meta"]["location"])


@bp.get("/Groups/<scim_id>", strict_slashes=False)
def show_group(scim_id: str) -> Response:
    """Show a group with its SCIM-visible members."""
    with domain_errors():
        cohort = cohorts.get_scim_cohort(g.scim_tenant, scim_id)
    g.scim_operation = "group.read"
    return scim_response(_render(cohort))


@bp.put("/Groups/<scim_id>", strict_slashes=False)
def replace_group(scim_id: str) -> Response:
    """Replace a group (RFC 7644 §3.5.1): name, externalId and the whole visible membership (Okta AIW, K12b)."""
    profile, member_ids = _read_group(request_body())
    change = None
    if member_ids is not None:
        change = MembershipChange()
        change.replaced(member_ids)
    seen: list[Cohort] = []

    def plan(cohort: Cohort) -> tuple[cohorts.GroupProfile | None, MembershipChange | None]:
        seen.append(cohort)
        return profile, change

    result = None
    # The answer is built before COMMIT: after it, nothing is read that a lost connection could fail.
    with answered_at_commit(lambda _: _render(seen[-1])) as outcome, domain_errors():
        _, result = cohorts.change_scim_cohort(g.scim_tenant, scim_id, plan)
    # A write settled after its COMMIT's reply was lost has no result: the log then says what was asked.
    changed = result.changed if result is not None else change is not None
    g.scim_operation = "group.members_changed" if changed else "group.updated"
    _note_skipped(result)
    return scim_response(outcome.value)


@bp.patch("/Groups/<scim_id>", strict_slashes=False)
def modify_group(scim_id: str) -> Response:
    """Apply PATCH operations (RFC 7644 §3.5.2) in Okta's and Entra's shapes, in one transaction; 200 with the group."""
    operations = patch_operations(request_body())
    asked: list[MembershipChange | None] = []
    renamed: list[bool] = []
    seen: list[Cohort] = []

    def plan(cohort: Cohort) -> tuple[cohorts.GroupProfile | None, MembershipChange | None]:
        # Runs with the cohort locked: the operations apply to its state now, not to an earlier read.
        seen.append(cohort)
        others, change = split_operations(operations, lambda: _members_of(cohort))
        profile = None
        if others:
            patched = apply_patch(group_resource(cohort, None), others, GROUP_RESOURCE)
            profile, _ = _read_group(patched)
        # Okta repeats the group's name after every membership change (K12): only a real change is a rename.
        renamed.append(
            profile is not None and (profile.display_name, profile.external_id) != (cohort.name, cohort.external_id)
        )
        asked.append(change)
        return profile, change

    # The answer is built before COMMIT: after it, nothing is read that a lost connection could fail.
    result = None
    with answered_at_commit(lambda _: _render(seen[-1])) as outcome, domain_errors():
        _, result = cohorts.change_scim_cohort(g.scim_tenant, scim_id, plan)
    # The log tells membership syncs from renames by what was asked, so an idempotent re-add still reads as one;
    # a PATCH that renames and changes members is both.
    operations = []
    if renamed[-1]:
        operations.append("group.updated")
    if asked[-1] is not None:
        operations.append("group.members_changed")
    g.scim_operation = " ".join(operations) or "group.updated"
    _note_skipped(result)
    return scim_response(outcome.value)


def _note_skipped(result: MembershipResult | None) -> None:
    """Let the request log count the member ids skipped as not SCIM's (unknown when a COMMIT's reply was lost)."""
    if result is not None and result.skipped:
        g.scim_skipped_members = result.skipped


@bp.delete("/Groups/<scim_id>", strict_slashes=False)
def delete_group(scim_id: str) -> Response:
    """Delete a group for SCIM (204); the cohort and its members stay for the tenant."""
    with answered_at_commit(), domain_errors():
        cohorts.delete_scim_cohort(g.scim_tenant, scim_id)
    g.scim_operation = "group.deleted"
    return scim_response(None, 204)
