"""The local contact's privacy page (/personvern), Norwegian: access request, erasure with confirmation, receipt.

The national ID is posted (never in a URL); a malformed number, nobody found (another office's person included) or
an unconfirmed erasure re-shows the form with the message at the field and changes nothing.
"""
from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Response, current_app, redirect, render_template, request, url_for
from werkzeug.exceptions import Conflict as VersionConflict

from shared.auth import require_role
from shared.text import Text
from shared.web import N_, current_platform, current_principal
from shared.web.idempotency import not_replayed
from shared.web.preconditions import expected_version

from . import access, privacy, service
from .domain import Invalid
from .pages import pages
from .peers import PeerUnavailable
from .privacy_api import caller_token

LABELS = {"national_id": N_("Fødselsnummer eller D-nummer"), "confirm": N_("Bekreftelse")}
KIND_LABELS = {
    "cases": N_("saker"), "contacts": N_("kontakter i loggen"), "measures": N_("tiltak"),
    "closures": N_("sluttskjema"), "history": N_("historikkrader"), "disclosures": N_("utleveringer"),
    "outbox_events": N_("sendte hendelser"), "records": N_("samtykkeskjema"), "decisions": N_("samtykkesvar"),
    "documents": N_("skannede dokumenter"), "withdrawals": N_("tilbaketrekkinger"),
    "status": N_("samtykkestatuser"), "audit_entries": N_("oppslag i revisjonsloggen"),
    "reminders": N_("påminnelser"), "notifications": N_("varsler"), "mails": N_("e-poster"),
    "schedule": N_("saksplaner"), "consents": N_("samtykkestatuser"),
}
ACTION_LABELS = {"access_export": N_("Innsyn"), "erasure": N_("Sletting"), "retention": N_("Oppbevaringsfrist")}
HISTORY_LABELS = {
    "opened": N_("Opprettet"), "contact_logged": N_("Kontakt logget"), "contact_edited": N_("Kontakt endret"),
    "contact_deleted": N_("Kontakt slettet"), "measure_added": N_("Tiltak lagt til"),
    "measure_changed": N_("Tiltak endret"), "measure_deleted": N_("Tiltak slettet"),
    "parties_changed": N_("Mentor/arbeidsgiver endret"), "handed_over": N_("Overført"),
    "plan_updated": N_("Plan oppdatert"), "closed": N_("Avsluttet"), "corrected": N_("Avslutning rettet"),
    "project_end_status": N_("Status ved prosjektslutt"),
}
AUDIT_LABELS = {"document.view": N_("vist"), "document.download": N_("lastet ned"),
                "access_export": N_("utlevert ved innsyn")}
OSLO = ZoneInfo("Europe/Oslo")


@pages.app_template_filter("dato")
def _norwegian_date(value):
    """A date (or an ISO string from the access document) as dd.mm.yyyy."""
    if not value:
        return "–"
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return f"{text[8:10]}.{text[5:7]}.{text[:4]}"


@pages.app_template_filter("tidspunkt")
def _norwegian_time(value):
    """A UTC time (or ISO string) as dd.mm.yyyy HH:MM in Norwegian time."""
    if not value:
        return "–"
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(OSLO).strftime("%d.%m.%Y %H:%M")


def _names(office):
    with current_platform().engine.connect() as conn:
        return service.staff_names(conn, current_platform(), office)


def _local_contact():
    return require_role(current_principal(), *access.PRIVACY)


def _start(errors=None, alert=None, status=200, national_id=""):
    principal = _local_contact()
    platform = current_platform()
    with platform.engine.connect() as conn:
        recent = privacy.recent_requests(conn, principal.office)
        names = service.staff_names(conn, platform, principal.office)
        office = platform.directory.office(conn, principal.office)
    return render_template("intake/privacy.html", errors=errors or {}, alert=alert, labels=LABELS,
                           national_id=national_id, recent=recent, action_labels=ACTION_LABELS,
                           names=names, office=office), status


