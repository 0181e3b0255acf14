"""Every HTTP schema of intake (the case API, the privacy API, the internal API), on shared.web.StrictSchema: unknown
fields are refused; the domain checks values so that every problem of a form is reported at once (a schema stops at
types, the domain names each field's problem in Norwegian)."""
from __future__ import annotations

from marshmallow import RAISE, fields, validate

from shared.events.case import CaseCorrectedV1
from shared.web import StrictSchema

from .domain.states import STATE_LABELS
from .service import MAX_PAGE_SIZE, PAGE_SIZE


def _s(**kw):
    return fields.String(load_default=None, allow_none=True, **kw)


def _answer(**kw):
    return fields.Raw(load_default=None, allow_none=True, metadata={"description": "yes/no (or true/false)"}, **kw)


class EmployerFields(StrictSchema):
    employer_orgnr = _s(metadata={"description": "organisation number, 9 digits with a valid control digit"})
    employer_name = _s()
    employer_contact_name = _s()
    employer_contact_email = _s()
    employer_contact_phone = _s()


class PartiesIn(EmployerFields):
    mentor_name = _s()
    mentor_relation = _s(metadata={"description": "colleague | manager | external | none"})


class OpenCaseIn(PartiesIn):
    national_id = _s(metadata={"description": "fødselsnummer or D-number (11 digits, control digits checked)"})
    candidate_name = _s()
    in_target_group = _answer()
    in_follow_up_measure = _answer()
    entry_point = _s()
    industry = _s()
    initiator = _s()
    attachment_before = _s()
    counsellor_knew_company = _s(metadata={"description": "yes | no"})
    reasons = fields.List(fields.String(), load_default=None, allow_none=True)
    opened_on = _s(metadata={"description": "ISO date; default today"})


class ContactIn(StrictSchema):
    contact_date = _s()
    party = _s(metadata={"description": "candidate | mentor | employer"})
    form = _s(metadata={"description": "phone | email | at_company | at_nav_office | digital"})
    minutes = fields.Raw(load_default=None, allow_none=True)
    note = _s(metadata={"description": "internal note: encrypted, never leaves the office"})


class MeasureIn(StrictSchema):
    measure = _s()
    from_date = _s()
    to_date = _s()


class HandoverIn(StrictSchema):
    counsellor_id = fields.String(required=True, metadata={"description": "a counsellor of the same office"})


class PlanIn(StrictSchema):
    step_1 = _s()
    step_2 = _s()
    step_3 = _s()
    step_4 = _s()
    step_5 = _s()
    step_6 = _s()
    step_7 = _s()
    start_meeting_on = _s()
    plan_tasks = _s()
    plan_mentor_expectations = _s()


class ClosureIn(StrictSchema):
    closed_on = _s()
    closure_reason = _s()
    attachment_after = _s()
    attached_same_company = _s(metadata={"description": "yes | no | unknown"})
    feedback_mentor = _s()
    feedback_counsellor = _s()
    industry = _s()
    initiator = _s()
    reasons = fields.List(fields.String(), load_default=None, allow_none=True)
    counsellor_knew_company = _s()
    attachment_before = _s()
    frequency_candidate = _s()
    frequency_mentor = _s()
    frequency_employer = _s()
    intensity_candidate = _s(metadata={"description": "contact intensity with the candidate (table 5)"})
    intensity_mentor = _s(metadata={"description": "contact intensity with the mentor (table 5)"})
    forms_candidate = fields.List(fields.String(), load_default=None, allow_none=True,
                                  metadata={"description": "contact forms used with the candidate (table 5)"})
    forms_mentor = fields.List(fields.String(), load_default=None, allow_none=True,
                               metadata={"description": "contact forms used with the mentor (table 5)"})
    duration = _s()
    success_criteria = fields.Dict(keys=fields.String(), values=fields.String(allow_none=True), load_default=None,
                                   allow_none=True, metadata={"description": "criterion code -> assessment"})
    list_version = _s(metadata={"description": "the success-criteria list version the form was filled against"})


class ClosureSubmitIn(ClosureIn):
    expected_version = fields.Integer(load_default=None, allow_none=True, metadata={
        "description": "the case's revision the form was filled against (its ETag's number); or send If-Match"})


class SearchIn(StrictSchema):
    national_id = fields.String(required=True)


