"""SCIM filters (RFC 7644 §3.4.2.2): the parser, and compilation checked against a real SQLite database."""

from __future__ import annotations

import sys
from datetime import datetime

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from models import Cohort, CohortMember, Role, Tenant, User, UserEmail, db
from scim.definitions import USER_RESOURCE
from scim.errors import InvalidFilter
from scim.filter_maps import GROUP_FILTERS, USER_FILTERS
from scim.filter_parser import MAX_DEPTH, And, AttrPath, Compare, Not, Or, ValuePath
from scim.filters import Field, FilterMap, compile_filter, parse_filter
from tests.helpers import ENTERPRISE, USER


def cmp(attr: str, op: str, value=None, sub: str | None = None, uri: str | None = None) -> Compare:
    return Compare(AttrPath(attr, sub, uri), op, value)


# --- parser ------------------------------------------------------------------------------------------


def test_parse_simple_comparison():
    assert parse_filter('userName eq "bjensen"') == cmp("userName", "eq", "bjensen")


@pytest.mark.parametrize("op", ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"])
def test_parse_every_comparison_operator(op):
    assert parse_filter(f'title {op} "x"') == cmp("title", op, "x")


@pytest.mark.parametrize("text", ['userName Eq "x"', 'userName EQ "x"', 'userName eQ "x"'])
def test_operators_are_case_insensitive(text):
    assert parse_filter(text) == cmp("userName", "eq", "x")


@pytest.mark.parametrize("text", ["title pr", "title PR", "title Pr"])
def test_parse_present(text):
    assert parse_filter(text) == cmp("title", "pr")


def test_and_binds_tighter_than_or():
    a, b, c = cmp("a", "pr"), cmp("b", "pr"), cmp("c", "pr")
    assert parse_filter("a pr or b pr and c pr") == Or(a, And(b, c))
    assert parse_filter("a pr and b pr or c pr") == Or(And(a, b), c)


def test_logical_operators_are_case_insensitive():
    a, b, c = cmp("a", "pr"), cmp("b", "pr"), cmp("c", "pr")
    assert parse_filter("a pr OR b pr AnD c pr") == Or(a, And(b, c))
    assert parse_filter("NOT (a pr)") == Not(a)


def test_parentheses_and_not_group():
    a, b, c = cmp("a", "pr"), cmp("b", "pr"), cmp("c", "pr")
    assert parse_filter("(a pr or b pr) and c pr") == And(Or(a, b), c)
    assert parse_filter("not (a pr or b pr) and c pr") == And(Not(Or(a, b)), c)
    assert parse_filter("not(a pr)") == Not(a)
    assert parse_filter("((a pr))") == a


def test_left_associative_chains():
    a, b, c = cmp("a", "pr"), cmp("b", "pr"), cmp("c", "pr")
    assert parse_filter("a pr and b pr and c pr") == And(And(a, b), c)


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        (r'"say \"hi\""', 'say "hi"'),
        (r'"back\\slash"', "back\\slash"),
        (r'"caf\u00e9"', "café"),
        (r'"a\/b\tc"', "a/b\tc"),
        (r'"\ud83d\ude00"', "\U0001f600"),
        ('"EDU All personal"', "EDU All personal"),
        ('""', ""),
        ('"and or not ) ( ] ["', "and or not ) ( ] ["),
    ],
)
def test_string_literals_use_json_escapes(literal, value):
    assert parse_filter(f"displayName eq {literal}") == cmp("displayName", "eq", value)


@pytest.mark.parametrize(
    ("literal", "value"),
    [("true", True), ("false", False), ("null", None), ("True", True), ("NULL", None), ("42", 42), ("-7", -7)],
)
def test_keyword_and_integer_literals(literal, value):
    node = parse_filter(f"x eq {literal}")
    assert node == cmp("x", "eq", value) and type(node.value) is type(value)


@pytest.mark.parametrize(("literal", "value"), [("1.5", 1.5), ("-0.25", -0.25), ("2e3", 2000.0), ("1E-2", 0.01)])
def test_decimal_literals(literal, value):
    assert parse_filter(f"x gt {literal}") == cmp("x", "gt", value)


