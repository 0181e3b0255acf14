"""Consent events from the consent service: the contract registry and notify consume.

Status changes per (case or person, purpose): granted means every required signer has a current, unexpired,
unwithdrawn consent; withdrawn and expired mean it no longer holds. No signer names travel.
"""
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from shared.vocab import codes

from . import register


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class ConsentStatusBase(_Strict):
    case_id = fields.UUID(required=True, allow_none=True)
    subject_ref = fields.String(load_default=None, allow_none=True)  # a person outside any case (keyed hash or user id)
    purpose = fields.String(required=True, validate=validate.OneOf(codes("consent_purpose")))
    template_version = fields.Integer(required=True, validate=validate.Range(min=1))
    effective_at = fields.AwareDateTime(required=True)

    @validates_schema
    def _has_subject(self, data, **_):
        if data.get("case_id") is None and not data.get("subject_ref"):
            raise ValidationError("either case_id or subject_ref is required", "case_id")


@register("consent.granted")
class ConsentGrantedV1(ConsentStatusBase):
    expires_on = fields.Date(required=True, allow_none=True)


@register("consent.withdrawn")
class ConsentWithdrawnV1(ConsentStatusBase):
    data_policy = fields.String(required=True, validate=validate.OneOf(("erase", "research_exemption")))


@register("consent.expired")
class ConsentExpiredV1(ConsentStatusBase):
    pass


@register("consent.expiring")
class ConsentExpiringV1(ConsentStatusBase):
    expires_on = fields.Date(required=True)


@register("consent.incomplete")
class ConsentIncompleteV1(ConsentStatusBase):
    """Added (additive): a granted status stops holding because the case's parties changed and a newly required
    signer has not signed yet (e.g. a mentor joined). Consumers that ignore it lose nothing they had before."""

    missing_roles = fields.List(fields.String(validate=validate.OneOf(codes("signer_role"))), required=True)
