"""One envelope for every event, validated when published (make_envelope, platform.emit) and when consumed."""
import json
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from shared.bus import envelope as envelope_module
from shared.bus.consumer import Delivery, _load
from shared.bus.envelope import InvalidEvent, decode, encode, make_envelope, routing_key, validate_envelope


def probe_envelope(**overrides):
    envelope = make_envelope("bus.probe", "kristiansand", {"sequence": 1}, producer="intake",
                             correlation_id="corr-1", occurred_at=datetime(2026, 11, 26, 10, tzinfo=UTC))
    envelope.update(overrides)
    return envelope


def test_a_valid_event_round_trips():
    envelope = probe_envelope()
    loaded = decode(encode(envelope))
    assert loaded["payload"] == {"sequence": 1, "fail": None}
    assert str(loaded["message_id"]) == envelope["message_id"]
    assert loaded["correlation_id"] == "corr-1" and loaded["office"] == "kristiansand"
    assert routing_key("kristiansand", "bus.probe") == "office.kristiansand.bus.probe"


@pytest.mark.parametrize("payload,field", [
    ({"sequence": "one"}, "sequence"),
    ({}, "sequence"),
    ({"sequence": 1, "name": "Kari Nordmann"}, "name"),  # unknown fields never travel (no personal data by accident)
])
def test_publishing_an_invalid_payload_is_refused(payload, field):
    with pytest.raises(InvalidEvent) as error:
        make_envelope("bus.probe", "kristiansand", payload, producer="intake")
    assert field in json.dumps(error.value.errors)


def test_without_validation_on_emit_the_schema_still_refuses_a_field_it_does_not_name():
    # BUS_VALIDATE_ON_EMIT=false skips loading the payload back (a bad value then reaches the consumers' check)...
    unchecked = make_envelope("bus.probe", "kristiansand", {}, producer="intake", validate=False)
    assert unchecked["payload"] == {}  # the required sequence is missing
    with pytest.raises(InvalidEvent):
        validate_envelope(unchecked)
    # ...but the dump by the schema still refuses what it does not name: nothing personal travels by accident.
    with pytest.raises(InvalidEvent) as error:
        make_envelope("bus.probe", "kristiansand", {"sequence": 1, "name": "Kari Nordmann"}, producer="intake",
                      validate=False)
    assert "name" in error.value.errors


def test_publishing_an_unknown_type_or_bad_office_is_refused():
    with pytest.raises(InvalidEvent) as error:
        make_envelope("bus.nothing", "kristiansand", {"sequence": 1}, producer="intake")
    assert "type" in error.value.errors
    with pytest.raises(InvalidEvent) as error:
        make_envelope("bus.probe", "Kristiansand kontor", {"sequence": 1}, producer="intake")
    assert "office" in error.value.errors


@pytest.mark.parametrize("body,field", [
    (b"not json", "body"),
    (b"[1, 2]", "body"),
    (None, "message_id"),  # built below: a missing envelope field
    ("payload", "sequence"),
    ("version", "type"),
    ("extra", "smuggled"),
])
def test_consuming_a_bad_body_is_refused_with_the_field_named(body, field):
    if body is None:
        raw = probe_envelope()
        del raw["message_id"]
        body = encode(raw)
    elif body == "payload":
        body = encode(probe_envelope(payload={"sequence": "x"}))
    elif body == "version":
        body = encode(probe_envelope(schema_version=99))
    elif body == "extra":
        body = encode(probe_envelope(smuggled="x"))
    with pytest.raises(InvalidEvent) as error:
        decode(body)
    assert field in json.dumps(error.value.errors)


def test_a_consumer_marks_an_invalid_body_for_the_dead_letter_queue():
    delivery = Delivery(tag=1, message_id="m-1")
    _load(b'{"type": "bus.probe"}', delivery)
    assert delivery.outcome == "rejected" and delivery.envelope is None
    assert delivery.reason.startswith("invalid: ") and "message_id" in delivery.reason

    good = Delivery(tag=2, message_id=None)
    envelope = probe_envelope()
    _load(encode(envelope), good)
    assert good.outcome == "pending" and good.message_id == envelope["message_id"]
    assert isinstance(good.envelope["message_id"], str)