def test_dotted_sub_attributes():
    assert parse_filter('name.familyName eq "x"') == cmp("name", "eq", "x", sub="familyName")
    assert parse_filter('meta.created gt "2026-01-01T00:00:00Z"') == cmp(
        "meta", "gt", "2026-01-01T00:00:00Z", "created"
    )


def test_urn_qualified_paths_keep_the_dotted_urn_intact():
    assert parse_filter(f'{USER}:userName eq "x"') == cmp("userName", "eq", "x", uri=USER)
    assert parse_filter(f'{USER}:name.givenName eq "x"') == cmp("name", "eq", "x", "givenName", USER)
    assert parse_filter(f'{ENTERPRISE}:employeeNumber eq "7"') == cmp("employeeNumber", "eq", "7", uri=ENTERPRISE)
    assert parse_filter(f"{ENTERPRISE.upper()}:department pr") == cmp("department", "pr", uri=ENTERPRISE)


def test_value_path():
    assert parse_filter('emails[type eq "work" and value co "@x"]') == ValuePath(
        AttrPath("emails"), And(cmp("type", "eq", "work"), cmp("value", "co", "@x"))
    )


def test_entra_value_path_with_sub_attribute_becomes_one_value_filter():
    # Pitfall 12: the trailing `.value eq "x"` joins the bracket filter, so both hold for the same email.
    assert parse_filter('emails[type eq "work"].value eq "x"') == ValuePath(
        AttrPath("emails"), And(cmp("type", "eq", "work"), cmp("value", "eq", "x"))
    )
    assert parse_filter('emails[type eq "a" or type eq "b"].value pr') == ValuePath(
        AttrPath("emails"), And(Or(cmp("type", "eq", "a"), cmp("type", "eq", "b")), cmp("value", "pr"))
    )


def test_value_path_combines_with_logic_and_urns():
    node = parse_filter(f'not ({USER}:emails[not (type eq "home")]) or userName pr')
    assert node == Or(
        Not(ValuePath(AttrPath("emails", uri=USER), Not(cmp("type", "eq", "home")))), cmp("userName", "pr")
    )


def test_whitespace_is_flexible():
    assert parse_filter('  userName   eq\t"x"  ') == cmp("userName", "eq", "x")
    assert parse_filter('(userName eq"x")and(title pr)') == And(cmp("userName", "eq", "x"), cmp("title", "pr"))


def test_nesting_up_to_the_limit_is_accepted():
    text = "(" * MAX_DEPTH + "title pr" + ")" * MAX_DEPTH
    assert parse_filter(text) == cmp("title", "pr")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ('userName eq "' + "x" * 1000 + '"', "longer than 1000"),
        ("(" * (MAX_DEPTH + 1) + "title pr" + ")" * (MAX_DEPTH + 1), "nested more than"),
        ("not (" * (MAX_DEPTH + 1) + "title pr" + ")" * (MAX_DEPTH + 1), "nested more than"),
        ('userName eq "abc', "not terminated"),
        ('userName eq "abc\\"', "not terminated"),
        (r'userName eq "a\xb"', "invalid escape"),
        (r'userName eq "\u12"', "invalid escape"),
        (r'userName eq "\ud800"', "invalid escape"),
        ('userName eq "x" junk', "Unexpected 'junk'"),
        ('userName eq "x" "y"', "Unexpected a string"),
        ('userName eq "x")', "Unexpected ')'"),
        ('(userName eq "x"', "Expected ')'"),
        ('userName like "x"', "Expected an operator"),
        ("userName", "Expected an operator"),
        ("userName eq", "Expected a value"),
        ("externalId eq jyoung", "Expected a value"),
        ("externalId eq 01", "Expected a value"),
        ('userName eq "x" and', "Expected an attribute name"),
        ('and userName eq "x"', "Expected an operator"),
        ('"userName" eq "x"', "Expected an attribute name"),
        ("not userName pr", "Expected an operator"),
        ('urn:example:custom:2.0:User:foo eq "x"', "Unknown schema URN"),
        ('a.b.c eq "x"', "Invalid attribute path"),
        ('1abc eq "x"', "Invalid attribute path"),
        ('emails[type eq "work"', "Expected ']'"),
        ("emails[type[value pr]]", "cannot be nested"),
        ('emails.value[type eq "work"]', "must follow a multi-valued attribute"),
        ('emails[emails.type eq "work"]', "name a sub-attribute"),
        (f'emails[{USER}:type eq "work"]', "name a sub-attribute"),
        ('emails[type eq "work"].1x eq "y"', "Invalid sub-attribute"),
        ('emails[type eq "work"].value', "Expected an operator"),
    ],
)
def test_parse_errors(text, message):
    with pytest.raises(InvalidFilter) as caught:
        parse_filter(text)
    assert message in caught.value.detail
    assert caught.value.scim_type == "invalidFilter" and caught.value.status == 400