@pages.get("/personvern")
def privacy_start():
    return _start()


@pages.post("/personvern/innsyn")
@not_replayed  # the answer is the person's whole file: never kept for a repeat
def privacy_access():
    principal = _local_contact()
    national_id = request.form.get("national_id", "")
    platform = current_platform()
    try:
        document = privacy.access_request(platform, current_app.extensions["privacy_peers"], principal,
                                          caller_token(), national_id)
    except Invalid as error:
        return _start(errors=error.errors, status=422, national_id=national_id)
    except privacy.NobodyFound:
        return _start(errors={"national_id": [privacy.NOBODY]}, status=404, national_id=national_id)
    except PeerUnavailable as error:
        return _start(alert=Text(N_("Innsynet kunne ikke lages: {reason}"), reason=error.message), status=503,
                      national_id=national_id)
    if request.form.get("format") == "json":
        body = json.dumps(document, ensure_ascii=False, indent=1)
        return Response(body, mimetype="application/json", headers={
            "Content-Disposition": f'attachment; filename="innsyn-{document["request_id"][:8]}.json"'})
    return render_template("intake/privacy_access.html", doc=document, national_id=national_id,
                           kind_labels=KIND_LABELS, history_labels=HISTORY_LABELS, audit_labels=AUDIT_LABELS,
                           names=_names(principal.office))


@pages.post("/personvern/sletting")
def privacy_erase():
    """First post: the confirmation page (what will be deleted, and its version); second post (step=confirm): the
    erasure of what that page showed (`expected_version`: 428 without it, 409 with the page again when the person's
    cases changed meanwhile)."""
    principal = _local_contact()
    national_id = request.form.get("national_id", "")
    platform = current_platform()
    confirming = request.form.get("step") == "confirm"
    try:
        if confirming:
            seen = expected_version()
            with platform.engine.begin() as conn:
                result = privacy.erase(conn, platform, principal, national_id, request.form.get("confirm") == "ja",
                                       seen)
            return redirect(url_for("intake_pages.privacy_receipt", request_id=result["request_id"]))
        return _confirm_page(principal, national_id, {}, 200)
    except privacy.NobodyFound:
        return _start(errors={"national_id": [privacy.NOBODY]}, status=404, national_id=national_id)
    except VersionConflict as error:
        errors, status = {"confirm": [error.description]}, 409
    except Invalid as error:
        if not (confirming and set(error.errors) == {"confirm"}):
            return _start(errors=error.errors, status=422, national_id=national_id)
        errors, status = error.errors, 422
    try:  # the confirmation again, as the person's cases are now
        return _confirm_page(principal, national_id, errors, status)
    except privacy.NobodyFound:  # erased meanwhile
        return _start(errors={"national_id": [privacy.NOBODY]}, status=404, national_id=national_id)


def _confirm_page(principal, national_id, errors, status):
    """What an erasure of the person deletes here, as of now, with the version its form names."""
    platform = current_platform()
    with platform.engine.connect() as conn:
        case_ids = privacy.person_case_ids(conn, platform, principal.office, national_id)
        summary = privacy.export_cases(conn, platform, principal.office, case_ids)
        version = privacy.person_version(conn, principal.office, case_ids)
        policy = privacy.withdrawal_policy(conn, platform)
    return render_template("intake/privacy_erase.html", national_id=national_id, cases=summary, version=version,
                           counts=privacy.intake_counts(summary), kind_labels=KIND_LABELS, errors=errors,
                           labels=LABELS, registry_text=privacy.REGISTRY_ON_ERASURE[policy]), status


@pages.get("/personvern/sletting/<uid:request_id>")
def privacy_receipt(request_id):
    principal = _local_contact()
    status = privacy.erasure_status(current_platform(), current_app.extensions["privacy_peers"], principal,
                                    caller_token(), request_id)
    return render_template("intake/privacy_receipt.html", status=status, kind_labels=KIND_LABELS,
                           names=_names(principal.office))
