"""Hypothesis strategies for the property-based tests: filters, PATCH operations and SCIM bodies.

Generated input is biased toward what has broken SCIM servers before: Unicode look-alikes and invisible
characters, NUL and lone surrogates, date-times at the edge of the range, booleans as strings, wrong types,
attribute names in odd cases and URN-qualified forms.
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from scim.definitions import ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, PATCH_OP, USER_SCHEMA
from scim.filter_parser import And, AttrPath, Compare, Not, Or, ValuePath

# Hypothesis caches Unicode tables in ./.hypothesis even without an example database; keep the work tree clean.
set_hypothesis_home_dir(str(Path(tempfile.gettempdir()) / "mobieus-hypothesis"))


def examples(count: int, **extra) -> settings:
    """Settings for one property: `count` examples, the same ones on every run (CI is reproducible), no database."""
    return settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        **extra,
    )


# Characters that have each broken something: controls, bidi and zero-width, look-alikes, expanding ones.
TRICKY = (
    *"\x00\x07\x1b\x85\x9b\u200b\u200d\u200e\u202e\u2066\u2028\ufeff\ufe0f\u3164éßẞＡ\u212aıİсα\ufdfaﬁ\"\\%_'[]() \n😀",
    "e\u0301",
)
text = st.lists(st.characters(exclude_categories=("Cs",)) | st.sampled_from(TRICKY), max_size=24).map("".join)
# Lone surrogates survive JSON (as \ud800 escapes) but not UTF-8: the body checks must refuse them.
text_with_surrogates = st.lists(st.characters(exclude_categories=()) | st.sampled_from(TRICKY), max_size=12).map(
    "".join
)
names = st.sampled_from(
    ["ada", "Ada", "ADA", "Ａda", "A\u200bda", "Аda", "straße", "STRASSE", "été", "e\u0301te\u0301", "bob", "x" * 255]
)
user_names = names | text


def _offset() -> st.SearchStrategy[str]:
    return st.sampled_from(["Z", "+00:00", "+14:00", "-00:01", "-12:00", "+05:30", ""])


date_times = st.one_of(
    st.builds(
        lambda moment, offset: moment.isoformat() + offset,
        st.datetimes(timezones=st.none()),
        _offset(),
    ),
    st.sampled_from(
        [
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-00:01",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999+00:00",
            "2026-02-30T00:00:00Z",
            "2026-01-01",
            "2026-W01",
            "now",
        ]
    ),
    st.builds(lambda d: (d + timedelta(seconds=1)).isoformat() + "Z", st.datetimes(max_value=datetime(9999, 12, 30))),
)

# --- filters -------------------------------------------------------------------------------------------------------

USER_PATHS = [
    "userName",
    "USERNAME",
    "displayName",
    "name.givenName",
    "name.familyName",
    "name.formatted",
    "name",
    "emails",
    "emails.value",
    "emails.type",
    "emails.primary",
    "emails.display",
    "active",
    "id",
    "externalId",
    "meta.created",
    "meta.lastModified",
    "meta.location",
    "title",
    "groups",
    "groups.value",
    f"{USER_SCHEMA}:userName",
    f"{USER_SCHEMA}:name.givenName",
    f"{ENTERPRISE_USER_SCHEMA}:department",
    f"{ENTERPRISE_USER_SCHEMA}:manager.value",
    "members",
    "members.value",
    f"{GROUP_SCHEMA}:displayName",
    "unknown",
    "x.y",
    "urn:nope:thing",
]
OPS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "EQ", "Sw", "pr", "PR"]
filter_values = st.one_of(
    text.map(json.dumps),
    date_times.map(json.dumps),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(json.dumps),
    st.sampled_from(["true", "false", "null", "True", '"True"', '"false"', "1e999", "-0", "01", "x"]),
)


@st.composite
def comparisons(draw) -> str:
    path = draw(st.sampled_from(USER_PATHS))
    op = draw(st.sampled_from(OPS))
    return f"{path} {op}" if op.lower() == "pr" else f"{path} {op} {draw(filter_values)}"


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(["and", "or", "AND", "Or"]), children).map(" ".join),
        children.map(lambda c: f"not ({c})"),
        children.map(lambda c: f"({c})"),
        st.tuples(st.sampled_from(["emails", "members", "name", "addresses", "userName"]), children).map(
            lambda pair: f"{pair[0]}[{pair[1]}]"
        ),
        st.tuples(children, st.sampled_from(["value", "type", "primary"]), filter_values).map(
            lambda t: f"emails[{t[0]}].{t[1]} eq {t[2]}"
        ),
    )


# Filters an IdP would send, with generated values: these reach the database and answer 200.
plausible_filters = st.recursive(
    st.one_of(
        st.builds("userName eq {}".format, user_names.map(json.dumps)),
        st.builds(
            "{} {} {}".format,
            st.sampled_from(["displayName", "name.givenName", "name.familyName", "emails.value", "externalId", "id"]),
            st.sampled_from(["eq", "ne", "co", "sw", "ew", "gt", "le"]),
            text.map(json.dumps),
        ),
        st.builds(
            "meta.{} {} {}".format,
            st.sampled_from(["created", "lastModified"]),
            st.sampled_from(OPS[:9]),
            date_times.map(json.dumps),
        ),
        st.builds('emails[type eq "work"].value sw {}'.format, text.map(json.dumps)),
        st.sampled_from(["active eq true", 'active eq "False"', "emails pr", "members pr", "displayName pr"]),
    ),
    lambda children: (
        st.tuples(children, st.sampled_from(["and", "or"]), children).map(" ".join)
        | children.map(lambda c: f"not ({c})")
    ),
    max_leaves=3,
)
filters = st.one_of(
    plausible_filters,
    st.recursive(comparisons(), _combine, max_leaves=6),
    text,
    st.lists(st.sampled_from([*'()[]" .andortuseN\\', "eq", "pr", "not"]), max_size=40).map("".join),
)

# An AST the printer below can spell, for the round trip parse(print(ast)) == ast.
_attr_names = st.sampled_from(
    ["userName", "emails", "value", "type", "x", "Not", "andy", "order", "pr", "eq", "a-b_c9", "Z", "primary"]
)
ast_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**18), max_value=10**18),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12),
)


@st.composite
def ast_comparisons(draw, inside: bool = False):
    if inside:
        path = AttrPath(draw(_attr_names))
    else:
        sub = draw(st.none() | _attr_names)
        uri = draw(st.none() | st.sampled_from([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]))
        path = AttrPath(draw(_attr_names), sub, uri)
    op = draw(st.sampled_from(["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"]))
    return Compare(path, op, None if op == "pr" else draw(ast_values))


def _ast_combine(children):
    return st.one_of(
        st.builds(And, children, children),
        st.builds(Or, children, children),
        st.builds(Not, children),
    )


inner_asts = st.recursive(ast_comparisons(inside=True), _ast_combine, max_leaves=4)
asts = st.recursive(
    ast_comparisons() | st.builds(ValuePath, st.builds(AttrPath, _attr_names), inner_asts),
    _ast_combine,
    max_leaves=6,
)


def spell(node) -> str:
    """Write an AST back as filter text, parenthesising every branch so the structure is explicit."""
    if isinstance(node, And | Or):
        word = "and" if isinstance(node, And) else "or"
        return f"({spell(node.left)}) {word} ({spell(node.right)})"
    if isinstance(node, Not):
        return f"not ({spell(node.node)})"
    if isinstance(node, ValuePath):
        return f"{node.path}[{spell(node.filter)}]"
    if node.op == "pr":
        return f"{node.path} pr"
    return f"{node.path} {node.op} {json.dumps(node.value)}"


# --- JSON bodies ---------------------------------------------------------------------------------------------------

USER_KEYS = [
    "schemas",
    "userName",
    "USERNAME",
    "externalId",
    "displayName",
    "name",
    "nickName",
    "title",
    "active",
    "emails",
    "phoneNumbers",
    "addresses",
    "groups",
    "id",
    "meta",
    "password",
    "givenName",
    "familyName",
    "formatted",
    "value",
    "type",
    "primary",
    "display",
    "manager",
    "members",
    "$ref",
    ENTERPRISE_USER_SCHEMA,
]
keys = st.sampled_from(USER_KEYS) | text_with_surrogates
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(["True", "false", "", " "]),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    text,
    text_with_surrogates,
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=8,
)


def _email():
    return st.fixed_dictionaries(
        {"value": st.sampled_from(["a@example.com", "É@x.t", "a@b@c", "", "a b@c"]) | text},
        optional={"type": st.sampled_from(["work", "Wörk", "home"]) | text, "primary": scalars},
    )


user_bodies = st.one_of(
    st.fixed_dictionaries(
        {"userName": user_names},
        optional={
            "schemas": st.just([USER_SCHEMA]) | st.lists(text, max_size=2),
            "displayName": user_names | scalars,
            "externalId": user_names | scalars,
            "active": scalars,
            "name": st.dictionaries(st.sampled_from(["givenName", "familyName", "formatted", "GIVENNAME"]), text)
            | scalars,
            "emails": st.lists(_email() | json_values, max_size=3) | scalars,
            "title": text | scalars,
            ENTERPRISE_USER_SCHEMA: st.dictionaries(st.sampled_from(["manager", "department"]), json_values),
        },
    ),
    st.dictionaries(keys, json_values, max_size=6),
)
group_bodies = st.one_of(
    st.fixed_dictionaries(
        {"displayName": user_names},
        optional={
            "schemas": st.just([GROUP_SCHEMA]),
            "externalId": user_names | scalars,
            "members": st.lists(st.fixed_dictionaries({"value": text}) | json_values, max_size=3) | scalars,
        },
    ),
    st.dictionaries(st.sampled_from(["displayName", "members", "externalId", "schemas"]) | keys, json_values),
)

PATCH_PATHS = [
    None,
    "",
    "userName",
    "displayName",
    "active",
    "externalId",
    "name.givenName",
    "name",
    "emails",
    'emails[type eq "work"].value',
    'emails[type eq "work"]',
    'emails[value co "@"].primary',
    "emails.value",
    "phoneNumbers",
    'addresses[type eq "work"].locality',
    "members",
    'members[value eq "x"]',
    "manager",
    f"{ENTERPRISE_USER_SCHEMA}:manager",
    f"{ENTERPRISE_USER_SCHEMA}:department",
    ENTERPRISE_USER_SCHEMA,
    f"{USER_SCHEMA}:userName",
    "meta.created",
    "id",
    "password",
    "groups",
    "unknown",
    "emails[",
    "emails[type eq]",
]
# Operations as Okta and Entra send them, with generated values: these mostly succeed.
plausible_operations = st.one_of(
    st.fixed_dictionaries({"op": st.sampled_from(["replace", "Replace"]), "path": st.just("active"), "value": scalars}),
    st.fixed_dictionaries(
        {
            "op": st.sampled_from(["add", "replace", "Add", "Replace"]),
            "path": st.sampled_from(["userName", "displayName", "name.givenName", "title", "externalId"]),
            "value": user_names,
        }
    ),
    st.fixed_dictionaries(
        {
            "op": st.sampled_from(["add", "Add", "replace"]),
            "path": st.just('emails[type eq "work"].value'),
            "value": st.sampled_from(["new@example.com", "ÉLODIE@example.com", "x@y"]) | text,
        }
    ),
    st.fixed_dictionaries(
        {
            "op": st.just("replace"),
            "value": st.fixed_dictionaries(
                {}, optional={"displayName": user_names, "active": st.booleans(), "name.familyName": text}
            ),
        }
    ),
    st.fixed_dictionaries({"op": st.sampled_from(["remove", "Remove"]), "path": st.sampled_from(PATCH_PATHS[2:])}),
)
operations = st.one_of(
    plausible_operations,
    st.fixed_dictionaries(
        {"op": st.sampled_from(["add", "replace", "remove", "Add", "Replace", "Remove", "REMOVE", "copy"])},
        optional={
            "path": st.sampled_from(PATCH_PATHS) | text,
            "value": json_values | user_names | st.dictionaries(st.sampled_from(USER_KEYS), json_values, max_size=3),
        },
    ),
    json_values,
)
patch_bodies = st.one_of(
    st.fixed_dictionaries(
        {
            "Operations": st.lists(plausible_operations, min_size=1, max_size=3)
            | st.lists(operations, min_size=1, max_size=4)
        },
        optional={"schemas": st.just([PATCH_OP]) | st.lists(text, max_size=1)},
    ),
    st.dictionaries(st.sampled_from(["Operations", "operations", "schemas"]) | keys, json_values),
)
search_bodies = st.fixed_dictionaries(
    {},
    optional={
        "filter": filters | scalars,
        "startIndex": scalars | st.sampled_from(["1_000", "١٢", "7", 3]),
        "count": scalars | st.sampled_from(["1_000", "١٢", "7", 0, 1000]),
        "attributes": st.lists(text, max_size=2) | scalars,
        "excludedAttributes": st.lists(st.sampled_from(["members", "emails", "x"]), max_size=2) | scalars,
    },
)
