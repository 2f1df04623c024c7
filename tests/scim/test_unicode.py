"""userName and displayName under Unicode: one fold for uniqueness and filters, and no invisible characters (R5)."""

from __future__ import annotations

import unicodedata

import pytest
from sqlalchemy import func, select

from models import Cohort, User, db
from services.identifiers import fold, mixes_scripts
from tests.conftest import scim_error
from tests.helpers import GROUP, USER


def user(user_name: str, **extra) -> dict:
    return {"schemas": [USER], "userName": user_name, **extra}


def group(name: str, **extra) -> dict:
    return {"schemas": [GROUP], "displayName": name, **extra}


def found(scim, path: str, text: str) -> list[str]:
    response = scim.get(path, query_string={"filter": text})
    assert response.status_code == 200, response.get_data(as_text=True)
    return [r["id"] for r in response.get_json()["Resources"]]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("alice", "Ａlice"),  # fullwidth A
        ("alice", "ALICE"),
        ("\u00e9t\u00e9", "e\u0301te\u0301"),  # NFC and NFD
        ("Straße", "STRASSE"),
        ("ﬁnance", "finance"),  # ligature
        ("\u212a", "k"),  # Kelvin sign
    ],
)
def test_user_names_equal_under_the_fold_are_one_account(scim, first, second):
    assert scim.post("/Users", user(first)).status_code == 201
    error = scim_error(scim.post("/Users", user(second)), 409, "uniqueness")
    assert second not in error["detail"] and first not in error["detail"]
    # Filters fold the same way, so the IdP's lookup before a create finds the account it clashes with.
    assert len(found(scim, "/Users", f'userName eq "{second}"')) == 1


INVISIBLE = [
    "A\u200blice",  # zero-width space
    "Al\u200dice",  # zero-width joiner
    "\ufeffalice",  # byte order mark
    "alice\u2060",  # word joiner
    "\u202eecila",  # right-to-left override
    "alice\u2066x\u2069",  # isolates
    "alice\u200e",  # left-to-right mark
    "alice\u061c",  # Arabic letter mark
    "alice\u0085",  # C1 next line
    "alice\u009b",  # C1 CSI
    "admin\ufe0f",  # variation selector
    "\u3164alice",  # Hangul filler
    "alice\u2028",  # line separator
]
# A display name keeps these two (see the test after next); userName and externalId never do.
DISPLAY_KEEPS = {"Al\u200dice", "admin\ufe0f"}


@pytest.mark.parametrize(
    ("attribute", "name"),
    [
        (a, n)
        for a in ("userName", "displayName", "externalId")
        for n in INVISIBLE
        if not (a == "displayName" and n in DISPLAY_KEEPS)
    ],
)
def test_invisible_and_control_characters_in_user_identifiers_are_400(scim, name, attribute):
    body = user("plain") if attribute != "userName" else user(name)
    if attribute != "userName":
        body[attribute] = name
    error = scim_error(scim.post("/Users", body), 400, "invalidValue")
    assert attribute in error["detail"] and name not in error["detail"]
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


@pytest.mark.parametrize(
    "name",
    [
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian: ZWNJ inside a word
        "\u0915\u094d\u200d\u0937",  # Devanagari: ZWJ
        "Ana \U0001f469\u200d\U0001f4bb",  # an emoji ZWJ sequence
        "Bob \u2764\ufe0f",  # emoji presentation selector
    ],
)
def test_a_display_name_keeps_the_joiners_and_selectors_writing_and_emoji_need(scim, name):
    created = scim.post("/Users", {**user("plain"), "displayName": name})
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.get_json(force=True)["displayName"] == name
    # As a unique key they would let two names look alike, so a userName still refuses them.
    scim_error(scim.post("/Users", user("x" + name.split(" ")[-1])), 400, "invalidValue")


@pytest.mark.parametrize("name", ["Aliсe", "раураl", "Ρaypal", "иван.petrоv@example.com"])
def test_a_word_mixing_latin_cyrillic_or_greek_is_refused_as_user_name(scim, name):
    error = scim_error(scim.post("/Users", user(name)), 400, "invalidValue")
    assert "userName" in error["detail"] and "mixes" in error["detail"]


@pytest.mark.parametrize("name", ["иван@example.com", "Ἀλέξανδρος", "Łukasz.Żółć", "Alıce", "José Müller"])
def test_single_script_words_are_accepted(scim, name):
    assert scim.post("/Users", user(name)).status_code == 201


def test_group_names_fold_and_refuse_invisible_and_mixed_script_names(scim, super_admin):
    assert scim.post("/Groups", group("Straße Team")).status_code == 201
    scim_error(scim.post("/Groups", group("STRASSE TEAM")), 409, "uniqueness")
    for name in ("Team\u202e", "Te\u200bam", "Теam"):  # the last starts with a Cyrillic Т
        error = scim_error(scim.post("/Groups", group(name)), 400, "invalidValue")
        assert "displayName" in error["detail"] and name not in error["detail"]
    error = scim_error(scim.post("/Groups", group("Team", externalId="g\u200b1")), 400, "invalidValue")
    assert "externalId" in error["detail"]
    assert db.session.scalar(select(func.count()).select_from(Cohort)) == 1