def test_errors_quote_at_most_a_short_token_and_never_string_values():
    with pytest.raises(InvalidFilter) as caught:
        parse_filter('userName eq "secret-value" ' + "z" * 500)
    assert "secret-value" not in caught.value.detail and len(caught.value.detail) < 120
    with pytest.raises(InvalidFilter) as caught:
        parse_filter('userName xx "secret-value"')
    assert "secret-value" not in caught.value.detail


# --- resolution errors (no database needed) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('foo eq "x"', "Unknown attribute 'foo'"),
        ('name.foo eq "x"', "Unknown attribute 'name.foo'"),
        ('userName.foo eq "x"', "Unknown attribute 'userName.foo'"),
        ('emails[foo eq "x"]', "Unknown attribute 'emails.foo'"),
        ('urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "x"', "Unknown attribute"),
        ('phoneNumbers[type eq "work"]', "'phoneNumbers.type' is not filterable: of the multi-valued attributes"),
        ('addresses.locality eq "x"', "only emails, groups are"),
        ('phoneNumbers eq "x"', "'phoneNumbers' is not filterable"),
        ('name eq "x"', "Attribute 'name' is complex: filter on one of its sub-attributes, such as name.formatted"),
        ('groups.$ref eq "x"', "'groups.$ref' is not filterable"),
        ('meta.location eq "x"', "Attribute 'meta.location' is not filterable"),
        ('meta.resourceType eq "User"', "Attribute 'meta.resourceType' is not filterable"),
        ('meta.foo eq "x"', "Unknown attribute 'meta.foo'"),
        ('userName[value eq "x"]', "has no sub-attributes"),
        ("active gt true", "Operator 'gt' cannot be used with boolean attribute 'active'"),
        ('active co "t"', "Operator 'co' cannot be used with boolean"),
        ('active eq "maybe"', "needs true or false"),
        ("emails.primary le false", "Operator 'le' cannot be used with boolean attribute 'emails.primary'"),
        ("userName eq 1", "needs a string value"),
        ("userName eq true", "needs a string value"),
        ("userName gt null", "needs a string value"),
        ('meta.created gt "yesterday"', "needs an ISO 8601 date-time"),
        ("meta.created gt 2026", "needs a date-time"),
        ('meta.created co "2026"', "Operator 'co' cannot be used with datetime"),
    ],
)
def test_user_resolution_errors(text, message):
    with pytest.raises(InvalidFilter) as caught:
        compile_filter(text, USER_FILTERS)
    assert message in caught.value.detail


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('userName eq "x"', "Unknown attribute 'userName'"),
        (f'{USER}:displayName eq "x"', "Unknown attribute"),
        ('members.display eq "x"', "Attribute 'members.display' is not filterable"),
        ('members[type eq "User"]', "Attribute 'members.type' is not filterable"),
        ("active eq true", "Unknown attribute 'active'"),
    ],
)
def test_group_resolution_errors(text, message):
    with pytest.raises(InvalidFilter) as caught:
        compile_filter(text, GROUP_FILTERS)
    assert message in caught.value.detail


# --- compilation against a real database -------------------------------------------------------------


