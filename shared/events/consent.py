"""Consent events from the consent service. Owner: services/consent. Draft contracts; consent refines them."""
from marshmallow import RAISE, Schema, fields

from . import register


class _Strict(Schema):
    class Meta:
        unknown = RAISE


@register("consent.granted")
class ConsentGrantedV1(_Strict):
    case_id = fields.UUID(required=True)
    purpose = fields.String(required=True)
