"""An event's payload of plain values is dumped without marshmallow's per-field calls (issue #19 point 3): whatever
the plain dump gives is exactly marshmallow's dump, and every other payload (every error) is still marshmallow's."""
from __future__ import annotations

import copy
from datetime import date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.bus import envelope as envelope_module
from shared.events import registered_types, schema_for

SCHEMAS = [envelope_module._schema(schema_for(*key)) for key in registered_types()]
_FIELD_NAMES = sorted({name for schema in SCHEMAS for name in schema.dump_fields})
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 2**65) | st.floats(allow_nan=False) | st.text(max_size=4)
    | st.binary(max_size=3) | st.dates() | st.datetimes()
    | st.sampled_from(["8a1f6f6e-3a4e-4d8c-9f57-0a3f4c2b1d6e", "2026-11-01"]),
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner) | st.dictionaries(
        st.sampled_from(_FIELD_NAMES) | st.text(max_size=3), inner, max_size=4),
    max_leaves=8)

CLOSED = {
    "case_id": "8a1f6f6e-3a4e-4d8c-9f57-0a3f4c2b1d6e", "version": 2, "candidate_hash": "a" * 64,
    "counsellor_id": "kari-veileder", "mentor_id": None, "employer_hash": "b" * 64, "opened_on": date(2026, 5, 1),
    "closed_on": date(2026, 11, 1), "closure_reason": "measure_completed", "entry_point": "course_start",
    "industry": "retail", "initiator": "counsellor", "reasons": ["extra_follow_up"], "counsellor_knew_company": "no",
    "attachment_before": "none", "mentor_relation": "colleague", "mentor_measure_used": True,
    "measures": [{"measure": "mentor_subsidy", "from_date": date(2026, 5, 1), "to_date": None}],
    "contact": {"frequency_candidate": "monthly", "frequency_mentor": "monthly", "frequency_employer": "never",
                "intensity_candidate": "even", "intensity_mentor": None, "forms_candidate": ["phone"],
                "forms_mentor": [], "intensity": "even", "forms": ["phone"], "duration": "3_6_months",
                "contacts_logged": 3, "minutes_total": 60},
    "attachment_after": "permanent_without_wage_subsidy", "attached_same_company": "yes",
    "success_criteria": {"list_version": "2026-1", "assessments": {"natural_support": "achieved"}},
    "feedback_mentor": "satisfied", "feedback_counsellor": "very_satisfied", "supersedes_version": 1}


def _marshmallow(schema, payload):
    try:
        return schema.dump(payload)
    except Exception as error:  # noqa: BLE001  (what marshmallow raises is the point)
        return ("error", type(error).__name__)


TAKEN: set = set()


def _same_answer(schema, payload):
    before = copy.deepcopy(payload)
    plain = envelope_module._dump_plain(schema, payload)
    answer = _marshmallow(schema, payload)
    if plain is not envelope_module._NOT_PLAIN:
        assert plain == answer, payload
        assert [type(value) for value in plain.values()] == [type(value) for value in answer.values()]
    assert payload == before  # the payload is not changed
    TAKEN.add((type(schema).__name__, plain is not envelope_module._NOT_PLAIN))


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(range(len(SCHEMAS))), st.dictionaries(st.sampled_from(_FIELD_NAMES), _VALUES, max_size=6))
def test_any_payload_gets_marshmallows_dump(which, payload):
    _same_answer(SCHEMAS[which], payload)


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(sorted(CLOSED)), _VALUES, st.sampled_from(sorted(CLOSED["contact"])), st.booleans())
def test_a_closure_record_with_any_one_value_changed_gets_marshmallows_dump(name, value, contact_name, inside):
    payload = copy.deepcopy(CLOSED)
    if inside:
        payload["contact"][contact_name] = value
    else:
        payload[name] = value
    _same_answer(envelope_module._schema(schema_for("case.corrected", 1)), payload)


def test_a_closure_record_as_intake_builds_it_is_dumped_plainly():
    schema = envelope_module._schema(schema_for("case.corrected", 1))
    assert envelope_module._dump_plain(schema, CLOSED) == schema.dump(CLOSED)
    assert envelope_module._dump_payload(schema, CLOSED)["closed_on"] == "2026-11-01"
    with_time = dict(CLOSED, closed_on=datetime(2026, 11, 1, 12, 0))  # not a plain date: marshmallow's dump
    assert envelope_module._dump_plain(schema, with_time) is envelope_module._NOT_PLAIN
    assert envelope_module._dump_payload(schema, with_time) == schema.dump(with_time)
