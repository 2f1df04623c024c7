"""PATCH attribute paths and their value filters (RFC 7644 §3.5.2 and the ABNF of §3.10 Figure 1).

A path is resolved against a resource type's schemas, so callers get canonical `Attribute` definitions back and
never compare names themselves. Only the part of the filter grammar that a `valuePath` needs is implemented:
`subAttr op value`, `and`, `or`, `not (...)` and parentheses (RFC 7644 §3.4.2.2).
"""

from __future__ import annotations

import json
import operator
import re
from dataclasses import dataclass

from scim.definitions import Attribute, ResourceType, Schema
from scim.errors import InvalidFilter, InvalidPath

_NAME = r"[A-Za-z$][\w$-]*"
_PATH_RE = re.compile(rf"(?P<attr>{_NAME})(?:\.(?P<sub>{_NAME})|\[(?P<filter>.*)\](?:\.(?P<vsub>{_NAME}))?)?", re.S)
_TOKEN_RE = re.compile(r'\s*(?:(?P<paren>[()])|(?P<string>"(?:[^"\\]|\\.)*")|(?P<word>[^\s()"]+))', re.S)
_NAME_RE = re.compile(_NAME)
_NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_COMPARE = {
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
_UNASSIGNED = (None, "", [], {})


@dataclass(frozen=True)
class Comparison:
    """`subAttr op value` in a value path; strings compare case-insensitively unless caseExact (RFC 7644 §3.4.2.2)."""

    attribute: Attribute
    op: str
    value: object = None

    def matches(self, element: dict) -> bool:
        """Return whether one element of the multi-valued attribute satisfies this comparison."""
        actual = element.get(self.attribute.name) if isinstance(element, dict) else None
        if self.op == "pr":
            return actual not in _UNASSIGNED
        expected = self.value
        if isinstance(actual, str) and isinstance(expected, str):
            if not self.attribute.case_exact:
                actual, expected = actual.casefold(), expected.casefold()
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

    def matches(self, element: dict) -> bool:
        """Return whether `element` satisfies the combined filter."""
        if self.op == "and":
            return self.left.matches(element) and self.right.matches(element)
        return self.left.matches(element) or self.right.matches(element)


@dataclass(frozen=True)
class Negation:
    """`not (inner)`."""

    inner: ValueFilter

    def matches(self, element: dict) -> bool:
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
    lowered = text.lower()
    for schema in sorted(resource_type.schemas(), key=lambda s: len(s.id), reverse=True):
        urn = schema.id.lower()
        if lowered == urn:
            return schema, None
        if lowered.startswith(urn + ":"):
            return schema, text[len(urn) + 1 :]
    if lowered.startswith("urn:"):
        raise InvalidPath(f"Path {text!r} uses a schema URN this resource type does not have.")
    return resource_type.schema, text


def parse_value_filter(text: str, attribute: Attribute) -> ValueFilter:
    """Parse the filter between the brackets of a value path; names resolve to sub-attributes of `attribute`."""
    tokens: list[tuple[str, str]] = []
    position, text = 0, text.rstrip()
    while position < len(text):
        match = _TOKEN_RE.match(text, position)
        if match is None:
            raise InvalidFilter(f"Cannot parse filter {text!r} at position {position}.")
        kind = match.lastgroup or "word"
        tokens.append((kind, match[kind]))
        position = match.end()
    parser = _FilterParser(tokens, attribute, text)
    result = parser.disjunction()
    if parser.index != len(tokens):
        raise InvalidFilter(f"Unexpected {tokens[parser.index][1]!r} in filter {text!r}.")
    return result


def equality_template(value_filter: ValueFilter | None) -> dict | None:
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


class _FilterParser:
    """Recursive descent over the tokens; `or` binds loosest, then `and`, then `not`/parentheses."""

    def __init__(self, tokens: list[tuple[str, str]], attribute: Attribute, text: str) -> None:
        self.tokens, self.attribute, self.text, self.index = tokens, attribute, text, 0

    def _peek(self) -> str | None:
        return self.tokens[self.index][1].lower() if self.index < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        if self.index >= len(self.tokens) or (expected and self._peek() != expected):
            raise InvalidFilter(f"Incomplete filter {self.text!r}; expected {expected or 'more input'}.")
        self.index += 1
        return self.tokens[self.index - 1]

    def disjunction(self) -> ValueFilter:
        node = self.conjunction()
        while self._peek() == "or":
            self._take()
            node = Logical("or", node, self.conjunction())
        return node

    def conjunction(self) -> ValueFilter:
        node = self.unary()
        while self._peek() == "and":
            self._take()
            node = Logical("and", node, self.unary())
        return node

    def unary(self) -> ValueFilter:
        if self._peek() == "not":
            self._take()
            self._take("(")
            node = Negation(self.disjunction())
            self._take(")")
            return node
        if self._peek() == "(":
            self._take()
            node = self.disjunction()
            self._take(")")
            return node
        return self.comparison()

    def comparison(self) -> Comparison:
        kind, name = self._take()
        if kind != "word" or not _NAME_RE.fullmatch(name):
            raise InvalidFilter(f"Expected an attribute name in filter {self.text!r}, got {name!r}.")
        attribute = self.attribute.sub(name)
        if attribute is None:
            raise InvalidPath(f"Unknown attribute '{self.attribute.name}.{name}' in filter {self.text!r}.")
        op = self._take()[1].lower()
        if op != "pr" and op not in _COMPARE:
            raise InvalidFilter(f"Unknown operator {op!r} in filter {self.text!r}.")
        if op == "pr":
            return Comparison(attribute, op)
        return Comparison(attribute, op, self._literal())

    def _literal(self) -> object:
        kind, token = self._take()
        if kind == "string":
            try:
                return json.loads(token)
            except ValueError as error:
                raise InvalidFilter(f"Bad string literal {token} in filter {self.text!r}.") from error
        lowered = token.lower()
        if kind == "word" and lowered in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[lowered]
        if kind == "word" and _NUMBER_RE.fullmatch(token):
            return float(token) if any(c in token for c in ".eE") else int(token)
        raise InvalidFilter(f"Expected a value in filter {self.text!r}, got {token!r}.")
