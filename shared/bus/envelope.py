"""One JSON envelope for every event, validated when published and when consumed.

The envelope's payload is validated by the marshmallow schema registered for (type, schema_version) in
`shared.events`. The routing key carries the office: `office.<office>.<type>`, which is what the broker's
topic permissions check.
"""
from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime

from marshmallow import RAISE, Schema, ValidationError, fields, missing, validate
from marshmallow.decorators import VALIDATES_SCHEMA
from marshmallow.utils import from_iso_date, from_iso_datetime

from shared.events import schema_for

ROUTING_PREFIX = "office"
TYPE_RE = r"^[a-z]+(\.[a-z_]+)+$"
OFFICE_RE = r"^[a-z0-9][a-z0-9-]{1,40}$"


class EnvelopeSchema(Schema):
    class Meta:
        unknown = RAISE

    message_id = fields.UUID(required=True)
    type = fields.String(required=True, validate=validate.Regexp(TYPE_RE))
    schema_version = fields.Integer(required=True, validate=validate.Range(min=1))
    office = fields.String(required=True, validate=validate.Regexp(OFFICE_RE))
    occurred_at = fields.AwareDateTime(required=True)
    correlation_id = fields.String(required=True, validate=validate.Length(min=1, max=100))
    producer = fields.String(required=True)
    payload = fields.Dict(required=True)


class InvalidEvent(ValueError):
    """An envelope or payload that fails its schema: a poison message, never retried."""

    def __init__(self, errors):
        super().__init__(f"invalid event: {errors}")
        self.errors = errors


_SCHEMA_INSTANCES: dict = {}


def _schema(schema_cls):
    """One instance per schema class: load/dump keep no state, and building one (nested fields) costs milliseconds."""
    instance = _SCHEMA_INSTANCES.get(schema_cls)
    if instance is None:
        instance = _SCHEMA_INSTANCES[schema_cls] = schema_cls()
    return instance


def routing_key(office: str, event_type: str) -> str:
    return f"{ROUTING_PREFIX}.{office}.{event_type}"


def make_envelope(event_type, office, payload, producer, correlation_id=None, schema_version=1, occurred_at=None,
                  validate=True):
    """Build and validate an envelope; returns the JSON-ready dict (dates in the payload become ISO strings).

    The payload is always dumped by its schema, which refuses a field the schema does not name (so nothing personal
    slips onto the bus). `validate=False` skips loading the result back through the schemas (required fields,
    codes, formats: most of an emit's CPU) for a producer whose payloads are built from data it has validated
    already; consumers validate every delivery regardless (BUS_VALIDATE_ON_EMIT, README).
    """
    schema = schema_for(event_type, schema_version)
    if schema is None:
        raise InvalidEvent({"type": [f"no schema for {event_type} v{schema_version}"]})
    envelope = {
        "message_id": str(uuid.uuid4()),
        "type": event_type,
        "schema_version": schema_version,
        "office": office,
        "occurred_at": (occurred_at or datetime.now(UTC)).isoformat(),
        "correlation_id": correlation_id or str(uuid.uuid4()),
        "producer": producer,
        "payload": _dump_payload(_schema(schema), payload),
    }
    if validate:
        validate_envelope(envelope)
    return envelope


def _dump_payload(schema, payload: dict) -> dict:
    """dump() would silently drop unknown keys and raise bare ValueErrors: name the field instead."""
    if not isinstance(payload, dict):
        raise InvalidEvent({"payload": ["must be a mapping"]})
    unknown = sorted(set(payload) - set(schema.fields))
    if unknown:
        raise InvalidEvent({key: ["Unknown field."] for key in unknown})
    dumped = _dump_plain(schema, payload)
    if dumped is not _NOT_PLAIN:
        return dumped
    try:
        return schema.dump(payload)
    except (ValueError, TypeError, AttributeError):
        errors = {}
        for name, field in schema.fields.items():
            try:
                field.serialize(name, payload)
            except (ValueError, TypeError, AttributeError) as error:
                errors[name] = [f"Not a valid value ({type(error).__name__})."]  # never echo the value
        raise InvalidEvent(errors or {"payload": ["cannot be serialised"]}) from None


# ---------------------------------------------------------------- a payload of plain values, dumped without marshmallow
_NOT_PLAIN = object()
_PLANS: dict = {}