def test_validate_envelope_rejects_a_naive_time():
    with pytest.raises(InvalidEvent) as error:
        validate_envelope(probe_envelope(occurred_at="2026-11-26T10:00:00", message_id=str(uuid.uuid4())))
    assert "occurred_at" in error.value.errors


# --- the fast path for envelopes as sent (envelope._load_envelope_as_sent) gives the schema's answers -------------

_SENT = probe_envelope()
_TRICKY = {
    "message_id": [_SENT["message_id"], _SENT["message_id"].upper(), "{" + _SENT["message_id"] + "}",
                   uuid.UUID(_SENT["message_id"]).hex, "x" * 36, _SENT["message_id"][:35] + "g", 5, None],
    "type": ["bus.probe", "case.contact_logged", "bus.probe\n", "Bus.probe", "bus", "", 7, None],
    "schema_version": [1, 2, 0, -1, "1", 1.0, 1.5, True, None, 2 ** 70],
    "office": ["kristiansand", "midtre-gauldal", "k", "x" * 41, "x" * 42, "Kristiansand", "kristiansand\n", "", 3],
    "occurred_at": ["2026-11-26T10:00:00+00:00", "2026-11-26T10:00:00.123456+01:00", "2026-11-26T10:00:00Z",
                    "2026-11-26T10:00:00", "2026-11-26 10:00:00+00:00", "2026-13-01T10:00:00+00:00",
                    "2026-02-30T10:00:00+00:00", "2026-11-26T24:00:00+00:00", "2026-11-26T10:00:00.12+00:00",
                    "2026-11-26T10:00:00+0000", "20261126T100000+00:00", "", 0, None],
    "correlation_id": ["corr-1", "", "x" * 100, "x" * 101, 12, None],
    "producer": ["intake", "", 1, None],
    "payload": [{"sequence": 1}, {}, [], "x", None],
}


def _schema_answer(raw):
    try:
        return envelope_module._schema(envelope_module.EnvelopeSchema).load(raw)
    except ValidationError:
        return "invalid"


_SENT_RAW = json.loads(encode(_SENT))


@settings(max_examples=800, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(_TRICKY)), st.integers(0, 99), max_size=3),
       st.sets(st.sampled_from(sorted(_TRICKY)), max_size=1), st.booleans())
def test_the_fast_path_accepts_nothing_the_schema_refuses_and_loads_the_same(changes, dropped, extra):
    """An envelope as sent with up to three fields changed to tricky values, maybe one dropped or one added."""
    raw = dict(_SENT_RAW)
    for key, pick in changes.items():
        raw[key] = _TRICKY[key][pick % len(_TRICKY[key])]
    for key in dropped:
        raw.pop(key)
    if extra:
        raw["name"] = "Kari Nordmann"
    fast, schema = envelope_module._load_envelope_as_sent(raw), _schema_answer(raw)
    if fast is not None:
        assert schema != "invalid", raw
        assert fast == schema
        assert fast["occurred_at"].utcoffset() == schema["occurred_at"].utcoffset()
    ANSWERS.add((fast is not None, schema != "invalid"))


ANSWERS: set = set()


def test_the_tricky_values_reach_every_kind_of_answer():
    """The search above met envelopes both paths take, ones only the schema takes, and ones both refuse."""
    test_the_fast_path_accepts_nothing_the_schema_refuses_and_loads_the_same()
    assert ANSWERS == {(True, True), (False, True), (False, False)}


def test_the_fast_path_takes_every_envelope_as_make_envelope_writes_it():
    for occurred_at in (datetime(2026, 11, 26, 10, tzinfo=UTC), datetime(2026, 11, 26, 10, 0, 0, 5)
                        .astimezone(UTC), None):
        sent = json.loads(encode(make_envelope("bus.probe", "midtre-gauldal", {"sequence": 3}, producer="consent",
                                               occurred_at=occurred_at)))
        assert envelope_module._load_envelope_as_sent(sent) == _schema_answer(sent)
