"""Every HTTP schema of the consent service (API and pages) and the template file's: all on shared.web.StrictSchema
(unknown fields are refused), messages in Norwegian."""
from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import ValidationError, fields, validate, validates_schema

from shared.vocab import codes
from shared.web import N_, StrictSchema
from shared.web.dates import DateText
from shared.web.i18n import Message

from .domain.recording import DECISIONS, METHODS, NAME_MAX_CHARS, NATIONAL_ID_MAX_CHARS
from .domain.signers import PERSON_SIGNER
from .domain.templates import SUBJECT_KINDS

REQUIRED = {"required": N_("Feltet må fylles ut."), "null": N_("Feltet må fylles ut."), "invalid": N_("Ugyldig verdi.")}


SUBJECT_REF_MAX_CHARS = 64  # a directory user's id


def _one_of(choices):
    return validate.OneOf(choices, error=Message(N_("Må være en av: {choices}.")))


# What a length limit says, per field (a message id each, translated when it is filled in).
AT_MOST = {"Feltet": N_("Feltet kan være høyst {max} tegn."), "Tittelen": N_("Tittelen kan være høyst {max} tegn."),
           "Navnet": N_("Navnet kan være høyst {max} tegn."),
           "Fødselsnummeret": N_("Fødselsnummeret kan være høyst {max} tegn.")}


def _at_most(limit: int, what: str = "Feltet"):
    return validate.Length(max=limit, error=Message(AT_MOST[what]))


NOT_EMPTY = validate.Length(min=1, error=N_("Feltet må fylles ut."))


class TemplateSchema(StrictSchema):
    purpose = fields.String(required=True, validate=_one_of(codes("consent_purpose")), error_messages=REQUIRED)
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, error=N_("Versjonen må være 1 "
                             "eller høyere.")), error_messages=REQUIRED)
    subject_kind = fields.String(required=True, validate=_one_of(SUBJECT_KINDS), error_messages=REQUIRED)
    signer_roles = fields.List(fields.String(validate=_one_of(codes("signer_role"))), required=True,
                               validate=validate.Length(min=1, error=N_("Minst én rolle må signere.")))
    title_nb = fields.String(required=True, validate=[NOT_EMPTY, _at_most(200, "Tittelen")], error_messages=REQUIRED)
    title_nn = fields.String(load_default=None, allow_none=True, validate=_at_most(200, "Tittelen"))
    title_en = fields.String(load_default=None, allow_none=True, validate=_at_most(200, "Tittelen"))
    text_nb = fields.String(required=True, validate=NOT_EMPTY, error_messages=REQUIRED)
    text_nn = fields.String(load_default=None, allow_none=True)
    text_en = fields.String(load_default=None, allow_none=True)
    valid_from = fields.Date(required=True, error_messages=REQUIRED)
    expires_on = fields.Date(required=True, error_messages=REQUIRED)

    @validates_schema
    def _consistent(self, data, **_):
        if data["valid_from"] > data["expires_on"]:
            raise ValidationError(N_("Utløpsdatoen må være etter gyldig-fra-datoen."), "expires_on")
        if len(set(data["signer_roles"])) != len(data["signer_roles"]):
            raise ValidationError(N_("En rolle er oppgitt to ganger."), "signer_roles")
        if data["subject_kind"] == "person" and data["signer_roles"] != [PERSON_SIGNER]:
            raise ValidationError(N_("Et samtykke som gjelder en ansatt, signeres bare av den ansatte (counsellor)."),
                                  "signer_roles")


class TemplateFileSchema(StrictSchema):
    templates = fields.List(fields.Nested(TemplateSchema), required=True)


class TemplateOut(StrictSchema):
    purpose = fields.String()
    version = fields.Integer()
    subject_kind = fields.String()
    signer_roles = fields.List(fields.String())
    title_nb = fields.String()
    title_nn = fields.String(allow_none=True)
    title_en = fields.String(allow_none=True)
    text_nb = fields.String()
    text_nn = fields.String(allow_none=True)
    text_en = fields.String(allow_none=True)
    valid_from = fields.Date()
    expires_on = fields.Date()


def _decision_fields():
    return {f"decision_{p}": fields.String(load_default=None, allow_none=True, validate=_one_of(DECISIONS))
            for p in codes("consent_purpose")}


ConsentFormBase = StrictSchema.from_dict({
    "case_id": fields.UUID(load_default=None, allow_none=True),
    "subject_ref": fields.String(load_default=None, allow_none=True, validate=_at_most(SUBJECT_REF_MAX_CHARS)),
    "signer_role": fields.String(required=True, validate=_one_of(codes("signer_role")), error_messages=REQUIRED),
    "signer_name": fields.String(required=True, validate=[NOT_EMPTY, _at_most(NAME_MAX_CHARS, "Navnet")],
                                 error_messages=REQUIRED),
    "signer_national_id": fields.String(load_default=None, allow_none=True,
                                        validate=_at_most(NATIONAL_ID_MAX_CHARS, "Fødselsnummeret")),
    "signed_on": fields.Date(required=True, error_messages=REQUIRED),
    "method": fields.String(load_default="scanned_paper", validate=_one_of(METHODS)),
    **_decision_fields(),
}, name="ConsentFormBase")