@pytest.fixture(scope="module")
def data():
    """Build a throwaway app with a few users and cohorts; yield their ids by nickname."""
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
    db.init_app(app)
    with app.app_context():
        db.create_all()
        home, other = Tenant(slug="home", name="Home"), Tenant(slug="other", name="Other")
        db.session.add_all([home, other])
        db.session.flush()

        def user(nick, user_name, *, tenant=home, emails=(), **columns):
            columns.setdefault("scim_managed", True)
            row = User(tenant_id=tenant.id, user_name=user_name, **columns)  # the model fills the folded columns
            for position, (kind, value, primary) in enumerate(emails):
                row.emails.append(UserEmail(position=position, type=kind, value=value, primary=primary))
            db.session.add(row)
            return nick, row

        people = dict(
            [
                user(
                    "okta",
                    "Test.User@Okta.Local",
                    external_id="ext-1",
                    display_name="Test User",
                    given_name="Test",
                    family_name="User",
                    created_at=datetime(2025, 6, 1),
                    updated_at=datetime(2026, 3, 1),
                    emails=[("work", "test.user@okta.local", True), ("home", "Home@Example.com", None)],
                ),
                user(
                    "alice",
                    "alice@contoso.com",
                    external_id="EXT-2",
                    display_name="Alice 100% _real_",
                    given_name="Alice",
                    family_name="O'Brien",
                    role=Role.BANNED,
                    created_at=datetime(2026, 2, 1),
                    updated_at=datetime(2026, 2, 1),
                    emails=[("Work", "X@contoso.com", False), ("other", "y@contoso.com", None)],
                ),
                user(
                    "bob",
                    "bob",
                    created_at=datetime(2026, 3, 1),
                    updated_at=datetime(2026, 3, 1),
                    emails=[("home", "x@contoso.com", None), ("work", "bob@work.example", True)],
                ),
                user(
                    "quote",
                    'quote"user\\name',
                    external_id="abc",
                    display_name='He said "hi" \\ é',
                    created_at=datetime(2024, 1, 1),
                    updated_at=datetime(2024, 1, 1),
                ),
                user("stranger", "bob", tenant=other, created_at=datetime(2026, 3, 1), external_id="ext-1"),
            ]
        )
        db.session.flush()

        def cohort(nick, name, members, **columns):
            row = Cohort(tenant_id=home.id, name=name, owner_id=people["okta"].id, **columns)
            db.session.add(row)
            db.session.flush()
            db.session.add_all(CohortMember(cohort_id=row.id, user_id=people[m].id) for m in members)
            return nick, row

        groups = dict(
            [
                cohort(
                    "edu", "EDU All personal", ["okta", "alice"], external_id="G-1", created_at=datetime(2025, 1, 1)
                ),
                cohort("quoted", 'Group "quoted" \\ name', ["bob"], created_at=datetime(2026, 5, 1)),
                cohort("empty", "Empty", [], external_id="g-1", created_at=datetime(2026, 5, 1)),
            ]
        )
        db.session.commit()
        ids = {nick: (row.id, row.scim_id) for nick, row in {**people, **groups}.items()}
        home_id = home.id
        yield {"ids": ids, "home": home_id}
        db.session.remove()
        db.drop_all()


GROUP_NICKS = ("edu", "quoted", "empty")


def users(data, text: str) -> set[str]:
    """Return the nicknames of the home tenant's users the filter selects (scoping as a caller adds it)."""
    names = {row_id: nick for nick, (row_id, _) in data["ids"].items() if nick not in GROUP_NICKS}
    query = select(User.id).where(User.tenant_id == data["home"], compile_filter(text, USER_FILTERS))
    return {names[row_id] for row_id in db.session.scalars(query)}


def groups(data, text: str) -> set[str]:
    names = {row_id: nick for nick, (row_id, _) in data["ids"].items() if nick in GROUP_NICKS}
    query = select(Cohort.id).where(Cohort.tenant_id == data["home"], compile_filter(text, GROUP_FILTERS))
    return {names[row_id] for row_id in db.session.scalars(query)}


