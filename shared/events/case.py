"""Case events from intake. Owner: services/intake. Draft contracts; intake refines them.

Identifiers only: case id (a UUID), the candidate as the office's keyed hash, users by directory id.
"""
from marshmallow import RAISE, Schema, fields, validate

from . import register


class _Strict(Schema):
    class Meta:
        unknown = RAISE


@register("case.opened")
class CaseOpenedV1(_Strict):
    case_id = fields.UUID(required=True)
    candidate_hash = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))
    counsellor_id = fields.String(required=True)
    opened_on = fields.Date(required=True)