class ConsentForm(ConsentFormBase):
    """multipart/form-data: one signed form, a decision per purpose (`decision_<purpose>` = granted|refused)."""


class ConsentPageForm(ConsentForm):
    """The page's form: the signed date as typed, dd.mm.åååå (the API keeps ISO)."""

    signed_on = DateText(required=True, error_messages=REQUIRED)


def decisions_from_form(data: dict) -> dict:
    return {p: data.get(f"decision_{p}") for p in codes("consent_purpose") if data.get(f"decision_{p}")}


class UploadIn(StrictSchema):
    """The scanned form of POST /consents (multipart/form-data)."""

    document = Upload(load_default=None)


class RecordedOut(StrictSchema):
    record_id = fields.String()
    document_id = fields.String()
    status = fields.Dict(keys=fields.String(), values=fields.String())


class WithdrawalIn(StrictSchema):
    case_id = fields.UUID(load_default=None, allow_none=True)
    subject_ref = fields.String(load_default=None, allow_none=True, validate=_at_most(SUBJECT_REF_MAX_CHARS))
    signer_role = fields.String(load_default=None, allow_none=True, validate=_one_of(codes("signer_role")))
    purposes = fields.List(fields.String(validate=_one_of(codes("consent_purpose"))), load_default=list,
                           metadata={"description": "empty: every purpose"})
    requested_on = fields.Date(load_default=None, allow_none=True)
    expected_version = fields.Integer(
        load_default=None, allow_none=True, strict=True,
        validate=validate.Range(min=0, error=N_("Versjonen må være et helt tall (den du så).")),
        metadata={"description": "the version of the consents the withdrawal is based on (the number in the status's "
                                 "or overview's ETag); or send If-Match. One of the two is required."})


class WithdrawalOut(StrictSchema):
    withdrawal_id = fields.String()
    purposes = fields.List(fields.String())
    data_policy = fields.String()
    data_policy_text = fields.String()
    status = fields.Dict(keys=fields.String(), values=fields.String())


class StatusQuery(StrictSchema):
    case_id = fields.UUID(load_default=None, allow_none=True)
    subject_ref = fields.String(load_default=None, allow_none=True, validate=_at_most(SUBJECT_REF_MAX_CHARS))
    purpose = fields.String(required=True, validate=_one_of(codes("consent_purpose")), error_messages=REQUIRED)


class StatusOut(StrictSchema):
    case_id = fields.String(allow_none=True)
    subject_ref = fields.String(allow_none=True)
    purpose = fields.String()
    granted = fields.Boolean()
    state = fields.String()
    missing_roles = fields.List(fields.String())
    expires_on = fields.Date(allow_none=True)
    template_version = fields.Integer(allow_none=True)


class DocumentQuery(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=5, max=500, error=N_("Skriv hvorfor du åpner "
                           "dokumentet (minst 5 tegn).")), error_messages=REQUIRED)
    disposition = fields.String(load_default="inline", validate=_one_of(("inline", "attachment")))


class AddedOut(StrictSchema):
    added = fields.List(fields.String())


class SignatureOut(StrictSchema):
    slot = fields.Function(lambda state: state.slot.key)
    state = fields.String()


class PurposeOut(StrictSchema):
    purpose = fields.String()
    state = fields.String()
    granted = fields.Boolean()
    expires_on = fields.Date(allow_none=True)
    missing_roles = fields.List(fields.String())
    signatures = fields.List(fields.Nested(SignatureOut), attribute="slots")


class DecisionOut(StrictSchema):
    purpose = fields.String()
    decision = fields.String()
    template_version = fields.Integer()
    withdrawn = fields.Function(lambda decision: decision["withdrawn_at"] is not None)


class DocumentOut(StrictSchema):
    id = fields.String()
    content_type = fields.String()
    size_bytes = fields.Integer()


class RecordOut(StrictSchema):
    id = fields.String()
    signer_role = fields.String()
    signer_name = fields.String(allow_none=True)
    signed_on = fields.Date()
    method = fields.String()
    decisions = fields.List(fields.Nested(DecisionOut))
    documents = fields.List(fields.Nested(DocumentOut))


class OverviewOut(StrictSchema):
    """A case's (or person's) consents: per purpose who must sign and who has, and the registered forms."""

    subject_key = fields.String()
    purposes = fields.List(fields.Nested(PurposeOut))
    records = fields.List(fields.Nested(RecordOut))


class ConsentAccessOut(StrictSchema):
    cases = fields.List(fields.Dict(), required=True, metadata={
        "description": "per case: records (the candidate's in full, with the scan in content_base64; other signers "
                       "by role, date and decisions), withdrawals, status, audit_trail"})
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
