"""Case events from intake: the contract consent, registry and notify consume.

Nothing personal travels: no national ID, no name, no free text, no organisation number. The candidate and the
employer travel as the office's keyed hashes (`candidate_hash`, `employer_hash`); people of NAV by directory id;
the mentor by an opaque id that intake assigns. "Other (describe)" answers travel as the code `other` only.
"""
from marshmallow import RAISE, Schema, fields, validate

from shared.vocab import codes

from . import register

HASH = validate.Regexp(r"^[0-9a-f]{64}$", error="must be a 64-hex keyed hash")


def _code(vocabulary, **kwargs):
    return fields.String(validate=validate.OneOf(codes(vocabulary)), **kwargs)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class PartiesMixin(_Strict):
    """Who is in the case, as far as consent and notify need it (who must sign, who to remind)."""

    counsellor_id = fields.String(required=True)
    mentor_id = fields.UUID(required=True, allow_none=True)
    mentor_relation = _code("mentor_relation", required=True)
    employer_hash = fields.String(required=True, allow_none=True, validate=HASH)


@register("case.opened")
class CaseOpenedV1(PartiesMixin):
    case_id = fields.UUID(required=True)
    candidate_hash = fields.String(required=True, validate=HASH)
    opened_on = fields.Date(required=True)
    entry_point = _code("entry_point", required=True)


@register("case.parties_changed")
class CasePartiesChangedV1(PartiesMixin):
    case_id = fields.UUID(required=True)


@register("case.contact_logged")
class CaseContactLoggedV1(_Strict):
    """A contact logged or edited (same contact_id, higher revision). The internal note never travels."""

    case_id = fields.UUID(required=True)
    contact_id = fields.UUID(required=True)
    revision = fields.Integer(required=True, validate=validate.Range(min=1))
    contact_date = fields.Date(required=True)
    party = _code("party", required=True)
    form = _code("contact_form", required=True)
    minutes = fields.Integer(required=True, validate=validate.Range(min=0, max=24 * 60))
    deleted = fields.Boolean(load_default=False)


@register("case.measure_changed")
class CaseMeasureChangedV1(_Strict):
    case_id = fields.UUID(required=True)
    measure_id = fields.UUID(required=True)
    measure = _code("measure", required=True)
    from_date = fields.Date(required=True)
    to_date = fields.Date(required=True, allow_none=True)
    deleted = fields.Boolean(load_default=False)


class MeasurePeriod(_Strict):
    measure = _code("measure", required=True)
    from_date = fields.Date(required=True)
    to_date = fields.Date(required=True, allow_none=True)


class ContactSummary(_Strict):
    """The report's tables 5 and 6, derived from the log and confirmed or corrected by the counsellor.

    Table 5 per party: `intensity_candidate`/`intensity_mentor` (null: no contact with that party logged and none
    given) and `forms_candidate`/`forms_mentor` (empty: none). Closures sent before these existed lack them: a
    field ABSENT means unknown for that party (the registry keeps it as such), never "no contact". `intensity` and
    `forms` are the whole log's, every party (the employer too), derived."""

    frequency_candidate = _code("contact_frequency", required=True)
    frequency_mentor = _code("contact_frequency", required=True)
    frequency_employer = _code("contact_frequency", required=True)
    intensity_candidate = _code("contact_intensity", allow_none=True)
    intensity_mentor = _code("contact_intensity", allow_none=True)
    forms_candidate = fields.List(_code("contact_form"))
    forms_mentor = fields.List(_code("contact_form"))
    intensity = _code("contact_intensity", required=True, allow_none=True)
    forms = fields.List(_code("contact_form"), required=True)
    duration = _code("duration", required=True)
    contacts_logged = fields.Integer(required=True, validate=validate.Range(min=0))
    minutes_total = fields.Integer(required=True, validate=validate.Range(min=0))


class SuccessCriteria(_Strict):
    list_version = fields.String(required=True)
    assessments = fields.Dict(keys=fields.String(), values=_code("success_assessment"), required=True)


class ClosureRecord(_Strict):
    """Everything the registry keeps of a case: every column of the report's table 1, as codes."""

    case_id = fields.UUID(required=True)
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    candidate_hash = fields.String(required=True, validate=HASH)
    counsellor_id = fields.String(required=True)
    mentor_id = fields.UUID(required=True, allow_none=True)
    employer_hash = fields.String(required=True, allow_none=True, validate=HASH)
    opened_on = fields.Date(required=True)
    closed_on = fields.Date(required=True)
    closure_reason = _code("closure_reason", required=True)
    entry_point = _code("entry_point", required=True)
    industry = _code("industry", required=True)
    initiator = _code("initiator", required=True)
    reasons = fields.List(_code("reason"), required=True, validate=validate.Length(min=1))
    counsellor_knew_company = _code("yes_no", required=True)
    attachment_before = _code("attachment_before", required=True)
    mentor_relation = _code("mentor_relation", required=True)
    mentor_measure_used = fields.Boolean(required=True)
    measures = fields.List(fields.Nested(MeasurePeriod), required=True)
    contact = fields.Nested(ContactSummary, required=True)
    attachment_after = _code("attachment_after", required=True)
    attached_same_company = _code("yes_no_unknown", required=True)
    success_criteria = fields.Nested(SuccessCriteria, required=True)
    feedback_mentor = _code("feedback", required=True)
    feedback_counsellor = _code("feedback", required=True)


@register("case.closed")
class CaseClosedV1(ClosureRecord):
    """The first submitted closure of a case (version 1)."""


@register("case.corrected")
class CaseCorrectedV1(ClosureRecord):
    """A later version replacing an earlier closure or project-end status of the same case."""

    supersedes_version = fields.Integer(required=True, validate=validate.Range(min=1))


@register("case.project_end_status")
class CaseProjectEndStatusV1(ClosureRecord):
    """The status form sent at project end for a case still ongoing (closure_reason project_end)."""


@register("case.erased")
class CaseErasedV1(_Strict):
    """The office erased these cases at the person's request (GDPR art. 17): every consuming service deletes what it
    holds of them, and the registry applies `data_policy` (the project's `withdrawal_policy`: `erase`, or keep what
    researchers already have under the research exemption), as for a withdrawn consent. Ids only: `request_id` ties
    each service's audit row to the office's request; the person is never named, not even by keyed hash."""

    request_id = fields.UUID(required=True)
    case_ids = fields.List(fields.UUID(), required=True, validate=validate.Length(min=1, max=1000))
    data_policy = fields.String(required=True, validate=validate.OneOf(("erase", "research_exemption")))
