"""The consent API (bearer token): templates, recording, withdrawal, status, documents (audited)."""
from __future__ import annotations

from flask import Response
from flask_smorest.fields import Upload
from marshmallow import Schema, fields

from shared.web import ApiBlueprint, current_platform, current_principal, error_response, roles_required

from . import access, audit, domain
from .schemas import (
    ConsentForm,
    DocumentQuery,
    RecordedOut,
    StatusOut,
    StatusQuery,
    TemplateFileSchema,
    TemplateOut,
    WithdrawalIn,
    WithdrawalOut,
    decisions_from_form,
)
from .uploads import EXTENSIONS, human_size

blp = ApiBlueprint("consent_api", __name__, url_prefix="/api/v1", description="Signed consents of the office")


class UploadSchema(Schema):
    document = Upload(load_default=None)


class AddedOut(Schema):
    added = fields.List(fields.String())


def deps():
    return domain.deps_from_platform(current_platform())


def register_domain_errors(app):
    @app.errorhandler(domain.ConsentInvalid)
    def _invalid(error):
        return error_response(422, "Samtykket ble ikke lagret: rett feltene som er merket.", error.errors)

    @app.errorhandler(domain.Conflict)
    def _conflict(error):
        return error_response(409, error.message)

    @app.errorhandler(413)
    def _too_large(_error):
        message = f"Filen er for stor. Største tillatte størrelse er {human_size(deps().max_upload_bytes)}."
        from flask import render_template, request
        if request.path.startswith("/api/"):
            return error_response(413, message, {"document": [message]})
        return render_template("error.html", status=413, message=message), 413


@blp.route("/templates", methods=["GET"])
@roles_required(*access.READ_TEMPLATES)
@blp.response(200, TemplateOut(many=True))
def list_templates():
    """Every template version (purposes, who signs, texts, expiry)."""
    with current_platform().engine.connect() as conn:
        return domain.list_templates(conn)


@blp.route("/templates", methods=["POST"])
@roles_required(*access.MANAGE_TEMPLATES)
@blp.arguments(TemplateFileSchema)
@blp.response(200, AddedOut)
def add_templates(data):
    """Admin: add template versions (same layout as deploy/data/consent_templates.json; versions never change)."""
    principal = current_principal()
    platform = current_platform()
    with platform.engine.begin() as conn:
        result = domain.load_templates(conn, data["templates"], principal.subject, platform.clock.now())
    return {"added": [f"{p} v{v}" for p, v in result["added"]]}


@blp.route("/consents", methods=["POST"])
@roles_required(*access.RECORD)
@blp.arguments(ConsentForm, location="form")
@blp.arguments(UploadSchema, location="files")
@blp.response(201, RecordedOut)
def record(form, files):
    """Record one signed consent form with its scanned document (multipart/form-data)."""
    principal = current_principal()
    upload = files.get("document")
    cmd = {**form, "case_id": str(form["case_id"]) if form.get("case_id") else None,
           "decisions": decisions_from_form(form), "document": upload.read() if upload else None}
    with current_platform().engine.begin() as conn:
        return domain.record_consent(conn, deps(), principal.office, principal.subject, cmd)


@blp.route("/withdrawals", methods=["POST"])
@roles_required(*access.WITHDRAW)
@blp.arguments(WithdrawalIn)
@blp.response(201, WithdrawalOut)
def withdraw(data):
    """Withdraw consent per purpose or all purposes, for one signer or all; effective at once."""
    principal = current_principal()
    cmd = {**data, "case_id": str(data["case_id"]) if data.get("case_id") else None}
    with current_platform().engine.begin() as conn:
        return domain.withdraw(conn, deps(), principal.office, principal.subject, cmd)


