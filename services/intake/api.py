"""Intake's JSON API (bearer token). Every case id is looked up within the caller's office (else 404)."""
from __future__ import annotations

from flask import jsonify
from werkzeug.exceptions import PreconditionRequired

from shared.web import (
    ApiBlueprint,
    ErrorOut,
    current_platform,
    current_principal,
    error_response,
    roles_required,
    service_scope_required,
)
from shared.web.idempotency import not_replayed
from shared.web.preconditions import expected_version, version_etag

from . import access, service
from .domain import Conflict, Invalid, NotEligible
from .schemas import (
    CaseOut,
    CaseSummaryOut,
    ClosureFormOut,
    ClosureIn,
    ClosureRecordOut,
    ClosureSubmitIn,
    ContactIn,
    ContactOut,
    EmployerContactOut,
    HandoverIn,
    HistoryOut,
    ListQuery,
    MeasureIn,
    MeasureOut,
    OkOut,
    OpenCaseIn,
    OpenedOut,
    OverviewOut,
    PartiesIn,
    PlanIn,
    ProjectEndOut,
    SearchIn,
    SearchOut,
)

blp = ApiBlueprint("intake_api", __name__, url_prefix="/api/v1", description="Inclusion cases of the office")
internal = ApiBlueprint("intake_internal", __name__, url_prefix="/api/internal",
                        description="Machine-to-machine: other services of the platform (service tokens with a scope)")


def register_domain_errors(app):
    @app.errorhandler(NotEligible)
    def _not_eligible(error):
        return error_response(422, error.message, {**error.errors, "eligibility": error.rules}, code="not_eligible")

    @app.errorhandler(Invalid)
    def _invalid(error):
        return error_response(422, error.message, error.errors, code="invalid")

    @app.errorhandler(Conflict)
    def _conflict(error):
        return error_response(409, error.message, code="conflict")


def _clean(data: dict) -> dict:
    return {k: v for k, v in data.items() if v is not None}


def version_seen(office: str, case_id, data=None) -> int:
    """The case's revision the caller saw (`If-Match`, or the field `expected_version` of `data` or of the posted
    form). Without it 428, but only for a case of the caller's office: any other id is 404, as everywhere."""
    try:
        return expected_version(data)
    except PreconditionRequired:
        with current_platform().engine.connect() as conn:
            service.require_case(conn, office, case_id)
        raise


# The case's revision is its version: every change bumps it, so it is the ETag of the case and of its closure form.
VERSION_HEADERS = {"ETag": {"description": 'the case\'s revision, e.g. "v7": send it back as If-Match to submit or '
                                           'correct the closure', "schema": {"type": "string"}}}


@blp.route("/cases", methods=["GET"])
@roles_required(*access.CASES)
@blp.arguments(ListQuery(), location="query")
@blp.response(200, CaseSummaryOut(many=True), headers={"X-Total-Count": {
    "description": "cases matching the filter, over all pages", "schema": {"type": "integer"}}})
def list_cases(query):
    """One page of the office's cases, newest first (every counsellor of the office sees them), filter by counsellor
    and state; `page` and `page_size`, the total in `X-Total-Count`."""
    principal = current_principal()
    with current_platform().engine.connect() as conn:
        rows = service.list_cases(conn, current_platform(), principal.office, query["counsellor"], query["state"],
                                page=query["page"], page_size=query["page_size"])
        total = service.count_cases(conn, principal.office, query["counsellor"], query["state"])
    return rows, 200, {"X-Total-Count": str(total)}


@blp.route("/cases", methods=["POST"])
@roles_required(*access.CASES)
@blp.arguments(OpenCaseIn())
@blp.response(201, OpenedOut)
def open_case(data):
    """Open a case: eligibility rules, national ID and organisation number checked; a refusal names the rule."""
    principal = current_principal()
    with current_platform().engine.begin() as conn:
        return service.open_case(conn, current_platform(), principal, _clean(data))


@blp.route("/cases/search", methods=["POST"])
@not_replayed  # answers who has a case by national ID: never kept for a repeat
@roles_required(*access.CASES)
@blp.arguments(SearchIn())
@blp.response(200, SearchOut)
def search(data):
    """Find the office's cases of a national ID (by keyed hash; POST keeps the number out of URLs and logs)."""
    principal = current_principal()
    with current_platform().engine.connect() as conn:
        ids = service.find_by_national_id(conn, current_platform(), principal.office, data["national_id"])
    return {"case_ids": ids}


