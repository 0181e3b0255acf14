"""A tiny event used by the bus's own tests and benchmark (never produced by a service)."""
from marshmallow import RAISE, Schema, fields

from . import register


@register("bus.probe")
class BusProbeV1(Schema):
    class Meta:
        unknown = RAISE

    sequence = fields.Integer(required=True)
    fail = fields.String(load_default=None, allow_none=True)
    padding = fields.String()  # optional: the benchmark weighs a probe like a real event