def _dump_plain(schema, payload):
    """What `schema.dump(payload)` gives, or _NOT_PLAIN (marshmallow then dumps it, and names any error).

    A payload as the services build it (texts, integers, booleans, dates, lists and mappings of them, nested records)
    is copied field by field without marshmallow's per-field calls, which were a tenth of a closure submit's CPU.
    Taken only for a schema without hooks whose fields are all of those kinds, and only where each value is of
    exactly the type the field would give back unchanged (a date becomes its ISO text); a test holds the two to the
    same answers."""
    plan = _PLANS.get(schema, False)
    if plan is False:
        plan = _PLANS[schema] = _schema_plan(schema)
    if plan is None or type(payload) is not dict:
        return _NOT_PLAIN
    dumped = {}
    for name, dump in plan:
        if name in payload:
            value = payload[name]
            if value is not None and (value := dump(value)) is _NOT_PLAIN:
                return _NOT_PLAIN
            dumped[name] = value
    return dumped


def _schema_plan(schema):
    if any(schema._hooks.values()) or schema.many:
        return None
    plan = []
    for name, field in schema.dump_fields.items():
        dump = _field_dump(field)
        if dump is None or field.data_key not in (None, name) or field.attribute not in (None, name) \
                or field.dump_default is not missing or "." in name:
            return None
        plan.append((name, dump))
    return plan


def _same_text(value):
    return value if type(value) is str else _NOT_PLAIN


def _same_integer(value):
    return value if type(value) is int else _NOT_PLAIN


def _same_boolean(value):
    return value if type(value) is bool else _NOT_PLAIN


def _iso_date(value):
    return value.isoformat() if type(value) is date else _NOT_PLAIN


def _field_dump(field):
    """A function giving a non-None value as `field` dumps it, or _NOT_PLAIN; None for a field that is not plain."""
    kind = type(field)
    if kind in (fields.String, fields.UUID):
        return _same_text
    if kind is fields.Integer and not field.as_string:
        return _same_integer
    if kind is fields.Boolean:
        return _same_boolean
    if kind is fields.Date and field.format in (None, "iso", "iso8601"):
        return _iso_date
    if kind is fields.List:
        inner = _field_dump(field.inner)
        if inner is None:
            return None

        def dump_list(value):
            if type(value) is not list:
                return _NOT_PLAIN
            items = [None if item is None else inner(item) for item in value]
            return _NOT_PLAIN if _NOT_PLAIN in items else items
        return dump_list
    if kind is fields.Dict and type(field.key_field) is fields.String and field.value_field is not None:
        values = _field_dump(field.value_field)
        if values is None:
            return None

        def dump_dict(value):
            if type(value) is not dict or not all(type(key) is str for key in value):
                return _NOT_PLAIN
            items = {key: None if item is None else values(item) for key, item in value.items()}
            return _NOT_PLAIN if _NOT_PLAIN in items.values() else items
        return dump_dict
    if kind is fields.Nested and not field.many and not field.schema.many:
        nested = field.schema
        if _schema_plan(nested) is None:
            return None
        return lambda value: _dump_plain(nested, value)
    return None


# -------------------------------------------------------- a payload as producers send it, loaded without marshmallow
_LOAD_PLANS: dict = {}


def _load_payload(schema, payload):
    """`schema.load(payload)`: the plain load when it takes the payload, else marshmallow (every refusal's messages)."""
    loaded = _load_plain(schema, payload)
    return schema.load(payload) if loaded is _NOT_PLAIN else loaded


def _load_plain(schema, data):
    """What `schema.load(data)` gives, or _NOT_PLAIN (marshmallow then loads it, and names any error).

    Loading payloads through marshmallow was half of the registry consumer's CPU (35,000 schema loads and 290,000
    field calls for 10,000 events). A payload as the producers send it (texts, UUID and ISO date texts, integers,
    booleans, lists and mappings of them, nested records) is loaded here field by field with what marshmallow's
    fields end in (uuid.UUID, marshmallow's own ISO parsers), then each field's validators and the schema's
    `validates_schema` methods are called on the result. Taken only for a schema of such fields whose only hooks are
    schema validators, and only for values of exactly the type the field takes as sent (not "1" for an integer);
    anything else, and every refusal, goes to marshmallow, which stays the definition and writes the messages. A
    property test holds the two to the same answers for every registered event schema."""
    plan = _load_plan(schema)
    if plan is None or type(data) is not dict:
        return _NOT_PLAIN
    fields_plan, names, schema_validators = plan
    if not data.keys() <= names:
        return _NOT_PLAIN  # an unknown field
    loaded = {}
    for name, load, allow_none, required, default in fields_plan:
        if name in data:
            value = data[name]
            if value is None:
                if not allow_none:
                    return _NOT_PLAIN
            elif (value := load(value)) is _NOT_PLAIN:
                return _NOT_PLAIN
            loaded[name] = value
        elif required:
            return _NOT_PLAIN
        elif default is not missing:
            loaded[name] = default() if callable(default) else default
    for validator, pass_original in schema_validators:
        try:
            if pass_original:
                validator(loaded, data, partial=schema.partial, many=False)
            else:
                validator(loaded, partial=schema.partial, many=False)
        except ValidationError:
            return _NOT_PLAIN
    return loaded


