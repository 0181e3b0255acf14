"""One JSON envelope for every event, validated when published and when consumed.

The envelope's payload is validated by the marshmallow schema registered for (type, schema_version) in
`shared.events`. The routing key carries the office: `office.<office>.<type>`, which is what the broker's
topic permissions check.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from shared.events import schema_for

ROUTING_PREFIX = "office"
TYPE_RE = r"^[a-z]+(\.[a-z_]+)+$"


class EnvelopeSchema(Schema):
    class Meta:
        unknown = RAISE

    message_id = fields.UUID(required=True)
    type = fields.String(required=True, validate=validate.Regexp(TYPE_RE))
    schema_version = fields.Integer(required=True, validate=validate.Range(min=1))
    office = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9-]{1,40}$"))
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
        "occurred_at": (occurred_at or datetime.now(timezone.utc)).isoformat(),
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


def validate_envelope(envelope: dict) -> dict:
    """Validate envelope and payload; return the loaded envelope (payload loaded by its schema)."""
    try:
        loaded = _schema(EnvelopeSchema).load(envelope)
        schema = schema_for(loaded["type"], loaded["schema_version"])
        if schema is None:
            raise ValidationError({"type": [f"no schema for {loaded['type']} v{loaded['schema_version']}"]})
        loaded["payload"] = _schema(schema).load(envelope["payload"])
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