ALL = {"okta", "alice", "bob", "quote"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Okta's lookup, stored mixed-case (docs/idp-behaviour.md pitfall 13)
        ('userName eq "test.user@okta.local"', {"okta"}),
        ('USERNAME EQ "TEST.USER@OKTA.LOCAL"', {"okta"}),
        (f'{USER}:userName eq "Test.User@okta.local"', {"okta"}),
        ('userName eq "bob"', {"bob"}),  # the other tenant's bob is scoped out by the caller
        ('userName eq "quote\\"user\\\\name"', {"quote"}),
        # Entra's email match: type and value on the same email (pitfall 12)
        ('emails[type eq "work"].value eq "x@contoso.com"', {"alice"}),
        ('emails[type eq "work" and value eq "X@CONTOSO.COM"]', {"alice"}),
        ('emails.type eq "work" and emails.value eq "x@contoso.com"', {"alice", "bob"}),  # any email, any email
        ('emails[type eq "home"].value eq "x@contoso.com"', {"bob"}),
        ('emails[type eq "work" and value co "@x"]', set()),
        ('emails eq "home@example.com"', {"okta"}),
        ('emails.value ew "@contoso.com"', {"alice", "bob"}),
        ("emails.primary eq true", {"okta", "bob"}),
        ('emails[primary eq true and type eq "work"].value sw "bob"', {"bob"}),
        ("emails pr", {"okta", "alice", "bob"}),
        ("not (emails pr)", {"quote"}),
        ('emails.value ne "x@contoso.com"', {"okta", "quote"}),
        ('not (emails[type eq "work"])', {"quote"}),
        # externalId is case-exact
        ('externalId eq "ext-1"', {"okta"}),
        ('externalId eq "EXT-1"', set()),
        ('externalId sw "EXT"', {"alice"}),
        ('externalId sw "ext"', {"okta"}),
        ('externalId co "XT"', {"alice"}),
        ('externalId ew "-1"', {"okta"}),
        ('externalId ew "T-2"', {"alice"}),
        ('externalId ew "t-2"', set()),
        # displayName and names: case-insensitive, values with spaces and escapes
        ('displayName eq "test user"', {"okta"}),
        ('displayName eq "He said \\"hi\\" \\\\ \\u00e9"', {"quote"}),
        ('displayName eq "HE SAID \\"HI\\" \\\\ é"', {"quote"}),
        ('name.familyName eq "o\'brien"', {"alice"}),
        ('name.givenName sw "AL"', {"alice"}),
        ('name[givenName eq "test" and familyName eq "user"]', {"okta"}),
        # LIKE wildcards in values are literal
        ('displayName co "100%"', {"alice"}),
        ('displayName co "%"', {"alice"}),
        ('displayName co "_"', {"alice"}),
        ('displayName co "0% _r"', {"alice"}),
        ('userName sw "test_"', set()),
        ('userName sw "test."', {"okta"}),
        ('userName co "%"', set()),
        ('userName co "\\\\"', {"quote"}),
        ('userName ew "@OKTA.local"', {"okta"}),
        ('displayName co ""', {"okta", "alice", "quote"}),
        # lexical ordering, case-insensitive for userName
        ('userName gt "b"', {"bob", "quote", "okta"}),
        ('userName lt "B"', {"alice"}),
        ('userName ge "bob" and userName le "bob"', {"bob"}),
        # logic and NULLs: an absent value is "not equal"
        ('userName eq "bob" or externalId eq "ext-1"', {"bob", "okta"}),
        ('not (userName eq "bob")', ALL - {"bob"}),
        ('externalId ne "ext-1"', {"alice", "bob", "quote"}),
        ('displayName ne "Test User"', {"alice", "bob", "quote"}),
        ('not (displayName eq "Test User")', {"alice", "bob", "quote"}),
        ('not (displayName sw "alice" or displayName co "said")', {"okta", "bob"}),
        ('not (not (displayName eq "Test User"))', {"okta"}),
        ('not (externalId pr and displayName co "e")', {"bob"}),
        ("externalId pr", {"okta", "alice", "quote"}),
        ("not (externalId pr)", {"bob"}),
        ("externalId eq null", {"bob"}),
        ("externalId ne null", {"okta", "alice", "quote"}),
        ('userName pr and (externalId eq "abc" or emails[type eq "home"])', {"okta", "bob", "quote"}),
        # active is the member rung (R1)
        ("active eq false", {"alice"}),
        ("active eq true", {"okta", "bob", "quote"}),
        ("active ne true", {"alice"}),
        ('active eq "False"', {"alice"}),
        ("not (active eq false)", {"okta", "bob", "quote"}),
        ("active pr", ALL),
        ("not (active pr)", set()),
        # meta dates: ISO 8601, offsets converted to UTC
        ('meta.created gt "2026-01-01T00:00:00Z"', {"alice", "bob"}),
        ('meta.created ge "2026-02-01T02:00:00+02:00"', {"alice", "bob"}),
        ('meta.created gt "2026-02-01T02:00:00+02:00"', {"bob"}),
        ('meta.created lt "2025-01-01"', {"quote"}),
        ('meta.created eq "2026-03-01T00:00:00Z"', {"bob"}),
        ('meta.lastModified ge "2026-03-01T00:00:00.000Z"', {"okta", "bob"}),
        ('id eq "no-such-id"', set()),
    ],
)
def test_user_filters_select_rows(data, text, expected):
    assert users(data, text) == expected


