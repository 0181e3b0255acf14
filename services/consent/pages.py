"""Norwegian pages: the office's cases, per case who has signed what and what is missing, upload, view, withdraw."""
from __future__ import annotations

import json

from flask import Blueprint, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import Conflict as StaleVersion

from shared.auth import require_role
from shared.cases import case_code
from shared.dates import DATE_FORMAT_MESSAGE, parse_date
from shared.text import Text
from shared.web import N_, current_platform, current_principal, translate
from shared.web.i18n import vocabulary_label
from shared.web.idempotency import FORM_FIELD, not_replayed
from shared.web.paging import page_of
from shared.web.preconditions import expected_version

from . import access, service, withdrawal_pages
from .api import deps, serve_document
from .domain import Conflict, ConsentInvalid
from .domain.signers import offered_signer_roles, slot_label
from .domain.uploads import UploadRefused, sniff_document
from .domain.withdrawal import DATA_POLICY_TEXT
from .schemas import ConsentPageForm, TemplateFileSchema, decisions_from_form

pages = Blueprint("consent_pages", __name__)

FIELD_LABELS = {"signer_role": N_("Hvem signerte"), "signer_name": N_("Navn på den som signerte"),
                "signer_national_id": N_("Fødselsnummer"), "signed_on": N_("Signert dato"),
                "method": N_("Signeringsmåte"), "decisions": N_("Svar per formål"),
                "document": N_("Skannet samtykkeerklæring"), "case_id": N_("Sak"), "purposes": N_("Formål"),
                "requested_on": N_("Dato for tilbaketrekking"), "reason": N_("Begrunnelse"),
                "templates": N_("Malfil"), "version": N_("Versjon")}
STATE_LABELS = {"granted": N_("Gitt"), "missing": N_("Mangler signatur"), "refused": N_("Ikke samtykket"),
                "withdrawn": N_("Trukket tilbake"), "expired": N_("Utløpt"),
                "not_applicable": N_("Gjelder ikke saken"), "no_template": N_("Ingen mal")}
MESSAGES = {"lagret": N_("Samtykket er lagret (kryptert)."),
            "trukket": N_("Samtykket er trukket tilbake med virkning nå.")}
# A browser never fills a file field in again: after any other error the scan must be chosen anew.
CHOOSE_FILE_AGAIN = N_("Filen er ikke lagret fordi skjemaet hadde feil. Velg filen på nytt.")
_NOT_CONSENT_FIELDS = ("csrf_token", FORM_FIELD)


@pages.app_context_processor
def _helpers():
    return {"state_label": lambda s: translate(STATE_LABELS.get(s, s)),
            "purpose_label": lambda p: vocabulary_label("consent_purpose", p),
            "role_label": lambda r: vocabulary_label("signer_role", r),
            "slot_label": lambda slot: translate(slot_label(slot)), "field_labels": FIELD_LABELS,
            "case_code": case_code}  # the case named as intake's case page names it (shared.cases)


@pages.get("/")
def index():
    principal = current_principal()
    if access.manages_templates(principal):
        return redirect(url_for("consent_pages.template_list"))
    require_role(principal, *access.READ_STATUS)
    with current_platform().engine.connect() as conn:
        page = page_of(service.count_office_cases(conn, principal.office))
        view = service.office_view(conn, deps(), principal.office, page.offset, page.size)
    return render_template("consent/index.html", page=page, **view)


def _ids(kind, ref):
    return {"case_id": ref} if kind == "case" else {"subject_ref": ref}


def _subject(kind, ref):
    principal = require_role(current_principal(), *access.READ_STATUS)
    with current_platform().engine.connect() as conn:
        return principal, service.owned_subject(conn, principal.office, **_ids(kind, ref))