class ListQuery(StrictSchema):
    counsellor = fields.String(load_default=None)
    state = fields.String(load_default=None, metadata={"description": "open | project_end | closed"},
                          validate=validate.OneOf(STATE_LABELS, error="må være open, project_end eller closed"))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1), metadata={"description": "from 1"})
    page_size = fields.Integer(load_default=PAGE_SIZE, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


# ---------------------------------------------------------------- responses
class CaseSummaryOut(StrictSchema):
    id = fields.String()
    counsellor_id = fields.String()
    state = fields.String()
    opened_on = fields.Date()
    closed_on = fields.Date(allow_none=True)
    industry = fields.String()
    mentor_relation = fields.String()
    candidate_name = fields.String()
    closure_version = fields.Integer()


class ContactOut(StrictSchema):
    id = fields.String()
    revision = fields.Integer()
    contact_date = fields.Date()
    party = fields.String()
    form = fields.String()
    minutes = fields.Integer()
    note = fields.String(allow_none=True)


class MeasureOut(StrictSchema):
    id = fields.String()
    revision = fields.Integer()
    measure = fields.String()
    from_date = fields.Date()
    to_date = fields.Date(allow_none=True)


class HistoryOut(StrictSchema):
    seq = fields.Integer()
    at = fields.DateTime()
    actor = fields.String()
    action = fields.String()
    summary = fields.Dict()
    snapshot = fields.Dict(allow_none=True)


class ClosureVersionOut(StrictSchema):
    version = fields.Integer()
    kind = fields.String()
    supersedes_version = fields.Integer(allow_none=True)
    record = fields.Dict()
    submitted_by = fields.String()
    submitted_at = fields.DateTime()


class CaseOut(CaseSummaryOut):
    revision = fields.Integer()
    national_id = fields.String()
    candidate_hash = fields.String()
    in_target_group = fields.Boolean()
    in_follow_up_measure = fields.Boolean()
    entry_point = fields.String()
    initiator = fields.String()
    attachment_before = fields.String()
    counsellor_knew_company = fields.String()
    reasons = fields.List(fields.String())
    employer_hash = fields.String(allow_none=True)
    employer = fields.Dict(allow_none=True)
    mentor_id = fields.String(allow_none=True)
    mentor_name = fields.String(allow_none=True)
    steps = fields.Dict()
    start_meeting_on = fields.Date(allow_none=True)
    plan = fields.Dict()
    contacts = fields.List(fields.Nested(ContactOut))
    measures = fields.List(fields.Nested(MeasureOut))
    history = fields.List(fields.Nested(HistoryOut))
    closures = fields.List(fields.Nested(ClosureVersionOut))
    derived = fields.Dict(metadata={"description": "tables 5/6 derived from the log and the dates"})


class OpenedOut(StrictSchema):
    id = fields.String()
    state = fields.String()
    candidate_hash = fields.String()


class ClosureFormOut(StrictSchema):
    state = fields.String()
    revision = fields.Integer(metadata={"description": "the case's revision: send it back as expected_version"})
    closure_version = fields.Integer()
    values = fields.Dict(metadata={"description": "the form prefilled: draft, else case answers and derivations"})
    derived = fields.Dict()
    draft = fields.Dict(allow_none=True)
    criteria = fields.Dict(metadata={"description": "the current success-criteria list (version, criteria)"})
    latest = fields.Dict(allow_none=True, metadata={"description": "the latest submitted version's record"})


class ClosureRecordOut(CaseCorrectedV1):
    """The closure record as sent downstream (supersedes_version only on a correction)."""

    class Meta:
        unknown = RAISE


class OverviewOut(StrictSchema):
    open = fields.Integer()
    closed = fields.Integer()
    closures_submitted = fields.Integer()
    overdue = fields.Integer()
    overdue_case_ids = fields.List(fields.String())
    overdue_days = fields.Integer()  # the project's threshold of shared.overdue
    per_counsellor = fields.Dict()


class ProjectEndOut(StrictSchema):
    status_forms = fields.Integer()


class SearchOut(StrictSchema):
    case_ids = fields.List(fields.String())


class OkOut(StrictSchema):
    ok = fields.Boolean()


class EmployerContactOut(StrictSchema):
    """The employer's contact person for the survey invitation (notify's contract, services/notify/intake_client.py)."""
    organisation = fields.String(required=True)
    contact_name = fields.String(required=True)
    email = fields.String(required=True)
    phone = fields.String(allow_none=True)


# ---------------------------------------------------------------- privacy: access request and erasure
class AccessIn(StrictSchema):
    national_id = fields.String(load_default=None, metadata={"description": "fødselsnummer or D-number, 11 digits"})


class ErasureIn(AccessIn):
    confirm = fields.Boolean(load_default=False, metadata={"description": "must be true: an erasure cannot be undone"})
    expected_version = fields.Integer(load_default=None, allow_none=True, metadata={
        "description": "the access document's version (its ETag's number); or send If-Match"})


class OfficeRef(StrictSchema):
    code = fields.String(required=True)
    name = fields.String(required=True)


class RegistryPart(StrictSchema):
    included = fields.Boolean(required=True)
    explanation = fields.String(required=True)
    data_policy = fields.String(required=True, metadata={"description": "erase | research_exemption"})
    on_erasure = fields.String(required=True)


class AccessDocumentOut(StrictSchema):
    request_id = fields.String(required=True)
    generated_at = fields.String(required=True)
    generated_by = fields.String(required=True)
    office = fields.Nested(OfficeRef, required=True)
    legal_basis = fields.String(required=True)
    cases = fields.List(fields.Dict(), required=True, metadata={
        "description": "intake: each case decrypted, with contacts, measures, closures, history and disclosures"})
    consents = fields.List(fields.Dict(), required=True, metadata={"description": "consent: per case"})
    notifications = fields.List(fields.Dict(), required=True, metadata={"description": "notify: per case"})
    registry = fields.Nested(RegistryPart, required=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    version = fields.Integer(required=True, metadata={
        "description": "what the office holds about the person, as a version (also the ETag): the erasure names it"})


class ErasureOut(StrictSchema):
    request_id = fields.String(required=True)
    at = fields.String(required=True)
    case_ids = fields.List(fields.String(), required=True)
    deleted = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    data_policy = fields.String(required=True)
    registry = fields.String(required=True)
    forwarded_to = fields.List(fields.String(), required=True)


class ErasureStatusOut(StrictSchema):
    request_id = fields.String(required=True)
    at = fields.String(required=True)
    actor = fields.String(required=True)
    case_count = fields.Integer(required=True)
    deleted = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    services = fields.Dict(keys=fields.String(), values=fields.Dict(), required=True,
                           metadata={"description": "consent, notify: state completed | waiting | unknown"})
    registry = fields.Dict(required=True)