@blp.route("/cases/<uid:case_id>", methods=["GET"])
@roles_required(*access.CASES)
@blp.response(200, CaseOut, headers=VERSION_HEADERS)
def get_case(case_id):
    principal = current_principal()
    with current_platform().engine.connect() as conn:
        view = service.case_view(conn, current_platform(), principal.office, case_id)
    return view, 200, {"ETag": version_etag(view["revision"])}


@blp.route("/cases/<uid:case_id>/history", methods=["GET"])
@roles_required(*access.CASES)
@blp.response(200, HistoryOut(many=True))
def history(case_id):
    """Every change of the case, oldest first, with the before/after snapshot (decrypted for the office)."""
    principal = current_principal()
    with current_platform().engine.connect() as conn:
        return service.history_snapshots(conn, current_platform(), principal.office, case_id)


@blp.route("/cases/<uid:case_id>/contacts", methods=["POST"])
@roles_required(*access.CASES)
@blp.arguments(ContactIn())
@blp.response(201, ContactOut)
def add_contact(data, case_id):
    principal = current_principal()
    with current_platform().engine.begin() as conn:
        return service.save_contact(conn, current_platform(), principal, case_id, _clean(data))


@blp.route("/cases/<uid:case_id>/contacts/<uid:contact_id>", methods=["PUT"])
@roles_required(*access.CASES)
@blp.arguments(ContactIn())
@blp.response(200, ContactOut)
def edit_contact(data, case_id, contact_id):
    principal = current_principal()
    with current_platform().engine.begin() as conn:
        return service.save_contact(conn, current_platform(), principal, case_id, _clean(data), contact_id=contact_id)


@blp.route("/cases/<uid:case_id>/contacts/<uid:contact_id>", methods=["DELETE"])
@roles_required(*access.CASES)
@blp.response(200, OkOut)
def delete_contact(case_id, contact_id):
    principal = current_principal()
    with current_platform().engine.begin() as conn:
        service.delete_contact(conn, current_platform(), principal, case_id, contact_id)
    return {"ok": True}


@blp.route("/cases/<uid:case_id>/measures", methods=["POST"])
@roles_required(*access.CASES)
@blp.arguments(MeasureIn())
@blp.response(201, MeasureOut)
def add_measure(data, case_id):
    principal = current_principal()
    with current_platform().engine.begin() as conn:
        return service.save_measure(conn, current_platform(), principal, case_id, _clean(data))


@blp.route("/cases/<uid:case_id>/measures/<uid:measure_id>", methods=["PUT"])
@roles_required(*access.CASES)
@blp.arguments(MeasureIn())
@blp.response(200, MeasureOut)
def edit_measure(data, case_id, measure_id):
    principal = current_principal()
    with current_platform().engine.begin() as conn:
        return service.save_measure(conn, current_platform(), principal, case_id, _clean(data), measure_id=measure_id)


@blp.route("/cases/<uid:case_id>/measures/<uid:measure_id>", methods=["DELETE"])
@roles_required(*access.CASES)
@blp.response(200, OkOut)
def delete_measure(case_id, measure_id):
    principal = current_principal()
    with current_platform().engine.begin() as conn:
        service.delete_measure(conn, current_platform(), principal, case_id, measure_id)
    return {"ok": True}


@blp.route("/cases/<uid:case_id>/parties", methods=["PUT"])
@roles_required(*access.CASES)
@blp.arguments(PartiesIn())
@blp.response(200, OkOut)
def parties(data, case_id):
    """Set mentor and employer (with its contact person for the employer survey)."""
    principal = current_principal()
    with current_platform().engine.begin() as conn:
        service.update_parties(conn, current_platform(), principal, case_id, _clean(data))
    return {"ok": True}


@blp.route("/cases/<uid:case_id>/handover", methods=["POST"])
@roles_required(*access.CASES)
@blp.arguments(HandoverIn())
@blp.response(200, OkOut)
def handover(data, case_id):
    """Hand the case to a colleague in the same office."""
    principal = current_principal()
    with current_platform().engine.begin() as conn:
        service.handover(conn, current_platform(), principal, case_id, data["counsellor_id"])
    return {"ok": True}