def _load_plan(schema):
    """(per field: name, load, allow_none, required, load_default; the names; the schema validators) of `schema`,
    made once; None when a field or hook of the schema needs marshmallow."""
    plan = _LOAD_PLANS.get(schema, False)
    if plan is False:
        plan = _LOAD_PLANS[schema] = _make_load_plan(schema)
    return plan


def _make_load_plan(schema):
    validators = []
    for tag, entries in schema._hooks.items():
        for name, pass_many, options in entries:
            if tag != VALIDATES_SCHEMA or pass_many:
                return None
            validators.append((getattr(schema, name), options.get("pass_original", False)))
    if schema.many or schema.partial or schema.unknown != RAISE or schema.dict_class is not dict:
        return None
    plan = []
    for name, field in schema.load_fields.items():
        load = _field_load(field)
        if load is None or field.data_key not in (None, name) or field.attribute not in (None, name) \
                or "." in name:
            return None
        plan.append((name, load, field.allow_none, field.required, field.load_default))
    return plan, frozenset(schema.load_fields), validators


def _loaded_text(value):
    return value if type(value) is str else _NOT_PLAIN


def _loaded_uuid(value):
    if type(value) is not str:
        return _NOT_PLAIN
    try:
        return uuid.UUID(value)  # what the field does with a text
    except ValueError:
        return _NOT_PLAIN


def _loaded_integer(value):
    return value if type(value) is int else _NOT_PLAIN  # not "1", 1.0 or True: the field's own conversions


def _loaded_boolean(value):
    return value if type(value) is bool else _NOT_PLAIN


_ISO_DATE_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}").fullmatch


def _loaded_date(value):
    if type(value) is not str:
        return _NOT_PLAIN
    try:
        # The form producers write, read as the field's own parser reads it (the same numbers), in C; any other
        # text by that parser.
        return date.fromisoformat(value) if _ISO_DATE_SHAPE(value) else from_iso_date(value)
    except ValueError:
        return _NOT_PLAIN


def _loaded_aware_datetime(value):
    if type(value) is not str:
        return _NOT_PLAIN
    try:
        loaded = from_iso_datetime(value)  # the field's own parser (format iso), so the same tzinfo
    except ValueError:
        return _NOT_PLAIN
    return loaded if loaded.utcoffset() is not None else _NOT_PLAIN  # a naive time is refused


def _field_load(field):
    """A function giving what `field` loads a non-None value to (its validators passed), or _NOT_PLAIN (marshmallow
    then decides); None for a field that is not plain."""
    load = _field_kind_load(field)
    if load is None or not field.validators:
        return load
    checks = tuple(_validator_check(validator, load is _loaded_text) for validator in field.validators)

    def load_and_validate(value):
        value = load(value)
        if value is _NOT_PLAIN:
            return _NOT_PLAIN
        for check in checks:
            if not check(value):
                return _NOT_PLAIN
        return value
    return load_and_validate


def _validator_check(validator, takes_text: bool):
    """A function telling whether `validator` passes a loaded value. A code list's and a pattern's are their own
    test without the call (a code is looked up in a set of the codes: for a text, the same answer as the list)."""
    if type(validator) is validate.OneOf and takes_text and all(type(code) is str for code in validator.choices):
        return frozenset(validator.choices).__contains__
    if type(validator) is validate.Regexp:
        return validator.regex.match  # what the validator tests: a match, or None

    def passes(value):
        try:
            return validator(value) is not False  # False: a plain function's refusal
        except ValidationError:
            return False
    return passes


def _item_load(field):
    """An item of a list or a value of a mapping: None is taken only where the inner field allows it."""
    load = _field_load(field)
    if load is None:
        return None
    if field.allow_none:
        return lambda value: None if value is None else load(value)
    return lambda value: _NOT_PLAIN if value is None else load(value)


