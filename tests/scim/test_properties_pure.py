"""Properties of the pure functions over thousands of generated inputs: they answer or raise a SCIM error, nothing else.

Together with tests/scim/test_properties_http.py these run over 10,000 generated cases per run, the same ones each
time (derandomized, no example database), so a failure in CI is a failure on every machine.
"""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from scim.definitions import USER_RESOURCE
from scim.errors import InvalidFilter, InvalidValue, ScimError
from scim.filter_maps import GROUP_FILTERS, USER_FILTERS
from scim.filter_parser import parse_filter
from scim.filters import compile_filter
from scim.patch import apply_patch
from scim.schemas import GroupSchema, UserSchema, load
from scim.wire import _integer
from services.errors import InvalidInput
from services.identifiers import check_identifier, fold
from tests.scim import strategies as gen

_DIALECTS = (sqlite.dialect(), postgresql.dialect())
_user_schema, _group_schema = UserSchema(), GroupSchema()
_RESOURCE = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "id": "0b1c",
    "userName": "ada",
    "name": {"givenName": "Ada"},
    "emails": [{"value": "ada@example.com", "type": "work", "primary": True}],
    "active": True,
}


@gen.examples(2500)
@given(gen.filters)
def test_a_filter_compiles_to_sql_for_both_databases_or_is_invalid_filter(text):
    for fmap in (USER_FILTERS, GROUP_FILTERS):
        try:
            clause = compile_filter(text, fmap)
        except InvalidFilter as error:
            assert error.status == 400 and error.detail
            continue
        for dialect in _DIALECTS:
            str(clause.compile(dialect=dialect))


@gen.examples(1000)
@given(gen.asts)
def test_parsing_a_spelled_out_filter_gives_back_its_tree(tree):
    assert parse_filter(gen.spell(tree)) == tree


@gen.examples(1000)
@given(st.text(max_size=40), st.booleans())
def test_a_filters_string_reads_as_json_reads_it(value, ascii_only):
    """Any text written as a JSON string comes back whole; one left open, or ending in an escape, is refused."""
    written = json.dumps(value, ensure_ascii=ascii_only)
    storable = "\x00" not in value and not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    try:
        assert parse_filter(f"userName eq {written}").value == value and storable
    except InvalidFilter:
        assert not storable
    for unterminated in (written[:-1], written[:-1] + "\\"):
        with pytest.raises(InvalidFilter, match="not terminated"):
            parse_filter(f"userName eq {unterminated}")


@gen.examples(1500)
@given(gen.text_with_surrogates | gen.text)
def test_the_fold_is_idempotent_and_blind_to_normal_form_and_case(value):
    key = fold(value)
    assert fold(key) == key
    for form in ("NFC", "NFD", "NFKC", "NFKD"):
        assert fold(unicodedata.normalize(form, value)) == key
    assert fold(value.casefold()) == key


@gen.examples(1000)
@given(gen.user_names | gen.text_with_surrogates)
def test_identifier_checks_refuse_only_with_a_domain_error_that_names_the_attribute(value):
    try:
        check_identifier("userName", value, key=True)
    except InvalidInput as error:
        assert error.message.startswith("userName ") and (not value.strip() or value not in error.message)
        return
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp", "Cn") for c in value)


@gen.examples(2000)
@given(st.lists(gen.operations, min_size=1, max_size=4))
def test_patch_then_validation_answer_or_raise_a_scim_error(operations):
    try:
        patched = apply_patch(_RESOURCE, operations, USER_RESOURCE)
        load(_user_schema, patched)
    except ScimError as error:
        assert 400 <= error.status < 500 and error.detail


@gen.examples(1000)
@given(gen.user_bodies | gen.group_bodies)
def test_loading_a_body_answers_or_raises_invalid_value(body):
    for schema in (_user_schema, _group_schema):
        try:
            data = load(schema, body)
        except InvalidValue as error:
            assert error.detail
            continue
        assert isinstance(data, dict)


@gen.examples(600)
@given(gen.scalars | st.text(max_size=30))
def test_paging_numbers_are_integers_or_invalid_value(raw):
    try:
        number = _integer({"count": raw}, "count", 100)
    except InvalidValue as error:
        assert "count" in error.detail
        return
    assert isinstance(number, int)
    if isinstance(raw, str) and raw.strip():
        assert raw.strip().lstrip("+-").isascii() and "_" not in raw
