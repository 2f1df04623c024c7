"""PATCH attribute paths and their value filters (RFC 7644 §3.5.2 and the ABNF of §3.10 Figure 1).

A path is resolved against a resource type's schemas, so callers get canonical `Attribute` definitions back and
never compare names themselves. The filter inside `attr[...]` is parsed by `scim.filter_parser` (with its length
and nesting limits) and evaluated here in Python over the elements of the multi-valued attribute (RFC 7644 §3.4.2.2).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from scim.definitions import Attribute, ResourceType, Schema, split_urn
from scim.errors import InvalidFilter, InvalidPath
from scim.filter_parser import MAX_LENGTH, And, Compare, Node, Not, Or, parse_filter
from services.identifiers import fold

_NAME = r"[A-Za-z$][\w$-]*"
_PATH_RE = re.compile(rf"(?P<attr>{_NAME})(?:\.(?P<sub>{_NAME})|\[(?P<filter>.*)\](?:\.(?P<vsub>{_NAME}))?)?", re.S)
# Any: `matches` calls each with two strings, or with two numbers for gt/ge/lt/le.
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "co": operator.contains,
    "sw": str.startswith,
    "ew": str.endswith,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
_UNASSIGNED: tuple[object, ...] = (None, "", [], {})


@dataclass(frozen=True)
class Comparison:
    """`subAttr op value` in a value path; strings compare case-insensitively unless caseExact (RFC 7644 §3.4.2.2)."""

    attribute: Attribute
    op: str
    value: object = None

    def matches(self, element: Mapping[str, object]) -> bool:
        """Return whether one element of the multi-valued attribute satisfies this comparison."""
        actual = element.get(self.attribute.name) if isinstance(element, dict) else None
        if self.op == "pr":
            return actual not in _UNASSIGNED
        expected = self.value
        if isinstance(actual, str) and isinstance(expected, str):
            if not self.attribute.case_exact:
                actual, expected = fold(actual), fold(expected)  # as the filters fold, so PATCH and GET agree
            return _COMPARE[self.op](actual, expected)
        # bool is an int in Python; `primary eq 1` must not match `true`.
        same_kind = isinstance(actual, bool) == isinstance(expected, bool)
        if self.op in ("eq", "ne"):
            return (same_kind and actual == expected) == (self.op == "eq")
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (actual, expected))
        return numbers and self.op in ("gt", "ge", "lt", "le") and _COMPARE[self.op](actual, expected)


@dataclass(frozen=True)
class Logical:
    """`left and right` / `left or right`."""

    op: str
    left: ValueFilter
    right: ValueFilter

    def matches(self, element: Mapping[str, object]) -> bool:
        """Return whether `element` satisfies the combined filter."""
        if self.op == "and":
            return self.left.matches(element) and self.right.matches(element)
        return self.left.matches(element) or self.right.matches(element)


@dataclass(frozen=True)
class Negation:
    """`not (inner)`."""

    inner: ValueFilter

    def matches(self, element: Mapping[str, object]) -> bool:
        """Return whether `element` does not satisfy the inner filter."""
        return not self.inner.matches(element)


ValueFilter = Comparison | Logical | Negation


@dataclass(frozen=True)
class Path:
    """A parsed PATCH path: `[urn:]attr[.sub]` or `[urn:]attr[filter][.sub]` (RFC 7644 §3.5.2, Figure 1).

    `extension` is the URN of the extension schema that holds the attribute (its values live under that key of the
    representation), or None for the core schema. `attribute` is None only when the path is an extension URN alone,
    which addresses the whole extension object. A caller recognises membership operations with
    `path.attribute is not None and path.attribute.name == "members"`.
    """

    text: str
    schema: Schema
    extension: str | None
    attribute: Attribute | None
    value_filter: ValueFilter | None = None
    sub_attribute: Attribute | None = None

    @property
    def target(self) -> Attribute | None:
        """The definition of what the path finally addresses (the sub-attribute if there is one)."""
        return self.sub_attribute or self.attribute


def parse_path(text: str, resource_type: ResourceType) -> Path:
    """Parse a PATCH `path` (or a key of a path-less `value` object) against `resource_type`.

    Names are case-insensitive and resolved to their canonical definitions. The schema URN prefix is matched as the
    longest known URN of the resource type, because extension URNs contain `:` and `.` themselves (`...:2.0:User`).
    An unqualified name that the core schema lacks is looked up in the extensions (Entra sends path `manager`).
    Raises InvalidPath for unknown attributes or a malformed path, InvalidFilter for a malformed value filter.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidPath("The PATCH path is empty.")
    if len(text) > MAX_LENGTH:
        raise InvalidPath(f"The PATCH path is longer than {MAX_LENGTH} characters.")
    text = text.strip()
    schema, rest = _split_urn(text, resource_type)
    extension = None if schema is resource_type.schema else schema.id
    if rest is None:
        if extension is None:
            raise InvalidPath(f"Path {text!r} names a schema, not an attribute.")
        return Path(text, schema, extension, None)
    match = _PATH_RE.fullmatch(rest)
    if match is None:
        raise InvalidPath(f"Malformed path {text!r}.")
    attribute = schema.attribute(match["attr"])
    if attribute is None and rest is text:
        for candidate in resource_type.extensions:
            if (attribute := candidate.attribute(match["attr"])) is not None:
                schema, extension = candidate, candidate.id
                break
    if attribute is None:
        raise InvalidPath(f"Unknown attribute {match['attr']!r} in path {text!r}.")
    sub_name = match["sub"] or match["vsub"]
    sub = attribute.sub(sub_name) if sub_name else None
    if sub_name and sub is None:
        raise InvalidPath(f"Unknown attribute '{attribute.name}.{sub_name}' in path {text!r}.")
    value_filter = None
    if match["filter"] is not None:
        if not attribute.multi_valued or not attribute.sub_attributes:
            raise InvalidPath(
                f"Path {text!r} filters '{attribute.name}', which is not a multi-valued complex attribute."
            )
        value_filter = parse_value_filter(match["filter"], attribute)
    return Path(text, schema, extension, attribute, value_filter, sub)