def _field_kind_load(field):
    kind = type(field)
    if kind is fields.String:
        return _loaded_text
    if kind is fields.UUID:
        return _loaded_uuid
    if kind is fields.Integer:
        return _loaded_integer
    if kind is fields.Boolean and (not field.truthy or (True in field.truthy and False in field.falsy)):
        return _loaded_boolean
    if kind is fields.Date and field.format in ("iso", "iso8601"):
        return _loaded_date
    if kind is fields.AwareDateTime and field.format in ("iso", "iso8601") and field.default_timezone is None:
        return _loaded_aware_datetime
    if kind is fields.List:
        item = _item_load(field.inner)
        if item is None:
            return None

        def load_list(value):
            if type(value) is not list:
                return _NOT_PLAIN
            items = [item(each) for each in value]
            return _NOT_PLAIN if _NOT_PLAIN in items else items
        return load_list
    if kind is fields.Dict and field.mapping_type is dict and type(field.key_field) is fields.String \
            and not field.key_field.validators and field.value_field is not None:
        item = _item_load(field.value_field)
        if item is None:
            return None

        def load_dict(value):
            if type(value) is not dict or not all(type(key) is str for key in value):
                return _NOT_PLAIN
            items = {key: item(each) for key, each in value.items()}
            return _NOT_PLAIN if _NOT_PLAIN in items.values() else items
        return load_dict
    if kind is fields.Nested and not field.many and field.unknown in (None, RAISE):
        nested = field.schema
        if nested.many or _load_plan(nested) is None:
            return None
        return lambda value: _load_plain(nested, value)
    return None


_ENVELOPE_KEYS = frozenset(EnvelopeSchema._declared_fields)
_TYPE_MATCH, _OFFICE_MATCH = re.compile(TYPE_RE).match, re.compile(OFFICE_RE).match
# What datetime.isoformat() writes for an aware time, the only form producers send (see make_envelope).
_ISOFORMAT_AWARE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?[+-]\d\d:\d\d").fullmatch


def _load_envelope_as_sent(envelope: dict) -> dict | None:
    """EnvelopeSchema's load for an envelope exactly as make_envelope writes it, or None for anything else.

    Loading the eight envelope fields through marshmallow was a third of a consumer's CPU per message. This accepts
    only a strict subset of what the schema accepts (canonical UUID text, an int version, isoformat() time...) and
    gives the same result; whatever it does not accept (a malformed envelope, or an unusual but valid spelling such
    as a version sent as "1") goes to the schema, which stays the definition and writes the error messages. A test
    holds the two to the same answers."""
    if envelope.keys() != _ENVELOPE_KEYS:
        return None
    message_id, event_type, version, office, occurred_at, correlation_id, producer, payload = (
        envelope["message_id"], envelope["type"], envelope["schema_version"], envelope["office"],
        envelope["occurred_at"], envelope["correlation_id"], envelope["producer"], envelope["payload"])
    if not (type(message_id) is str and len(message_id) == 36 and type(event_type) is str and _TYPE_MATCH(event_type)
            and type(version) is int and version >= 1 and type(office) is str and _OFFICE_MATCH(office)
            and type(occurred_at) is str and _ISOFORMAT_AWARE(occurred_at) and type(correlation_id) is str
            and 1 <= len(correlation_id) <= 100 and type(producer) is str and type(payload) is dict):
        return None
    try:
        message_uuid, occurred = uuid.UUID(message_id), datetime.fromisoformat(occurred_at)
    except ValueError:  # e.g. a 13th month: the schema says what is wrong
        return None
    return {"message_id": message_uuid, "type": event_type, "schema_version": version, "office": office,
            "occurred_at": occurred, "correlation_id": correlation_id, "producer": producer, "payload": dict(payload)}


def validate_envelope(envelope: dict) -> dict:
    """Validate envelope and payload; return the loaded envelope (payload loaded by its schema)."""
    try:
        loaded = _load_envelope_as_sent(envelope) if isinstance(envelope, dict) else None
        if loaded is None:
            loaded = _schema(EnvelopeSchema).load(envelope)
        schema = schema_for(loaded["type"], loaded["schema_version"])
        if schema is None:
            raise ValidationError({"type": [f"no schema for {loaded['type']} v{loaded['schema_version']}"]})
        loaded["payload"] = _load_payload(_schema(schema), envelope["payload"])
    except ValidationError as error:
        raise InvalidEvent(error.messages) from None
    return loaded


def encode(envelope: dict) -> bytes:
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode(body: bytes) -> dict:
    """Parse and validate a delivered body; raises InvalidEvent on anything malformed."""
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidEvent({"body": [f"not JSON: {error}"]}) from None
    if not isinstance(raw, dict):
        raise InvalidEvent({"body": ["not a JSON object"]})
    return validate_envelope(raw)
