"""Parse SCIM filter expressions (RFC 7644 §3.4.2.2) into a small, immutable AST.

A hand-written recursive-descent parser: the PyPI `scim2-filter-parser` rejects `\\"` inside
strings, which real group names need (docs/idp-behaviour.md pitfalls 31, 32). The AST says nothing about
columns; `scim.filters` resolves attribute paths and compiles the tree to SQL.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from scim.definitions import SCHEMAS, split_urn
from scim.errors import InvalidFilter

MAX_LENGTH = 1000
MAX_DEPTH = 20
COMPARISON_OPS = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"})

# Everything up to whitespace, a bracket or a quote is one word; what it means is decided in context.
_WORD = re.compile(r'[^\s()\[\]"]+')
_NAME = re.compile(r"\$ref|[A-Za-z][A-Za-z0-9_-]*")  # RFC 7644 ATTRNAME, plus `$ref`
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_LITERALS: dict[str, bool | None] = {"true": True, "false": False, "null": None}
# What follows a string's opening quote, up to and including its closing one.
_STRING_REST = re.compile(r'(?:[^"\\]|\\.)*"', re.DOTALL)
# Control characters may stand unescaped in a filter's strings, as they did with json.loads(strict=False).
_STRING_DECODER = json.JSONDecoder(strict=False)

Value = str | int | float | bool | None


@dataclass(frozen=True)
class AttrPath:
    """`[URN ":"] attr ["." sub]`; inside `[...]` only `attr` is set and names a sub-attribute."""

    attr: str
    sub: str | None = None
    uri: str | None = None

    def __str__(self) -> str:
        text = f"{self.attr}.{self.sub}" if self.sub else self.attr
        return f"{self.uri}:{text}" if self.uri else text


@dataclass(frozen=True)
class Compare:
    """`attrPath op value`, or `attrPath pr` with `op == "pr"` and no value; `op` is lowercased."""

    path: AttrPath
    op: str
    value: Value = None


@dataclass(frozen=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True)
class Or:
    left: Node
    right: Node


@dataclass(frozen=True)
class Not:
    node: Node


@dataclass(frozen=True)
class ValuePath:
    """`attr[filter]`: every comparison in `filter` must hold for the same value (one row)."""

    path: AttrPath
    filter: Node


Node = Compare | And | Or | Not | ValuePath


@dataclass(frozen=True)
class _Token:
    kind: str  # "(", ")", "[", "]", "string", "word" or "end"
    text: str  # the decoded value for strings, the raw text otherwise
    pos: int


def snippet(text: str, limit: int = 40) -> str:
    """Quote an offending token for an error message, cut short so a filter is never echoed whole."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def parse_filter(text: str, *, value_filter: bool = False) -> Node:
    """Parse a filter (RFC 7644 §3.4.2.2) into an AST, raising InvalidFilter on any error.

    `value_filter` parses the inside of `attr[...]` (a PATCH value path): only plain sub-attribute names, no `[`.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidFilter("The filter is empty.")
    if len(text) > MAX_LENGTH:
        raise InvalidFilter(f"The filter is longer than {MAX_LENGTH} characters.")
    return _Parser(_tokenize(text)).parse(inside=value_filter)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "()[]":
            tokens.append(_Token(char, char, i))
            i += 1
        elif char == '"':
            value, i_end = _read_string(text, i)
            tokens.append(_Token("string", value, i))
            i = i_end
        else:
            match = _WORD.match(text, i)
            assert match is not None  # any other character starts a word
            tokens.append(_Token("word", match.group(), i))
            i = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    """Read a JSON string literal (RFC 7644 compValue uses JSON's escapes: \\" \\\\ \\u00e9 ...)."""
    # Its end found by one regex in C: an escape cannot end it, whatever it escapes (json decodes them below).
    end = _STRING_REST.match(text, start + 1)
    if end is None:
        raise InvalidFilter(f"The string starting at position {start + 1} is not terminated.")
    try:
        value = _STRING_DECODER.decode(text[start : end.end()])
        value.encode("utf-8")  # rejects an unpaired \ud800 the database could not store
    except (ValueError, UnicodeEncodeError):
        raise InvalidFilter(f"The string at position {start + 1} has an invalid escape sequence.") from None
    if "\x00" in value:  # PostgreSQL text cannot hold NUL, so comparing with one fails there
        raise InvalidFilter(f"The string at position {start + 1} contains a NUL character.")
    return value, end.end()


def _describe(token: _Token) -> str:
    if token.kind == "end":
        return "the end of the filter"
    if token.kind == "string":
        return f"a string at position {token.pos + 1}"  # values may be personal data: never echo them
    return f"{snippet(token.text)} at position {token.pos + 1}"


class _Parser:
    """filter := or; or := and ("or" and)*; and := unary ("and" unary)*;
    unary := "not" "(" or ")" | "(" or ")" | attrPath "[" or "]" ["." sub op value] | attrPath op [value].
    """

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    def parse(self, inside: bool = False) -> Node:
        node = self.or_expr(inside)
        token = self.peek()
        if token.kind != "end":
            raise InvalidFilter(f"Unexpected {_describe(token)} after a complete filter.")
        return node

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.peek()
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return token

    def at_word(self, word: str) -> bool:
        token = self.peek()
        return token.kind == "word" and token.text.lower() == word

    def or_expr(self, inside: bool) -> Node:
        node = self.and_expr(inside)
        while self.at_word("or"):
            self.take()
            node = Or(node, self.and_expr(inside))
        return node

    def and_expr(self, inside: bool) -> Node:
        node = self.unary(inside)
        while self.at_word("and"):
            self.take()
            node = And(node, self.unary(inside))
        return node

    def unary(self, inside: bool) -> Node:
        if self.at_word("not") and self.peek(1).kind == "(":
            self.take()
            return Not(self.nested(inside, "(", ")"))
        if self.peek().kind == "(":
            return self.nested(inside, "(", ")")
        return self.attr_expr(inside)

    def nested(self, inside: bool, opening: str, closing: str) -> Node:
        """Parse a bracketed filter; the depth cap keeps hostile input from exhausting the stack."""
        start = self.take()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise InvalidFilter(f"The filter is nested more than {MAX_DEPTH} levels deep.")
        node = self.or_expr(inside or opening == "[")
        token = self.take()
        if token.kind != closing:
            raise InvalidFilter(
                f"Expected {closing!r} to close the {opening!r} at position {start.pos + 1}, found {_describe(token)}."
            )
        self.depth -= 1
        return node

    def attr_expr(self, inside: bool) -> Node:
        token = self.take()
        if token.kind != "word":
            raise InvalidFilter(f"Expected an attribute name, found {_describe(token)}.")
        path = _parse_path(token, inside)
        if self.peek().kind != "[":
            return self.comparison(path)
        if inside:
            raise InvalidFilter(f"A [filter] cannot be nested inside another, at position {self.peek().pos + 1}.")
        if path.sub:
            raise InvalidFilter(f"A [filter] must follow a multi-valued attribute, not {snippet(str(path))}.")
        node = self.nested(inside, "[", "]")
        token = self.peek()
        if token.kind == "word" and token.text.startswith("."):
            # Entra's `emails[type eq "work"].value eq "x"` (pitfall 12) means one email that is both
            # work and x, so it becomes `emails[type eq "work" and value eq "x"]`.
            self.take()
            sub = token.text[1:]
            if not _NAME.fullmatch(sub):
                raise InvalidFilter(f"Invalid sub-attribute name {snippet(token.text)} at position {token.pos + 1}.")
            node = And(node, self.comparison(AttrPath(sub)))
        return ValuePath(path, node)

    def comparison(self, path: AttrPath) -> Compare:
        token = self.take()
        op = token.text.lower() if token.kind == "word" else ""
        if op == "pr":
            return Compare(path, "pr")
        if op not in COMPARISON_OPS:
            raise InvalidFilter(
                f"Expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after {snippet(str(path))}, "
                f"found {_describe(token)}."
            )
        return Compare(path, op, self.value(op))

    def value(self, op: str) -> Value:
        token = self.take()
        if token.kind == "string":
            return token.text
        if token.kind == "word":
            lowered = token.text.lower()
            if lowered in _LITERALS:
                return _LITERALS[lowered]
            number = _NUMBER.fullmatch(token.text)
            if number:
                try:
                    return float(token.text) if number.group(1) or number.group(2) else int(token.text)
                except ValueError:  # more digits than int() will read (sys.get_int_max_str_digits)
                    raise InvalidFilter(f"The number at position {token.pos + 1} is too long.") from None
        raise InvalidFilter(
            f"Expected a value (a quoted string, number, true, false or null) after {op!r}, found {_describe(token)}."
        )


def _parse_path(token: _Token, inside: bool) -> AttrPath:
    """Split `[URN:]attr[.sub]`; the URN holds ':' and '.', so strip a known URN before splitting."""
    schema, text = split_urn(token.text, SCHEMAS)
    if text is None or (schema is None and ":" in text):
        raise InvalidFilter(f"Unknown schema URN in attribute path {snippet(token.text)}.")
    uri = schema.id if schema is not None else None
    parts = text.split(".")
    if len(parts) > 2 or not all(_NAME.fullmatch(part) for part in parts):
        raise InvalidFilter(f"Invalid attribute path {snippet(token.text)} at position {token.pos + 1}.")
    if inside and (uri or len(parts) > 1):
        raise InvalidFilter(f"Inside [...] name a sub-attribute such as 'value', not {snippet(token.text)}.")
    return AttrPath(parts[0], parts[1] if len(parts) == 2 else None, uri)