def _render_subject(kind, ref, errors=None, form=None, withdraw_errors=None, withdraw_form=None, status=200):
    principal = require_role(current_principal(), *access.READ_STATUS)
    d = deps()
    with current_platform().engine.connect() as conn:
        view = service.subject_view(conn, d, principal.office, **_ids(kind, ref))
    subject, evaluations = view["subject"], view["purposes"]
    return render_template(
        "consent/subject.html", kind=kind, ref=ref, case=subject.case, person=subject.person,
        evaluations=evaluations, records=view["records"], errors=errors or {}, form=form or {},
        withdraw_errors=withdraw_errors or {}, withdraw_form=withdraw_form or MultiDict(), version=view["version"],
        signer_roles=[(r, vocabulary_label("signer_role", r)) for r in offered_signer_roles(subject.case)],
        purposes=[e.purpose for e in evaluations], today=d.clock.today(),
        can_view_documents=access.sees_documents(principal), message=MESSAGES.get(request.args.get("melding")),
        policy_text=DATA_POLICY_TEXT.get(request.args.get("policy", "")),
    ), status


@pages.get("/saker/<uid:case_id>")
def case_page(case_id):
    return _render_subject("case", case_id)


@pages.get("/personer/<subject_ref>")
def person_page(subject_ref):
    return _render_subject("person", subject_ref)


def _page_url(kind, ref, **args):
    endpoint = "consent_pages.case_page" if kind == "case" else "consent_pages.person_page"
    return url_for(endpoint, **_ids(kind, ref), **args)


def _record(kind, ref):
    principal, subject = _subject(kind, ref)
    require_role(principal, *access.RECORD)
    d = deps()
    raw = {k: v for k, v in request.form.items() if k not in _NOT_CONSENT_FIELDS and v.strip() != ""}
    upload = request.files.get("document")
    content = upload.read() if upload and upload.filename else None
    try:
        form = ConsentPageForm().load(raw)
    except ValidationError as error:
        errors = {k: v if isinstance(v, list) else [str(v)] for k, v in error.messages.items()}
        errors = {("decisions" if k.startswith("decision_") else k): v for k, v in errors.items()}
        try:  # say everything that is wrong at once, the document included
            sniff_document(content, d.max_upload_bytes)
        except UploadRefused as refused:
            errors["document"] = [refused.message]
        return _refused_record(kind, ref, errors, raw, file_chosen=content is not None)
    cmd = {**form, "case_id": subject.case_id, "subject_ref": subject.subject_ref,
           "decisions": decisions_from_form(form), "document": content}
    try:
        with current_platform().engine.begin() as conn:
            service.record_consent(conn, d, principal.office, principal.subject, cmd)
    except ConsentInvalid as error:
        return _refused_record(kind, ref, error.errors, raw, file_chosen=content is not None)
    return redirect(_page_url(kind, ref, melding="lagret"))


def _refused_record(kind, ref, errors, typed, file_chosen):
    """The form again with what was typed in it; a file chosen but not refused itself is asked for again."""
    if file_chosen and "document" not in errors:
        errors = {**errors, "document": [CHOOSE_FILE_AGAIN]}
    return _render_subject(kind, ref, errors=errors, form=typed, status=422)


