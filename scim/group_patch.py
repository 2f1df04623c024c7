"""Membership PATCH on Groups (RFC 7644 §3.5.2): operations on `members` folded into one set operation (R7).

Okta and Entra add, remove and replace members in several shapes (docs/idp-behaviour.md §2); whatever the shape, the
operations on `members` become one `MembershipChange` that the service layer applies with no statement per member.
The other operations are left, in order, for `apply_patch`.
"""

from __future__ import annotations

from collections.abc import Callable

from scim.definitions import GROUP_RESOURCE
from scim.errors import InvalidPath, InvalidValue, Mutability, NoTarget, ScimError
from scim.patch_message import read_operation
from scim.paths import Path, ValueFilter, equality_template, parse_path
from services.cohort_members import MembershipChange

Members = list[tuple[str, str | None]]  # (user scim id, display), as services.cohort_members returns them


def member_ids(value: object) -> list[str]:
    """Read the user ids out of a `members` value: one `{"value": id}` object or a list of them.

    A nested group (a Group's id as member value, pitfall 38) is not a user SCIM can see: the service layer
    skips it like any unknown id (R7).
    """
    items = value if isinstance(value, list) else [value]
    ids: list[str] = []
    for item in items:
        member = next((v for k, v in item.items() if k.lower() == "value"), None) if isinstance(item, dict) else None
        if not isinstance(member, str) or not member.strip():
            raise InvalidValue("each member must be an object whose 'value' is the id of a User")
        ids.append(member)
    return ids


def split_operations(
    operations: list[object], load_members: Callable[[], Members]
) -> tuple[list[object], MembershipChange | None]:
    """Separate membership operations, folded into one MembershipChange, from the others (kept in order).

    Membership and the other attributes are disjoint, so applying each group of operations in its own order
    gives the result of the whole sequence.
    """
    others: list[object] = []
    change: MembershipChange | None = None
    for item in operations:
        operation = read_operation(item)
        op, value = operation.op, operation.value
        path = _members_path(operation.path)
        if operation.pathless and isinstance(op, str) and op in ("add", "replace") and isinstance(value, dict):
            # `{"op": "replace", "value": {"members": [...], "displayName": ...}}`: the members are peeled off.
            key = next((k for k in value if isinstance(k, str) and k.lower() == "members"), None)
            if key is not None:
                change = change or MembershipChange()
                _fold(change, op, parse_path("members", GROUP_RESOURCE), value[key], load_members)
                rest = {k: v for k, v in value.items() if k != key}
                if rest:
                    others.append({"op": op, "value": rest})
                continue
        if path is None:
            others.append(item)
            continue
        checked_op, _ = operation.check()
        change = change or MembershipChange()
        _fold(change, checked_op, path, value, load_members)
    return others, change


def _members_path(text: object) -> Path | None:
    """Return the parsed path when it addresses `members`; other paths are left to apply_patch (and its errors)."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        path = parse_path(text, GROUP_RESOURCE)
    except ScimError:
        return None
    return path if path.attribute is not None and path.attribute.name == "members" else None


def _fold(change: MembershipChange, op: str, path: Path, value: object, load_members: Callable[[], Members]) -> None:
    """Fold one membership operation into `change` (RFC 7644 §3.5.2.1-§3.5.2.3)."""
    if path.sub_attribute is not None:
        # value and type are immutable and display is derived: a member is added or removed, never edited.
        raise Mutability(f"'{path.text}' cannot be changed; add or remove the member instead.")
    if op == "add":
        if path.value_filter is not None:
            raise InvalidPath('Add members with path "members" and a list of {"value": id} objects.')
        if value is not None:  # adding null adds nothing (RFC 7643 §2.5)
            change.added(member_ids(value))
    elif op == "remove":
        if path.value_filter is not None:
            change.removed(_matching(path.value_filter, load_members, exact=False))
        elif value is not None:
            # Entra removes with `path: members` and the values to drop: only those go (pitfall 7).
            change.removed(member_ids(value))
        else:
            change.replaced([])
    elif path.value_filter is not None:
        matched = _matching(path.value_filter, load_members, exact=True)
        if not matched:
            raise NoTarget(f"No member matches {path.text!r} (RFC 7644 §3.5.2.3).")
        change.removed(matched)
        change.added(member_ids(value))
    else:
        change.replaced([] if value is None else member_ids(value))


def _matching(value_filter: ValueFilter, load_members: Callable[[], Members], *, exact: bool) -> list[str]:
    """Return the member ids a `members[...]` filter selects.

    Okta's and Entra's `members[value eq "id"]` (K13, A15) names its id, and removing a non-member is a no-op,
    so no member is read for it unless the caller needs to know whether the id really is a member (`exact`).
    """
    template = equality_template(value_filter)
    if not exact and template is not None and set(template) == {"value"}:
        return [str(template["value"])]
    return [
        scim_id
        for scim_id, display in load_members()
        if value_filter.matches({"value": scim_id, "display": display, "type": "User"})
    ]