@blp.route("/cases/<uid:case_id>/plan", methods=["PUT"])
@roles_required(*access.CASES)
@blp.arguments(PlanIn())
@blp.response(200, OkOut)
def plan(data, case_id):
    """The seven steps with dates, the start meeting and the written plan."""
    principal = current_principal()
    with current_platform().engine.begin() as conn:
        service.update_plan(conn, current_platform(), principal, case_id, _clean(data))
    return {"ok": True}


@blp.route("/cases/<uid:case_id>/closure", methods=["GET"])
@roles_required(*access.CASES)
@blp.response(200, ClosureFormOut, headers=VERSION_HEADERS)
def closure_form(case_id):
    """The closure form prefilled (draft, else the case's answers and the derived tables 5/6), with the case's
    revision (`ETag`, and `revision`) to send back with the submission."""
    principal = current_principal()
    with current_platform().engine.connect() as conn:
        form = service.closure_form(conn, current_platform(), principal.office, case_id)
    return form, 200, {"ETag": version_etag(form["revision"])}


@blp.route("/cases/<uid:case_id>/closure/draft", methods=["PUT"])
@roles_required(*access.CASES)
@blp.arguments(ClosureIn())
@blp.response(200, OkOut)
def save_draft(data, case_id):
    """Save the closure form as typed, to resume later (not validated, nothing sent)."""
    principal = current_principal()
    with current_platform().engine.begin() as conn:
        service.save_draft(conn, current_platform(), principal, case_id, _clean(data))
    return {"ok": True}


@blp.route("/cases/<uid:case_id>/closure", methods=["POST"])
@roles_required(*access.CASES)
@blp.arguments(ClosureSubmitIn())
@blp.response(201, ClosureRecordOut)
@blp.alt_response(428, schema=ErrorOut, description="No version given: send `If-Match` with the case's `ETag` (from "
                  "GET the case or its closure form) or the field `expected_version`")
@blp.alt_response(409, schema=ErrorOut, description="The case changed since that version (a repeat, a race, a "
                  "colleague's change): the message names the current version; read the case again")
def submit_closure(data, case_id):
    """Submit the closure (version 1: case.closed) or a correction (version n+1: case.corrected), on the case's
    revision the counsellor saw (`If-Match: "v7"` or `expected_version: 7`): a repeat or a race gets 409 and makes
    no second version; with the same `Idempotency-Key` it gets the first answer again."""
    principal = current_principal()
    seen = version_seen(principal.office, case_id, data)
    raw = _clean({k: v for k, v in data.items() if k != "expected_version"})
    with current_platform().engine.begin() as conn:
        record = service.submit_closure(conn, current_platform(), principal, case_id, raw, seen)
    # The record as the event carries it, already dumped by the same schema (ClosureRecordOut): not dumped twice.
    return jsonify(record), 201


@blp.route("/overview", methods=["GET"])
@roles_required(*access.OVERVIEW)
@blp.response(200, OverviewOut)
def overview():
    """The local contact's office overview: open cases, closures submitted, overdue."""
    principal = current_principal()
    with current_platform().engine.connect() as conn:
        return service.office_overview(conn, current_platform(), principal.office)


@blp.route("/admin/project-end", methods=["POST"])
@roles_required(*access.PROJECT_END)
@blp.response(200, ProjectEndOut)
def project_end():
    """Admin: submit the project-end status form for every ongoing case ("prosjektslutt, pågående")."""
    principal = current_principal()
    return service.project_end(current_platform(), principal)


@internal.route("/cases/<uid:case_id>/employer-contact", methods=["GET"])
@internal.response(200, EmployerContactOut)
@service_scope_required(access.EMPLOYER_CONTACT_SCOPE)
def employer_contact(case_id):
    """The employer's contact person, for the employer-survey invitation (issue #6): the one contact detail that
    leaves the office. Only a service token (role `service`) with scope `employer-contact:read` (notify's) may ask;
    no person role, admin included. The consent check is notify's: it asks only for a case whose employer granted
    `employer_survey` (consent.granted), at send time, and keeps the answer only in the mail to the survey address.
    Every answer is recorded in intake_disclosures (who, when, which case). 404 unknown case, 409 no contact."""
    with current_platform().engine.begin() as conn:
        return service.employer_contact(conn, current_platform(), current_principal().subject, case_id)
