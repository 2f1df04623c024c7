"""The app's JSON out (json_provider.py): orjson's spelling where it can, Flask's encoder for the rest."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask import jsonify
from flask.json.provider import DefaultJSONProvider


@pytest.fixture
def flasks_own(app) -> DefaultJSONProvider:
    """Flask's own provider with the same key order, to compare with."""
    provider = DefaultJSONProvider(app)
    provider.sort_keys = False
    return provider


@dataclass
class _Point:
    x: int
    y: str


DOCUMENTS = [
    {"schemas": ["urn:x"], "id": "2", "a": 1, "b": [1.5, None, True, False], "nested": {"z": 1, "y": "é ü 日本"}},
    {"when": datetime(2026, 11, 30, 9, 30, tzinfo=UTC), "day": date(2026, 11, 30)},
    {"id": uuid.UUID("12345678-1234-5678-1234-567812345678"), "point": _Point(1, "a"), "price": Decimal("1.10")},
    {"big": 10**30, "small": -(2**63)},  # past 64 bits: orjson refuses, Flask's encoder writes it
    {"text": "a\ud800b"},  # a lone surrogate: orjson refuses, Flask's encoder escapes it
    {1: "one", None: "none"},  # keys that are not strings
    [],
    "plain",
]


@pytest.mark.parametrize("document", DOCUMENTS, ids=range(len(DOCUMENTS)))
def test_every_document_reads_back_as_flasks_own_output_does(app, flasks_own, document):
    ours = app.json.dumps(document)
    assert json.loads(ours) == json.loads(flasks_own.dumps(document))


def test_keys_keep_the_order_the_code_wrote_them_in_compact_utf8(app):
    assert app.json.dumps({"schemas": [], "id": "x", "a": "é"}) == '{"schemas":[],"id":"x","a":"é"}'


def test_dates_read_as_flask_writes_them(app, flasks_own):
    moment = {"at": datetime(2026, 11, 30, 9, 30, 5)}
    assert json.loads(app.json.dumps(moment)) == {"at": "Mon, 30 Nov 2026 09:30:05 GMT"}
    assert json.loads(app.json.dumps(moment)) == json.loads(flasks_own.dumps(moment))


def test_what_no_encoder_can_write_still_raises(app):
    with pytest.raises(TypeError):
        app.json.dumps({"x": object()})


def test_a_float_that_is_not_a_number_is_written_as_json_null(app):
    assert app.json.dumps({"x": float("nan"), "y": float("inf")}) == '{"x":null,"y":null}'


def test_pretty_printed_output_is_flasks_own(app, flasks_own):
    assert app.json.dumps({"a": [1]}, indent=2) == flasks_own.dumps({"a": [1]}, indent=2)


def test_jsonify_writes_compact_json(app):
    with app.test_request_context():
        response = jsonify({"b": 1, "a": "é"})
    assert response.get_data(as_text=True) == '{"b":1,"a":"é"}\n'
    assert response.mimetype == "application/json"


def test_a_scim_answer_is_orjsons_compact_spelling(scim):
    response = scim.get("/ServiceProviderConfig")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert text.startswith('{"schemas":[')
    assert text == json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)