@blp.route("/status", methods=["GET"])
@roles_required(*access.READ_STATUS)
@blp.arguments(StatusQuery, location="query")
@blp.response(200, StatusOut)
def status(query):
    """May purpose P be used for case X (or person)? Evaluated now, on the platform clock."""
    principal = current_principal()
    d = deps()
    case_id = str(query["case_id"]) if query.get("case_id") else None
    with current_platform().engine.connect() as conn:
        if bool(case_id) == bool(query.get("subject_ref")):
            raise domain.ConsentInvalid({"case_id": ["Oppgi enten case_id eller subject_ref."]})
        case = domain.owned_case(conn, case_id, principal.office) if case_id else None
        if not case_id:
            domain.owned_person(conn, d, query["subject_ref"], principal.office)
        key = domain.subject_key(case_id, query.get("subject_ref"))
        evaluation = domain.evaluate(conn, case, key, query["purpose"], d.clock.today())
    return {"case_id": case_id, "subject_ref": query.get("subject_ref"), "purpose": query["purpose"],
            "granted": evaluation.granted, "state": evaluation.state, "missing_roles": evaluation.missing_roles,
            "expires_on": evaluation.expires_on, "template_version": evaluation.template_version}


@blp.route("/cases/<uid:case_id>", methods=["GET"])
@roles_required(*access.READ_STATUS)
def case_overview(case_id):
    """Per purpose: who must sign, who has signed (names decrypted for the office), what is missing."""
    principal = current_principal()
    d = deps()
    with current_platform().engine.connect() as conn:
        case = domain.owned_case(conn, case_id, principal.office)
        return _overview(conn, d, case, case["case_id"], "case", principal.office)


@blp.route("/persons/<subject_ref>", methods=["GET"])
@roles_required(*access.READ_STATUS)
def person_overview(subject_ref):
    principal = current_principal()
    d = deps()
    with current_platform().engine.connect() as conn:
        domain.owned_person(conn, d, subject_ref, principal.office)
        return _overview(conn, d, None, domain.subject_key(None, subject_ref), "person", principal.office)


def _overview(conn, d, case, key, kind, office):
    evaluations = domain.overview(conn, case, key, d.clock.today(), kind)
    records = domain.records_of(conn, d, key, office)
    return {
        "subject_key": key,
        "purposes": [{"purpose": e.purpose, "state": e.state, "granted": e.granted, "expires_on": _iso(e.expires_on),
                      "missing_roles": e.missing_roles,
                      "signatures": [{"slot": s.slot.key, "state": s.state} for s in e.slots]} for e in evaluations],
        "records": [{"id": r["id"], "signer_role": r["signer_role"], "signer_name": r["signer_name"],
                     "signed_on": r["signed_on"].isoformat(), "method": r["method"],
                     "decisions": [{"purpose": x["purpose"], "decision": x["decision"],
                                    "template_version": x["template_version"], "withdrawn": x["withdrawn_at"] is not None}
                                   for x in r["decisions"]],
                     "documents": [{"id": x["id"], "content_type": x["content_type"], "size_bytes": x["size_bytes"]}
                                   for x in r["documents"]]} for r in records],
    }


def _iso(value):
    return value.isoformat() if value else None


@blp.route("/documents/<uid:document_id>", methods=["GET"])
@roles_required(*access.VIEW_DOCUMENTS)
@blp.arguments(DocumentQuery, location="query")
def document(query, document_id):
    """Open (inline) or download a signed document: local contact only, with a reason; always audited."""
    principal = current_principal()
    return serve_document(principal, document_id, query["reason"], query["disposition"])


def serve_document(principal, document_id, reason, disposition):
    platform = current_platform()
    d = deps()
    with platform.engine.begin() as conn:
        row = domain.owned_document(conn, document_id, principal.office)
        audit.append(conn, principal.office, platform.clock.now(), principal.subject, principal.role,
                     "document." + ("download" if disposition == "attachment" else "view"), row["id"],
                     row["record_id"], reason)
        content = domain.open_document(d, row)
    filename = f"samtykke-{row['id'][:8]}.{EXTENSIONS[row['content_type']]}"
    response = Response(content, mimetype=row["content_type"])
    response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
