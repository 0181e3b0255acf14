"""One envelope for every event, validated when published (make_envelope, platform.emit) and when consumed."""
import copy
import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError, fields, validate

from shared.bus import envelope as envelope_module
from shared.bus.consumer import Delivery, _load
from shared.bus.envelope import InvalidEvent, decode, encode, make_envelope, routing_key, validate_envelope
from shared.events import registered_types, schema_for


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


# --- the plain load of payloads (envelope._load_plain) gives marshmallow's answers ---------------------------------

PAYLOAD_SCHEMAS = {key: envelope_module._schema(schema_for(*key)) for key in registered_types()}
_ZONES = [UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5, minutes=-30))]


def _sent(field):
    """A value `field` takes: mostly as producers send it, now and then a spelling marshmallow also takes."""
    kind = type(field)
    one_of = [v.choices for v in field.validators if isinstance(v, validate.OneOf)]
    patterns = [v.regex for v in field.validators if isinstance(v, validate.Regexp)]
    ranges = [v for v in field.validators if isinstance(v, validate.Range)]
    lengths = [v for v in field.validators if isinstance(v, validate.Length)]
    if kind is fields.UUID:
        value = st.uuids().flatmap(lambda u: st.sampled_from([str(u), str(u), str(u).upper(), u.hex, f"{{{u}}}"]))
    elif one_of:
        value = st.sampled_from(list(one_of[0]))
    elif patterns:
        value = st.from_regex(patterns[0])
    elif kind is fields.String:
        value = st.text(max_size=6)
    elif kind is fields.Integer:
        low = ranges[0].min if ranges and ranges[0].min is not None else -5
        value = st.integers(low, ranges[0].max if ranges and ranges[0].max is not None else low + 2 ** 40)
    elif kind is fields.Boolean:
        value = st.booleans()
    elif kind is fields.Date:
        value = st.dates().map(date.isoformat) | st.sampled_from(["2026-1-5", "2026-11-01\n"])
    elif kind is fields.AwareDateTime:
        value = st.builds(lambda at, zone: at.replace(tzinfo=zone).isoformat(), st.datetimes(),
                          st.sampled_from(_ZONES)) | st.just("2026-11-26T10:00:00Z")
    elif kind is fields.List:
        low = lengths[0].min if lengths and lengths[0].min is not None else 0
        value = st.lists(_sent(field.inner), min_size=low, max_size=low + 3)
    elif kind is fields.Dict:
        value = st.dictionaries(st.text(max_size=4), _sent(field.value_field), max_size=3)
    elif kind is fields.Nested:
        value = _sent_payload(field.schema)
    else:
        raise AssertionError(f"no strategy for {kind.__name__}: add one")
    return st.none() | value if field.allow_none else value


_SENT_PAYLOADS: dict = {}


def _sent_payload(schema):
    """A payload of `schema` as sent (built once per schema: hypothesis checks each new strategy, which is slow)."""
    if schema not in _SENT_PAYLOADS:
        _SENT_PAYLOADS[schema] = st.fixed_dictionaries(
            {name: _sent(field) for name, field in schema.load_fields.items() if field.required},
            optional={name: _sent(field) for name, field in schema.load_fields.items() if not field.required})
    return _SENT_PAYLOADS[schema]


_ANY_WRONG = [None, "", "x", 1, 1.5, True, [], {}, [None], {"k": None}, "2026-11-01T10:00:00", "2026-13-01"]


def _near(value) -> list:
    """Values near `value`: another type or spelling of it, a size off by one, or something else entirely."""
    if isinstance(value, bool):
        near = [1, 0, "true", "1"]
    elif isinstance(value, int):
        near = [True, False, str(value), float(value), value + 0.5, value - 1, 2 ** 70]
    elif isinstance(value, str):
        near = [value.upper(), value + "\n", " " + value, value[:-1], value.replace("+01:00", ""),
                value.replace("-", ""), [value], value.encode()]
    elif isinstance(value, list):
        near = [value[:1] * 2, value[:-1], tuple(value), value + [None]]
    elif isinstance(value, dict):
        near = [dict.fromkeys(value), list(value)]
    else:
        near = []
    return near + _ANY_WRONG


def _leaves(value):
    """(container, key) of every value inside a payload, nested ones too."""
    for key in (list(value) if isinstance(value, dict) else range(len(value))):
        yield value, key
        if isinstance(value[key], dict | list):
            yield from _leaves(value[key])


@st.composite
def _near_sent(draw, schema):
    """A payload as sent with up to two changes anywhere in it: a near value, a field dropped or an unknown one."""
    payload = draw(_sent_payload(schema))
    for _ in range(draw(st.integers(0, 2))):
        leaves = list(_leaves(payload))
        if not leaves:
            break
        container, key = draw(st.sampled_from(leaves))
        change = draw(st.sampled_from(["near", "near", "near", "drop", "add"]))
        if change == "drop" and isinstance(container, dict):
            del container[key]
        elif change == "add" and isinstance(container, dict):
            container["name"] = draw(st.sampled_from(_ANY_WRONG))
        else:  # copied: a list or mapping changed later must not change the next example
            container[key] = copy.deepcopy(draw(st.sampled_from(_near(container[key]))))
    return payload