def _split_urn(text: str, resource_type: ResourceType) -> tuple[Schema, str | None]:
    schema, rest = split_urn(text, resource_type.schemas())
    if schema is not None:
        return schema, rest
    if text.lower().startswith("urn:"):
        raise InvalidPath(f"Path {text!r} uses a schema URN this resource type does not have.")
    return resource_type.schema, text


def parse_value_filter(text: str, attribute: Attribute) -> ValueFilter:
    """Parse the filter between the brackets of a value path; names resolve to sub-attributes of `attribute`."""
    return _resolve(parse_filter(text, value_filter=True), attribute)


def _resolve(node: Node, attribute: Attribute) -> ValueFilter:
    if isinstance(node, And | Or):
        op = "and" if isinstance(node, And) else "or"
        return Logical(op, _resolve(node.left, attribute), _resolve(node.right, attribute))
    if isinstance(node, Not):
        return Negation(_resolve(node.node, attribute))
    if not isinstance(node, Compare):  # the parser allows no `[` inside a value filter; this keeps types honest
        raise InvalidFilter("A value filter cannot contain another [filter].")
    sub = attribute.sub(node.path.attr)
    if sub is None:
        raise InvalidPath(f"Unknown attribute '{attribute.name}.{node.path.attr}' in a value filter.")
    return Comparison(sub, node.op, node.value)


def equality_template(value_filter: ValueFilter | None) -> dict[str, object] | None:
    """Return the sub-attribute values a filter made only of `sub eq literal` joined by `and` pins down, else None.

    An element built from the template matches the filter, which is what lets `add`/`replace` create the element a
    value path names when none exists (Entra's `emails[type eq "work"].value` on a user without a work email).
    """
    if value_filter is None:
        return {}
    if isinstance(value_filter, Comparison):
        if value_filter.op != "eq" or value_filter.value is None:
            return None
        return {value_filter.attribute.name: value_filter.value}
    if isinstance(value_filter, Logical) and value_filter.op == "and":
        left, right = equality_template(value_filter.left), equality_template(value_filter.right)
        if left is None or right is None or any(k in right and right[k] != v for k, v in left.items()):
            return None
        return {**left, **right}
    return None
