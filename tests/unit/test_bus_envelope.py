"""One envelope for every event, validated when published (make_envelope, platform.emit) and when consumed."""
import json
import uuid
from datetime import datetime, timezone

import pytest

from shared.bus.consumer import Delivery, _load
from shared.bus.envelope import InvalidEvent, decode, encode, make_envelope, routing_key, validate_envelope


def probe_envelope(**overrides):
    envelope = make_envelope("bus.probe", "kristiansand", {"sequence": 1}, producer="intake",
                             correlation_id="corr-1", occurred_at=datetime(2026, 11, 26, 10, tzinfo=timezone.utc))
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
