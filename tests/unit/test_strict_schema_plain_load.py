"""StrictSchema loads a body of plain values without marshmallow's per-field machinery (issue #19 point 3): whatever
it takes that way gives exactly marshmallow's answer, and everything else (every refusal) is still marshmallow's."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields, validates_schema

from services.intake import schemas as intake_schemas
from shared.web import StrictSchema


class Every(StrictSchema):
    """Each kind of plain field, with the options that change what a load gives."""

    text = fields.String(load_default=None, allow_none=True)
    needed = fields.String(required=True)
    renamed = fields.String(data_key="given-as", attribute="kept_as", load_default="x")
    number = fields.Integer(load_default=None, allow_none=True)
    raw = fields.Raw(load_default=None, allow_none=True)
    texts = fields.List(fields.String(), load_default=list)
    assessed = fields.Dict(keys=fields.String(), values=fields.String(allow_none=True), load_default=None,
                           allow_none=True)
    strict_texts = fields.Dict(keys=fields.String(), values=fields.String())


class WithRule(StrictSchema):
    text = fields.String()

    @validates_schema
    def _never_x(self, data, **_kwargs):
        if data.get("text") == "x":
            raise ValidationError("no x")


SCHEMAS = [Every(), WithRule(), intake_schemas.ClosureSubmitIn(), intake_schemas.ClosureIn(),
           intake_schemas.OpenCaseIn(), intake_schemas.ContactIn(), intake_schemas.MeasureIn(),
           intake_schemas.ListQuery()]
_KEYS = sorted({field.data_key or name for schema in SCHEMAS for name, field in schema.load_fields.items()}
               | {"unknown", "kept_as"})
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | st.text(max_size=5)
    | st.sampled_from(["", "2026-11-01", "achieved", "x"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6)


def _marshmallow(schema, raw):
    try:
        return Schema.load(schema, raw)
    except ValidationError as error:
        return ("refused", error.messages)


def _platform(schema, raw):
    try:
        return schema.load(raw)
    except ValidationError as error:
        return ("refused", error.messages)


TAKEN: set = set()


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(range(len(SCHEMAS))), st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=8),
       st.booleans())
def test_a_plain_load_gives_marshmallows_answer(which, raw, needed):
    schema = SCHEMAS[which]
    if needed:
        raw.setdefault("needed", "a")  # Every's required field, often given (elsewhere an unknown key)
    plain = schema._load_plain(raw)
    answer = _marshmallow(schema, raw)
    if plain is not None:
        assert plain == answer, raw
    assert _platform(schema, raw) == answer
    TAKEN.add((type(schema).__name__, plain is not None, isinstance(answer, tuple)))


def test_the_search_met_plain_loads_and_refusals():
    test_a_plain_load_gives_marshmallows_answer()
    assert ("Every", True, False) in TAKEN and ("Every", False, True) in TAKEN
    assert ("ClosureSubmitIn", True, False) in TAKEN
    assert not any(plain for name, plain, _ in TAKEN if name in ("WithRule", "ListQuery"))  # a rule or validator


def test_a_closure_body_as_the_form_sends_it_is_loaded_plainly():
    from bench.bench_intake import CLOSURE_ANSWERS
    body = {**CLOSURE_ANSWERS, "closed_on": "2026-11-01", "expected_version": 7}
    schema = intake_schemas.ClosureSubmitIn()
    assert schema._load_plain(body) is not None
    assert schema.load(body) == Schema.load(schema, body)


@pytest.mark.parametrize("body, field", [
    ({"needed": "a", "number": 2.5}, "number"),  # StrictSchema's whole-number check still applies
    ({"needed": "a", "number": True}, "number"),
    ({"needed": "a", "texts": ["a", None]}, "texts"),
    ({"needed": "a", "strict_texts": {"k": None}}, "strict_texts"),
    ({"needed": "a", "kept_as": "y"}, "kept_as"),  # the attribute is not a key of the body
    ({}, "needed"),
])
def test_what_marshmallow_refuses_is_refused_naming_the_field(body, field):
    with pytest.raises(ValidationError) as refused:
        Every().load(body)
    assert field in refused.value.messages