def test_patch_cannot_bring_in_what_post_refuses(scim):
    created = scim.post("/Users", user("bob")).get_json()
    scim.post("/Users", user("Straße"))
    for value in ({"userName": "STRASSE"}, {"userName": "b\u200bob"}, {"displayName": "x\u202e"}):
        response = scim.patch(
            f"/Users/{created['id']}",
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "value": value}],
            },
        )
        assert response.status_code in (400, 409), response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(User.user_name).where(User.scim_id == created["id"])) == "bob"


def test_a_folded_key_too_long_for_its_column_is_400(scim):
    # U+FDFA is one character that NFKC spells out in 18: the key of 20 of them would not fit in 255.
    error = scim_error(scim.post("/Users", user("a", displayName="\ufdfa" * 20)), 400, "invalidValue")
    assert "displayName" in error["detail"] and "case-folded" in error["detail"]


# --- filters give the same answer on SQLite and PostgreSQL --------------------------------------------------------


def test_case_insensitive_filters_fold_non_ascii_letters_on_every_database(scim):
    created = scim.post(
        "/Users",
        user(
            "ÉLODIE@example.com",
            displayName="Élodie Ünal",
            name={"givenName": "Élodie", "familyName": "Ünal"},
            emails=[{"value": "ÉLODIE@example.com", "type": "Wörk"}],
        ),
    ).get_json()
    scim.post("/Users", user("other", displayName="Other"))
    for text in [
        'displayName eq "Élodie Ünal"',
        'displayName eq "élodie ünal"',
        'displayName eq "ÉLODIE ÜNAL"',
        'displayName co "DIE Ü"',
        'displayName sw "élo"',
        'displayName ew "ÜNAL"',
        'name.givenName eq "élodie"',
        'name.familyName eq "ÜNAL"',
        'userName eq "élodie@EXAMPLE.com"',
        'emails.value eq "élodie@example.com"',
        'emails[type eq "WÖRK"].value sw "élodie"',
        f'displayName eq "{unicodedata.normalize("NFD", "Élodie Ünal")}"',
    ]:
        assert found(scim, "/Users", text) == [created["id"]], text


def test_group_display_name_filter_folds_non_ascii(scim, super_admin):
    created = scim.post("/Groups", group("Équipe Ünal")).get_json()
    assert found(scim, "/Groups", 'displayName eq "ÉQUIPE ÜNAL"') == [created["id"]]
    assert found(scim, "/Groups", 'displayName sw "équipe"') == [created["id"]]


def test_string_ordering_is_by_code_point_on_every_database(scim):
    # PostgreSQL's language-aware collations put "é" before "z"; SQLite and code point order put it after.
    accented = scim.post("/Users", user("accent", displayName="éa")).get_json()
    plain = scim.post("/Users", user("plain", displayName="za")).get_json()
    assert found(scim, "/Users", 'displayName gt "z"') == [accented["id"], plain["id"]]
    assert found(scim, "/Users", 'displayName lt "é"') == [plain["id"]]


# --- the fold itself ----------------------------------------------------------------------------------------------


def test_the_fold_merges_compatibility_forms_and_case_but_not_distinct_letters():
    assert fold("Ａlice") == fold("ALICE") == "alice"
    assert fold("Straße") == fold("STRASSE") == "strasse"
    assert fold("\u00e9") == fold("e\u0301")
    assert fold("ΣΑΣ") == fold("σας")
    assert fold("Alıce") != fold("Alice")  # Turkish dotless i is its own letter
    assert fold("Aliсe") != fold("Alice")  # Cyrillic с is refused as mixed script, never folded
    assert mixes_scripts("Aliсe") and not mixes_scripts("иван@example.com")


def test_string_ordering_is_compiled_as_code_point_order_on_postgresql():
    # The behaviour test above passes on a PostgreSQL created with the C locale anyway; production ones often are not.
    from sqlalchemy.dialects import postgresql, sqlite

    from scim.filter_maps import USER_FILTERS
    from scim.filters import compile_filter

    clause = compile_filter('displayName gt "z"', USER_FILTERS)
    assert '(users.display_name_ci) COLLATE "C" >' in str(clause.compile(dialect=postgresql.dialect()))
    assert "COLLATE" not in str(clause.compile(dialect=sqlite.dialect()))
    # A profile attribute is `profile_ci ->> 'key'`: COLLATE must apply to the whole of it, not to the key.
    profile = compile_filter('nickName gt "z"', USER_FILTERS)
    assert ') COLLATE "C" >' in str(profile.compile(dialect=postgresql.dialect()))
    equality = compile_filter('displayName eq "z"', USER_FILTERS)
    assert "COLLATE" not in str(equality.compile(dialect=postgresql.dialect()))