def test_user_id_is_case_exact(data):
    _, scim_id = data["ids"]["alice"]
    assert users(data, f'id eq "{scim_id}"') == {"alice"}
    assert users(data, f'id eq "{scim_id.upper()}"') == set()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('displayName eq "EDU All personal"', {"edu"}),  # pitfall 31
        ('displayname EQ "edu all PERSONAL"', {"edu"}),
        ('displayName eq "Group \\"quoted\\" \\\\ name"', {"quoted"}),  # pitfall 32
        ('displayName sw "edu all"', {"edu"}),
        ('externalId eq "G-1"', {"edu"}),
        ('externalId eq "g-1"', {"empty"}),
        ("members pr", {"edu", "quoted"}),
        ("not (members pr)", {"empty"}),
        ('meta.created gt "2026-01-01T00:00:00Z"', {"quoted", "empty"}),
        ("meta.lastModified pr and not (externalId pr)", {"quoted"}),
    ],
)
def test_group_filters_select_rows(data, text, expected):
    assert groups(data, text) == expected


def test_group_member_filters(data):
    okta, bob, edu = data["ids"]["okta"][1], data["ids"]["bob"][1], data["ids"]["edu"][1]
    assert groups(data, f'members[value eq "{okta}"]') == {"edu"}
    assert groups(data, f'members.value eq "{bob}"') == {"quoted"}
    assert groups(data, f'members eq "{bob}" or members eq "{okta}"') == {"edu", "quoted"}
    assert groups(data, f'members.value ne "{bob}"') == {"edu", "empty"}
    assert groups(data, f'members eq "{okta.upper()}"') == set()
    assert groups(data, f'id eq "{edu}" and members eq "{okta}"') == {"edu"}


def test_member_subquery_survives_a_caller_join_on_users(data):
    # The caller joins the owner (okta); members must still be matched through their own alias.
    bob = data["ids"]["bob"][1]
    query = (
        select(Cohort.id)
        .join(User, User.id == Cohort.owner_id)
        .where(User.tenant_id == data["home"], compile_filter(f'members eq "{bob}"', GROUP_FILTERS))
    )
    assert list(db.session.scalars(query)) == [data["ids"]["quoted"][0]]


def test_email_subquery_survives_a_caller_join_on_emails(data):
    # A caller joining user_emails itself must not swallow the filter's correlated subquery.
    query = (
        select(User.id)
        .join(UserEmail, UserEmail.user_id == User.id)
        .where(UserEmail.position == 0, compile_filter('emails[type eq "home"].value eq "x@contoso.com"', USER_FILTERS))
    )
    assert list(db.session.scalars(query)) == [data["ids"]["bob"][0]]


def test_a_caller_can_declare_its_own_map_with_integer_columns(data):
    # `nickName` standing in for an integer attribute: the kinds are the map's, not the schema's.
    ranks = FilterMap(USER_RESOURCE, {"nickname": Field(User.role, kind="integer")})
    query = select(User.id).where(User.tenant_id == data["home"], compile_filter("nickName ge 2", ranks))
    assert len(db.session.scalars(query).all()) == 3
    for text, message in [('nickName eq "2"', "needs an integer"), ("nickName co 2", "Operator 'co'")]:
        with pytest.raises(InvalidFilter, match=message):
            compile_filter(text, ranks)