def _withdraw(kind, ref):
    principal, subject = _subject(kind, ref)
    require_role(principal, *access.WITHDRAW)
    seen = expected_version()  # the version of the consents the page showed; 428 without it
    everything = request.form.get("all_purposes") == "yes"
    purposes = request.form.getlist("purposes")
    errors = {}
    if not everything and not purposes:
        errors["purposes"] = [N_("Velg hvilke formål som trekkes tilbake, eller «Alle formål».")]
    requested = request.form.get("requested_on") or None
    requested_on = parse_date(requested) if requested else None
    if requested and requested_on is None:
        errors["requested_on"] = [DATE_FORMAT_MESSAGE]
    if errors:
        return _render_subject(kind, ref, withdraw_errors=errors, withdraw_form=request.form, status=422)
    cmd = {"case_id": subject.case_id, "subject_ref": subject.subject_ref,
           "signer_role": request.form.get("signer_role") or None,
           "purposes": [] if everything else purposes, "requested_on": requested_on}
    try:
        if not withdrawal_pages.confirmed():  # what will change, named, before it happens
            return withdrawal_pages.confirm_page(kind, ref, principal, subject, cmd, seen)
        with current_platform().engine.begin() as conn:
            result = service.withdraw(conn, deps(), principal.office, principal.subject, subject, cmd, seen)
    except ConsentInvalid as error:
        return _render_subject(kind, ref, withdraw_errors=error.errors, withdraw_form=request.form, status=422)
    except Conflict as error:  # nothing left to withdraw
        return _render_subject(kind, ref, withdraw_errors={"purposes": [error.message]}, withdraw_form=request.form,
                               status=409)
    except StaleVersion as error:  # the consents changed since the page was shown: shown again as they are now
        return _render_subject(kind, ref, withdraw_errors={"purposes": [error.description]},
                               withdraw_form=request.form, status=409)
    return redirect(_page_url(kind, ref, melding="trukket", policy=result["data_policy"]))


@pages.post("/saker/<uid:case_id>/samtykke")
def case_record(case_id):
    return _record("case", case_id)


@pages.post("/personer/<subject_ref>/samtykke")
def person_record(subject_ref):
    return _record("person", subject_ref)


@pages.post("/saker/<uid:case_id>/trekk-tilbake")
def case_withdraw(case_id):
    return _withdraw("case", case_id)


@pages.post("/personer/<subject_ref>/trekk-tilbake")
def person_withdraw(subject_ref):
    return _withdraw("person", subject_ref)


@pages.route("/dokumenter/<uid:document_id>", methods=["GET", "POST"])
@not_replayed  # the answer is the scan itself, never kept; a repeat is one more audited opening
def document_page(document_id):
    """Ask why, then show: every opening of a document is logged with the reason."""
    principal = require_role(current_principal(), *access.VIEW_DOCUMENTS)
    with current_platform().engine.connect() as conn:
        row = service.find_document(conn, principal.office, document_id)
    errors = {}
    if request.method == "POST":
        reason = (request.form.get("reason") or "").strip()
        disposition = "attachment" if request.form.get("download") == "yes" else "inline"
        if len(reason) < 5:
            errors["reason"] = [N_("Skriv hvorfor du åpner dokumentet (minst 5 tegn). Alle åpninger logges.")]
        else:
            return serve_document(principal, document_id, reason, disposition)
    return render_template("consent/document.html", document=row, errors=errors), (422 if errors else 200)


@pages.route("/maler", methods=["GET", "POST"])
def template_list():
    principal = require_role(current_principal(), *access.READ_TEMPLATES)
    platform = current_platform()
    errors, message = {}, None
    status = 200
    if request.method == "POST":
        require_role(principal, *access.MANAGE_TEMPLATES)
        upload = request.files.get("templates")
        try:
            data = TemplateFileSchema().load(json.loads(upload.read() if upload else b""))
            with platform.engine.begin() as conn:
                result = service.load_templates(conn, data["templates"], principal.subject, platform.clock.now())
            message = Text(N_("{added} nye malversjoner lagt til, {unchanged} uendret."),
                           added=len(result["added"]), unchanged=len(result["unchanged"]))
        except (ValueError, ValidationError) as error:
            if isinstance(error, ConsentInvalid):
                errors = error.errors
            elif isinstance(error, ValidationError):
                errors = {"templates": [json.dumps(error.messages, ensure_ascii=False)]}
            else:
                errors = {"templates": [N_("Filen er ikke gyldig JSON.")]}
            status = 422
    with platform.engine.connect() as conn:
        templates = service.list_templates(conn)
    return render_template("consent/templates.html", templates=templates, errors=errors, message=message,
                           can_manage=access.manages_templates(principal)), status
