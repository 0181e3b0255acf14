"""The consent API (bearer token): templates, recording, withdrawal, status, documents (audited)."""
from __future__ import annotations

from flask import Response, render_template, request
from flask_babel import gettext

from shared.limits import human_size
from shared.web import (
    N_,
    ApiBlueprint,
    ErrorOut,
    current_platform,
    current_principal,
    error_response,
    roles_required,
)
from shared.web.preconditions import expected_version, version_etag

from . import access, service
from .domain import Conflict, ConsentInvalid
from .domain.uploads import EXTENSIONS
from .schemas import (
    AddedOut,
    ConsentForm,
    DocumentQuery,
    OverviewOut,
    RecordedOut,
    StatusOut,
    StatusQuery,
    TemplateFileSchema,
    TemplateOut,
    UploadIn,
    WithdrawalIn,
    WithdrawalOut,
    decisions_from_form,
)

blp = ApiBlueprint("consent_api", __name__, url_prefix="/api/v1", description="Signed consents of the office")

VERSION_HEADER = {"ETag": {
    "description": 'The version of the case\'s (or person\'s) consents, e.g. "v3": every form and withdrawal '
                   "registered makes a new one. Send it back as If-Match (or expected_version) to withdraw.",
    "schema": {"type": "string"}}}
IF_MATCH = {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
            "description": 'The ETag of the status or overview the withdrawal is based on ("v3"); or send '
                           "expected_version in the body. One of the two is required."}


def deps():
    return service.deps_from_platform(current_platform())


def register_domain_errors(app):
    @app.errorhandler(ConsentInvalid)
    def _invalid(error):
        return error_response(422, N_("Samtykket ble ikke lagret: rett feltene som er merket."), error.errors)

    @app.errorhandler(Conflict)
    def _conflict(error):
        return error_response(409, error.message)

    @app.errorhandler(413)
    def _too_large(_error):
        message = gettext("Filen er for stor. Største tillatte størrelse er %(limit)s.",
                          limit=human_size(deps().max_upload_bytes))
        if request.path.startswith("/api/"):
            return error_response(413, message, {"document": [message]})
        return render_template("error.html", status=413, message=message), 413


@blp.route("/templates", methods=["GET"])
@roles_required(*access.READ_TEMPLATES)
@blp.response(200, TemplateOut(many=True))
def list_templates():
    """Every template version (purposes, who signs, texts, expiry)."""
    with current_platform().engine.connect() as conn:
        return service.list_templates(conn)


@blp.route("/templates", methods=["POST"])
@roles_required(*access.MANAGE_TEMPLATES)
@blp.arguments(TemplateFileSchema)
@blp.response(200, AddedOut)
def add_templates(data):
    """Admin: add template versions (same layout as deploy/data/consent_templates.json; versions never change)."""
    principal = current_principal()
    platform = current_platform()
    with platform.engine.begin() as conn:
        result = service.load_templates(conn, data["templates"], principal.subject, platform.clock.now())
    return {"added": [f"{p} v{v}" for p, v in result["added"]]}


@blp.route("/consents", methods=["POST"])
@roles_required(*access.RECORD)
@blp.arguments(ConsentForm, location="form")
@blp.arguments(UploadIn, location="files")
@blp.response(201, RecordedOut)
def record(form, files):
    """Record one signed consent form with its scanned document (multipart/form-data)."""
    principal = current_principal()
    upload = files.get("document")
    cmd = {**form, "case_id": str(form["case_id"]) if form.get("case_id") else None,
           "decisions": decisions_from_form(form), "document": upload.read() if upload else None}
    with current_platform().engine.begin() as conn:
        return service.record_consent(conn, deps(), principal.office, principal.subject, cmd)


@blp.route("/withdrawals", methods=["POST"])
@roles_required(*access.WITHDRAW)
@blp.arguments(WithdrawalIn)
@blp.response(201, WithdrawalOut)
@blp.alt_response(428, schema=ErrorOut, description="Neither If-Match nor expected_version: the version of the "
                  "consents the withdrawal is based on is required")
@blp.alt_response(409, schema=ErrorOut, description="The consents changed since that version (a repeated or "
                  "concurrent withdrawal, a form recorded meanwhile), or there is nothing to withdraw")
@blp.doc(parameters=[IF_MATCH])
def withdraw(data):
    """Withdraw consent per purpose or all purposes, for one signer or all; effective at once. Based on the version
    the caller saw (the status's or overview's ETag), so a repeat or a race withdraws once."""
    principal = current_principal()
    cmd = {**data, "case_id": str(data["case_id"]) if data.get("case_id") else None}
    with current_platform().engine.begin() as conn:
        subject = service.withdrawal_subject(conn, principal.office, cmd)  # another office's: 404 before the 428
        seen = expected_version(data)
        return service.withdraw(conn, deps(), principal.office, principal.subject, subject, cmd, seen)


@blp.route("/status", methods=["GET"])
@roles_required(*access.READ_STATUS)
@blp.arguments(StatusQuery, location="query")
@blp.response(200, StatusOut, headers=VERSION_HEADER)
def status(query):
    """May purpose P be used for case X (or person)? Evaluated now, on the platform clock."""
    case_id = str(query["case_id"]) if query.get("case_id") else None
    with current_platform().engine.connect() as conn:
        answer = service.status_of(conn, deps(), current_principal().office, case_id, query.get("subject_ref"),
                                   query["purpose"])
    return answer, {"ETag": version_etag(answer["version"])}


@blp.route("/cases/<uid:case_id>", methods=["GET"])
@roles_required(*access.READ_STATUS)
@blp.response(200, OverviewOut, headers=VERSION_HEADER)
def case_overview(case_id):
    """Per purpose: who must sign, who has signed (names decrypted for the office), what is missing."""
    with current_platform().engine.connect() as conn:
        view = service.subject_view(conn, deps(), current_principal().office, case_id=case_id)
    return view, {"ETag": version_etag(view["version"])}


@blp.route("/persons/<subject_ref>", methods=["GET"])
@roles_required(*access.READ_STATUS)
@blp.response(200, OverviewOut, headers=VERSION_HEADER)
def person_overview(subject_ref):
    """The same for a person of the office (focus-group consents)."""
    with current_platform().engine.connect() as conn:
        view = service.subject_view(conn, deps(), current_principal().office, subject_ref=subject_ref)
    return view, {"ETag": version_etag(view["version"])}


@blp.route("/documents/<uid:document_id>", methods=["GET"])
@roles_required(*access.VIEW_DOCUMENTS)
@blp.arguments(DocumentQuery, location="query")
def document(query, document_id):
    """Open (inline) or download a signed document: local contact only, with a reason; always audited."""
    return serve_document(current_principal(), document_id, query["reason"], query["disposition"])


def serve_document(principal, document_id, reason, disposition):
    with current_platform().engine.begin() as conn:
        row, content = service.open_document(conn, deps(), principal, document_id, reason, disposition)
    filename = f"samtykke-{row['id'][:8]}.{EXTENSIONS[row['content_type']]}"
    response = Response(content, mimetype=row["content_type"])
    response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