# --- generated SQL ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "targets", "secrets"),
    [
        ('userName eq "Secret.Name@x"', USER_FILTERS, ["secret.name@x", "Secret.Name@x"]),
        ('emails[type eq "secretType"].value eq "secret@mail"', USER_FILTERS, ["secrettype", "secret@mail"]),
        ('displayName co "\'; DROP TABLE users; --"', USER_FILTERS, ["DROP TABLE", "drop table"]),
        ('externalId sw "secret-ext"', USER_FILTERS, ["secret-ext"]),
        ('meta.created gt "2031-07-04T00:00:00Z"', USER_FILTERS, ["2031"]),
        ('displayName eq "Secret Group" and members eq "secret-member"', GROUP_FILTERS, ["secret"]),
    ],
)
def test_values_are_bound_parameters(text, targets, secrets):
    clause = compile_filter(text, targets)
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        sql = str(clause.compile(dialect=dialect))
        assert not any(secret in sql.lower() or secret in sql for secret in secrets), sql


def test_username_eq_is_an_index_lookup():
    sql = str(compile_filter('userName eq "X"', USER_FILTERS).compile())
    assert sql == "users.user_name_ci = :user_name_ci_1"


def test_entra_email_filter_is_one_subquery_over_one_email_row():
    sql = str(compile_filter('emails[type eq "work"].value eq "x"', USER_FILTERS).compile())
    assert sql.count("SELECT") == 1 and "user_emails.value_ci =" in sql and "user_emails.type_ci =" in sql


def test_group_display_name_uses_the_folded_column():
    sql = str(compile_filter('displayName eq "EDU All personal"', GROUP_FILTERS).compile())
    assert sql == "cohorts.name_ci = :name_ci_1"


# --- hostile input ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ['userName eq "a\x00"', r'userName eq "a\u0000"', r'emails[value eq "\u0000x"]', 'title co "\x00"']
)
def test_nul_in_a_string_literal_is_invalid_filter(text):
    # PostgreSQL text cannot hold NUL: comparing with one was a 500 there.
    with pytest.raises(InvalidFilter) as caught:
        parse_filter(text)
    assert "NUL" in caught.value.detail and "\x00" not in caught.value.detail


def test_nul_in_a_query_filter_is_400_before_the_database(scim):
    from tests.conftest import scim_error

    scim_error(scim.get('/Users?filter=userName eq "a%00"'), 400, "invalidFilter")
    scim_error(scim.get('/Groups?filter=displayName eq "%00"'), 400, "invalidFilter")


def test_an_integer_beyond_the_digit_limit_is_invalid_filter():
    # MAX_LENGTH keeps a literal below CPython's default 4300 digits; a stricter interpreter setting must not 500.
    previous = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(640)
    try:
        with pytest.raises(InvalidFilter, match="too long"):
            parse_filter("title eq " + "1" * 700)
    finally:
        sys.set_int_max_str_digits(previous)


@pytest.mark.parametrize(
    "text",
    [
        'meta.created gt "0001-01-01T00:00:00+14:00"',  # year 0 once in UTC
        'meta.lastModified le "9999-12-31T23:59:59-00:01"',  # year 10000 once in UTC
        'meta.created eq "0001-01-01T00:00:00.000001+00:01"',
    ],
)
def test_date_times_outside_datetime_range_in_utc_are_invalid_filter(scim, text):
    from tests.conftest import scim_error

    for path in ("/Users", "/Groups"):
        error = scim_error(scim.get(path, query_string={"filter": text}), 400, "invalidFilter")
        assert "date-time" in error["detail"]
    for path in ("/Users/.search", "/Groups/.search", "/.search"):
        scim_error(scim.post(path, {"filter": text}), 400, "invalidFilter")


def test_extreme_but_representable_date_times_still_filter(scim):
    for text in ('meta.created gt "0001-01-01T00:00:00Z"', 'meta.created lt "9999-12-31T23:59:59+00:00"'):
        response = scim.get("/Users", query_string={"filter": text})
        assert response.status_code == 200, response.get_data(as_text=True)