def _shape(value):
    """The value with the type of every part (a UUID is not its text; a time keeps its tzinfo as marshmallow made
    it)."""
    if isinstance(value, dict):
        return dict, [(key, _shape(item)) for key, item in value.items()]  # in marshmallow's order too
    if isinstance(value, list):
        return list, [_shape(item) for item in value]
    if isinstance(value, datetime):
        return datetime, value, repr(value.tzinfo)
    return type(value), value


def _same_answers(key, payload) -> tuple:
    """The plain load gives marshmallow's value or leaves the payload to it; (plain taken, marshmallow refused)."""
    schema = PAYLOAD_SCHEMAS[key]
    before = copy.deepcopy(payload)
    plain = envelope_module._load_plain(schema, payload)
    try:
        answer = schema.load(payload)
    except ValidationError:
        answer = "refused"
    if plain is not envelope_module._NOT_PLAIN:
        assert answer != "refused", payload
        assert _shape(plain) == _shape(answer), payload
    assert payload == before  # the delivered payload is not changed
    return plain is not envelope_module._NOT_PLAIN, answer == "refused"


PAYLOADS_MET: set = set()


@settings(max_examples=700, deadline=None)
@given(st.one_of([st.tuples(st.just(key), _near_sent(schema)) for key, schema in sorted(PAYLOAD_SCHEMAS.items())]))
def _the_plain_payload_load_gives_marshmallows_answer(case):
    PAYLOADS_MET.add(_same_answers(*case))


def test_the_plain_payload_load_gives_marshmallows_answer():
    """Payloads of every event as sent in their variety, with up to two changes (run once: the search is slow)."""
    _the_plain_payload_load_gives_marshmallows_answer()
    assert PAYLOADS_MET == {(True, False), (False, True), (False, False)}  # plain, refused, marshmallow's spelling


def _plain_value(field):
    """One value of each field as sent (every optional field given, None nowhere)."""
    kind = type(field)
    one_of = [v.choices for v in field.validators if isinstance(v, validate.OneOf)]
    if kind is fields.UUID:
        return "8a1f6f6e-3a4e-4d8c-9f57-0a3f4c2b1d6e"
    if one_of:
        return list(one_of[0])[-1]
    if any(isinstance(v, validate.Regexp) for v in field.validators):
        return "a" * 64  # the keyed hashes'
    ranges = [v.min for v in field.validators if isinstance(v, validate.Range | validate.Length) and v.min]
    return {fields.String: lambda: "x", fields.Integer: lambda: ranges[0] if ranges else 7,
            fields.Boolean: lambda: True, fields.Date: lambda: "2026-11-01",
            fields.AwareDateTime: lambda: "2026-11-26T10:00:00.500000+01:00",
            fields.List: lambda: [_plain_value(field.inner)] * (ranges[0] if ranges else 2),
            fields.Dict: lambda: {"natural_support": _plain_value(field.value_field)},
            fields.Nested: lambda: _plain_payload(field.schema)}[kind]()


def _plain_payload(schema):
    return {name: _plain_value(field) for name, field in schema.load_fields.items()}


@pytest.mark.parametrize("key", sorted(PAYLOAD_SCHEMAS), ids=lambda key: f"{key[0]}.v{key[1]}")
def test_every_value_of_every_event_changed_in_turn(key):
    """Every value of a whole payload, nested ones too, changed to each value near it, dropped, or joined by an
    unknown field: the plain load takes the payload as sent, and each change gets marshmallow's answer."""
    sent = _plain_payload(PAYLOAD_SCHEMAS[key])
    assert _same_answers(key, sent) == (True, False)
    met = set()
    for place, (container, name) in enumerate(list(_leaves(sent))):
        for change in _near(container[name]) + (["drop", "add"] if isinstance(container, dict) else []):
            payload = copy.deepcopy(sent)
            target, name = list(_leaves(payload))[place]
            if change == "drop":
                del target[name]
            elif change == "add":
                target["name"] = "x"
            else:
                target[name] = copy.deepcopy(change)
            met.add(_same_answers(key, payload))
    assert (False, True) in met


def test_events_as_the_services_send_them_are_loaded_plainly():
    from services.registry import demo
    data = demo.load_cases()
    closure = demo.closure_payload(dict(data["cases"][1], case=1000, candidate=1), data["defaults"])
    closure["case_id"] = str(uuid.uuid4())
    grant = {"case_id": closure["case_id"], "purpose": "research_registration", "template_version": 1,
             "effective_at": datetime(2026, 11, 1, tzinfo=UTC), "expires_on": None}
    for event_type, payload in (("case.closed", closure), ("consent.granted", grant)):
        sent = json.loads(encode(make_envelope(event_type, "kristiansand", payload, producer="intake")))["payload"]
        schema = PAYLOAD_SCHEMAS[(event_type, 1)]
        assert envelope_module._load_plain(schema, sent) is not envelope_module._NOT_PLAIN
        assert _shape(validate_envelope(probe_envelope(type=event_type, payload=sent))["payload"]) \
            == _shape(schema.load(sent))


def test_a_refused_payload_is_named_by_marshmallow():
    grant = {"case_id": None, "purpose": "research_registration", "template_version": 1,
             "effective_at": "2026-11-01T10:00:00+00:00", "expires_on": None}  # no case and no subject
    with pytest.raises(InvalidEvent) as error:
        validate_envelope(probe_envelope(type="consent.granted", payload=grant))
    assert error.value.errors == {"case_id": ["either case_id or subject_ref is required"]}
