"""Compile SCIM filters (RFC 7644 §3.4.2.2) to SQLAlchemy clauses over indexed columns.

A `FilterMap` declares, per lowercased attribute path, how that attribute is stored: a `Field` (one
column, maybe in a child table reached through a `Related`) or a `Computed` clause. Comparisons are
never evaluated in Python and never spliced into SQL text: every value is a bound parameter.

`not` is pushed down to the comparisons, so each one decides what "false" means for a missing value:
`ne`, `not (...)` and friends match rows where the column is NULL, as an absent attribute is not equal
to anything. The caller adds tenant and visibility scoping itself.

Pitfall numbers refer to docs/idp-behaviour.md §2.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, String, and_, func, not_, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from scim.definitions import GROUP_RESOURCE, USER_RESOURCE, Attribute
from scim.errors import InvalidFilter
from scim.filter_parser import And, AttrPath, Compare, Node, Not, Or, Value, ValuePath, parse_filter, snippet
from scim.filter_targets import Computed, Field, FilterMap, Related, Target
from scim.schemas import as_boolean
from services.identifiers import fold

# Public API; parse_filter and Node are re-exported so callers need only this module. The maps for our two
# resource types, USER_FILTERS and GROUP_FILTERS, are declared in scim.filter_maps.
__all__ = ["Computed", "Field", "FilterMap", "Node", "Related", "compile_filter", "equality_value", "parse_filter"]

# Which operators make sense for which attribute type (RFC 7644 §3.4.2.2: gt/ge/lt/le on booleans is an error).
_OPS = {
    "string": {"eq", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"},
    "boolean": {"eq", "pr"},
    "datetime": {"eq", "gt", "ge", "lt", "le", "pr"},
    "integer": {"eq", "gt", "ge", "lt", "le", "pr"},
}
# `meta` is common to every resource (RFC 7643 §3.1) but not declared in scim.definitions.
_META = Attribute(
    "meta",
    type="complex",
    sub_attributes=tuple(map(Attribute, ("resourceType", "created", "lastModified", "location", "version"))),
)


class _CodePointOrder(FunctionElement[str]):
    """A string compared by code point on every database, so `gt`/`lt` on strings give the same rows everywhere.

    SQLite compares text as UTF-8 bytes (code point order); PostgreSQL uses the database's collation unless told
    `COLLATE "C"`, which is byte order again.
    """

    type = String()
    inherit_cache = True


@compiles(_CodePointOrder)
def _code_point_order(element: _CodePointOrder, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(_CodePointOrder, "postgresql")
def _code_point_order_postgresql(element: _CodePointOrder, compiler: SQLCompiler, **kw: Any) -> str:
    # Parenthesised: COLLATE binds tighter than ->>, and a JSON attribute is `profile_ci ->> 'key'`.
    return f'({compiler.process(element.clauses, **kw)}) COLLATE "C"'


@dataclass(frozen=True)
class _Scope:
    """The multi-valued attribute whose `[...]` we are inside; its paths are sub-attribute names."""

    attribute: Attribute
    key: str
    via: Related | None


def compile_filter(text: str | Node, targets: FilterMap) -> ColumnElement[bool]:
    """Compile a filter (RFC 7644 §3.4.2.2), as text or parsed, to a WHERE clause; raise InvalidFilter when unusable."""
    node = parse_filter(text) if isinstance(text, str) else text
    return _compile(node, targets, negate=False, scope=None)


def equality_value(node: Node, targets: FilterMap, key: str) -> Any | None:
    """Return the value of a filter that is exactly `<the attribute mapped at key> eq <value>`, else None.

    The value comes as its column holds it (checked against the attribute's type, folded where the column is), so
    a caller can answer the filter IdPs send before every create (`userName eq "..."`, docs/idp-behaviour.md)
    from a statement built once. What `compile_filter` would refuse, this refuses alike.
    """
    if not isinstance(node, Compare) or node.op != "eq" or node.value is None:
        return None
    name, target = _target(node.path, targets, None)
    if target is not targets.targets.get(key) or not isinstance(target, Field) or target.via is not None:
        return None
    value = _coerce(name, target.kind, node.value)
    return fold(value) if target.kind == "string" and not target.case_exact else value


def _compile(node: Node, fmap: FilterMap, negate: bool, scope: _Scope | None) -> ColumnElement[bool]:
    if isinstance(node, Not):
        return _compile(node.node, fmap, not negate, scope)
    if isinstance(node, And | Or):
        parts = (_compile(node.left, fmap, negate, scope), _compile(node.right, fmap, negate, scope))
        # De Morgan: not (a and b) == not a or not b, so the negation reaches the comparisons.
        use_or = isinstance(node, Or) != negate
        return or_(*parts) if use_or else and_(*parts)
    if isinstance(node, ValuePath):
        attribute, key = _attribute(node.path, fmap)
        if attribute.type != "complex":
            raise InvalidFilter(f"Attribute {snippet(str(node.path))} has no sub-attributes to filter with [...].")
        parent = fmap.targets.get(key)
        inner = _Scope(attribute, key, parent.via if parent else None)
        if inner.via is None:  # a singular complex attribute: `name[givenName eq "x"]` is `name.givenName eq "x"`
            return _compile(node.filter, fmap, negate, inner)
        # RFC 7644 §3.4.2.2: the whole [filter] must hold for one value: one subquery, one child row (pitfall 12).
        clause = inner.via.matching(_compile(node.filter, fmap, False, inner))
        return not_(clause) if negate else clause
    return _comparison(node, fmap, negate, scope)


def _comparison(node: Compare, fmap: FilterMap, negate: bool, scope: _Scope | None) -> ColumnElement[bool]:
    name, target = _target(node.path, fmap, scope)
    op, value = node.op, node.value
    if op == "ne":  # `ne` is exactly `not eq`, so it also matches absent values
        op, negate = "eq", not negate
    if op == "eq" and value is None:  # `eq null` asks whether the attribute is absent
        op, negate = "pr", not negate
    if op not in _OPS[target.kind]:
        raise InvalidFilter(f"Operator {node.op!r} cannot be used with {target.kind} attribute {name!r}.")
    value = None if op == "pr" else _coerce(name, target.kind, value)
    if scope is not None and target.via is not scope.via:  # a map whose `emails.x` lacks the `emails` Related
        raise InvalidFilter(f"Attribute {name!r} is not filterable inside [...].")
    if target.via is not None and scope is None:
        # `emails.value eq "x"`: some email is x; `emails.value ne "x"`: no email is x.
        clause = target.via.matching(_test(target, op, value, negate=False))
        return not_(clause) if negate else clause
    return _test(target, op, value, negate)


def _test(target: Target, op: str, value: Any, negate: bool) -> ColumnElement[bool]:
    """Build the row-level test; negated tests treat a NULL column as "does not match"."""
    if isinstance(target, Computed):
        clause = target.compile(op, value)
        return not_(clause) if negate else clause
    column = target.column
    if op == "pr":
        present = and_(column.is_not(None), column != "") if target.kind == "string" else column.is_not(None)
        return not_(present) if negate else present
    expr = column
    if target.kind == "string" and not target.case_exact:
        value = fold(value)
    if op == "eq":
        clause = expr == value
    elif op in ("co", "sw", "ew"):
        clause = _like(expr, op, value, target.case_exact)
    else:
        if target.kind == "string":
            expr, value = _CodePointOrder(expr), _CodePointOrder(value)
        clause = {"gt": expr > value, "ge": expr >= value, "lt": expr < value, "le": expr <= value}[op]
    # In SQL, NOT (NULL = 'x') is NULL, i.e. no match; an absent attribute must match a negated test.
    return or_(column.is_(None), not_(clause)) if negate else clause


def _like(expr: SQLColumnExpression[Any], op: str, value: str, case_exact: bool) -> ColumnElement[bool]:
    """Match co/sw/ew with LIKE, escaping the value so `%`, `_` and `\\` are literal."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = {"co": f"%{escaped}%", "sw": f"{escaped}%", "ew": f"%{escaped}"}[op]
    clause: ColumnElement[bool] = expr.like(pattern, escape="\\")
    if case_exact and value:
        # SQLite's LIKE ignores ASCII case; pin the case with a test both SQLite and PostgreSQL run.
        exact = {
            "sw": func.substr(expr, 1, len(value)) == value,
            "ew": func.substr(expr, func.length(expr) - len(value) + 1) == value,
            "co": func.replace(expr, value, "") != expr,
        }[op]
        clause = and_(clause, exact)
    return clause


def _coerce(name: str, kind: str, value: Value) -> Any:
    """Check a comparison value against the attribute's type (RFC 7643 §2.3) and convert it."""
    if kind == "string" and isinstance(value, str):
        return value
    if kind == "boolean":
        # Entra sends booleans as "True"/"False" strings elsewhere (pitfall 2); accept them here too.
        flag = as_boolean(value)
        if flag is not None:
            return flag
    if kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "datetime" and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
            # The database keeps naive UTC (models.utcnow); a value without an offset is taken as UTC.
            return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
        except ValueError:
            raise InvalidFilter(f"Attribute {name!r} needs an ISO 8601 date-time, not {snippet(value)}.") from None
        except OverflowError:  # "0001-01-01T00:00:00+14:00" is in year 0 once in UTC, before datetime.min
            raise InvalidFilter(f"Attribute {name!r} needs a date-time between years 1 and 9999 in UTC.") from None
    wanted = {"string": "a string", "boolean": "true or false", "integer": "an integer", "datetime": "a date-time"}
    raise InvalidFilter(f"Attribute {name!r} needs {wanted[kind]} value.")


def _target(path: AttrPath, fmap: FilterMap, scope: _Scope | None) -> tuple[str, Target]:
    """Resolve a path to its target; unknown and known-but-not-filterable attributes differ."""
    if scope is None:
        attribute, key = _attribute(path, fmap)
        name, top, leaf = attribute.name, attribute, bool(path.sub)
        if path.sub:
            sub = attribute.sub(path.sub)
            if sub is None:
                raise InvalidFilter(f"Unknown attribute {snippet(str(path))}.", reason=_unknown(attribute.name))
            name, key = f"{attribute.name}.{sub.name}", f"{key}.{sub.name.lower()}"
    else:
        sub = scope.attribute.sub(path.attr)
        if sub is None:
            shown = snippet(f"{scope.attribute.name}.{path.attr}")
            raise InvalidFilter(f"Unknown attribute {shown}.", reason=_unknown(scope.attribute.name))
        name, key = f"{scope.attribute.name}.{sub.name}", f"{scope.key}.{sub.name.lower()}"
        top, leaf = scope.attribute, True
    target = fmap.targets.get(key)
    if target is None:
        raise InvalidFilter(
            _not_filterable(name, key, top, leaf, fmap), reason=f"filter_attribute_not_filterable:{name}"
        )
    return name, target


def _not_filterable(name: str, key: str, top: Attribute, leaf: bool, fmap: FilterMap) -> str:
    """Say why a published attribute cannot be filtered on, and what can be instead."""
    if top.type == "complex" and not leaf and not top.multi_valued:
        subs = [f"{name}.{sub.name}" for sub in top.sub_attributes if f"{key}.{sub.name.lower()}" in fmap.targets]
        return f"Attribute {name!r} is complex: filter on one of its sub-attributes, such as {', '.join(subs[:3])}."
    if top.multi_valued:
        lists = sorted({key.split(".")[0] for key, target in fmap.targets.items() if target.via is not None})
        return f"Attribute {name!r} is not filterable: of the multi-valued attributes, only {', '.join(lists)} are."
    return f"Attribute {name!r} is not filterable."


def _attribute(path: AttrPath, fmap: FilterMap) -> tuple[Attribute, str]:
    """Find the top-level attribute a path names, and its map key (extension keys keep their URN)."""
    core = fmap.resource.schema
    if path.uri is None:
        schemas = fmap.resource.schemas()  # RFC 7644 §3.10: an unqualified name is core first
    elif path.uri.lower() == core.id.lower():
        schemas = (core,)
    else:
        extension = fmap.resource.extension(path.uri)
        schemas = (extension,) if extension else ()
    for schema in schemas:
        attribute = _META if schema is core and path.attr.lower() == "meta" else schema.attribute(path.attr)
        if attribute is not None:
            if path.sub and not attribute.sub_attributes:
                break
            prefix = "" if schema is core else f"{schema.id.lower()}:"
            return attribute, prefix + attribute.name.lower()
    raise InvalidFilter(f"Unknown attribute {snippet(str(path))}.", reason=_unknown(_our_name(path.attr)))


def _our_name(name: str) -> str | None:
    """Return our schemas' spelling of a top-level attribute name, or None when no schema of ours has it."""
    for schema in (*USER_RESOURCE.schemas(), *GROUP_RESOURCE.schemas()):
        attribute = schema.attribute(name)
        if attribute is not None:
            return attribute.name
    return None


def _unknown(ours: str | None) -> str:
    """Return the failure reason for an unknown filter attribute, naming it only in our schemas' words."""
    return f"filter_attribute_unknown:{ours}" if ours else "filter_attribute_unknown"
