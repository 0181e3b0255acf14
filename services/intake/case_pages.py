"""The case as a home page and short pages, one per part (issue #15 point 2).

The home page (`/saker/<id>`) says which case this is (its reference), its state, the consents per purpose as
consent has them, the seven steps of the hybrid model as progress and what is next in the worklist's words; it
links to one page per part: employer and mentor, steps and plan, the contact log, measures, handover and history.
Each part's form is alone on its page, so saving one part can never drop what was typed in another, and a mistake
is shown on the part's own page with what was typed. Deleting a contact or a measure asks first on a page that
names it (WCAG 3.3.4); a GET never deletes.
"""
from __future__ import annotations

from datetime import date

from flask import abort, current_app, redirect, render_template, request, url_for

from shared.web import current_platform
from shared.web.i18n import N_, vocabulary_label

from . import service
from .domain import Conflict, Invalid, states
from .pages import MESSAGES, _form_dict, _member, pages
from .peers import PeerUnavailable
from .privacy_api import caller_token

# Consent's words for a purpose's state (as its own pages show them).
CONSENT_STATES = {"granted": N_("Gitt"), "missing": N_("Mangler signatur"), "refused": N_("Ikke samtykket"),
                  "withdrawn": N_("Trukket tilbake"), "expired": N_("Utløpt"),
                  "not_applicable": N_("Gjelder ikke saken"), "no_template": N_("Ingen mal")}
# The states a signature recorded on consent's page can change: the home page links there to record it.
NEEDS_SIGNATURE = ("missing", "expired")
STEP_COUNT = 7


def _consents(case_id) -> dict:
    """Consent's answer for the page: {"purposes": [...] | None (case not there yet), "unavailable": bool}."""
    try:
        purposes = current_app.extensions["privacy_peers"].case_consents(caller_token(), case_id)
    except PeerUnavailable:
        return {"purposes": None, "unavailable": True, "needs_signature": False}
    for purpose in purposes or []:
        purpose["label"] = vocabulary_label("consent_purpose", purpose["purpose"])
        purpose["state_label"] = CONSENT_STATES.get(purpose["state"], purpose["state"])
        purpose["missing_labels"] = [vocabulary_label("signer_role", r) for r in purpose["missing_roles"]] \
            if purpose["state"] in NEEDS_SIGNATURE else []
    return {"purposes": purposes, "unavailable": False,
            "needs_signature": any(p["state"] in NEEDS_SIGNATURE for p in purposes or [])}


def _steps(case: dict) -> list[dict]:
    """The seven steps with their dates: done (a date), the first not done is the current one while the case is
    active, the rest are still to do."""
    dates = case["steps"] or {}
    current = next((n for n in range(1, STEP_COUNT + 1) if not dates.get(str(n))), None) \
        if case["state"] in states.ACTIVE else None
    return [{"number": n, "done_on": date.fromisoformat(dates[str(n)]) if dates.get(str(n)) else None,
             "status": "completed" if dates.get(str(n)) else ("active" if n == current else "uncompleted")}
            for n in range(1, STEP_COUNT + 1)]


def _render(template: str, case_id, errors=None, form=None, status=200, conflict=None, **extra):
    principal = _member()
    platform = current_platform()
    with platform.engine.connect() as conn:
        view = service.case_view(conn, platform, principal.office, case_id)
        names, staff = service.office_staff(conn, platform, principal.office)
        if template == "case.html":
            extra["next"] = service.next_step(conn, platform, principal.office, view)
    if "contact_id" in extra:
        extra["contact"] = _contact(view, extra.pop("contact_id"))
    if "measure_id" in extra:
        extra["measure"] = _measure(view, extra.pop("measure_id"))
    if template == "case.html":
        extra["consents"] = _consents(view["id"])
    return render_template(f"intake/{template}", case=view, names=names, staff=staff, errors=errors or {},
                           form=form or {}, conflict=conflict, steps=_steps(view), today=platform.clock.today(),
                           active=view["state"] in states.ACTIVE, message=MESSAGES.get(request.args.get("melding")),
                           **extra), status


def _contact(view: dict, contact_id) -> dict:
    """A live contact of the case (404 otherwise: another case's id, or one deleted already)."""
    found = next((c for c in view["contacts"] if str(c["id"]) == str(contact_id)), None)
    if found is None:
        abort(404)
    return found


def _measure(view: dict, measure_id) -> dict:
    """A live measure of the case (404 otherwise: another case's id, or one deleted already)."""
    found = next((m for m in view["measures"] if str(m["id"]) == str(measure_id)), None)
    if found is None:
        abort(404)
    return found


def _save(case_id, change, message: str, template: str, target: str, list_fields=(), **extra):
    """Run one part's change; on bad input show the part's page again with what was typed and the errors, on a
    conflict (a closed case) with the reason; else to `target` with the success message."""
    principal = _member()
    form = _form_dict(list_fields=list_fields)
    try:
        with current_platform().engine.begin() as conn:
            change(conn, principal, form)
    except Invalid as error:
        return _render(template, case_id, errors=error.errors, form=form, status=422, **extra)
    except Conflict as error:
        return _render(template, case_id, form=form, status=409, conflict=error.message, **extra)
    return redirect(url_for(target, case_id=case_id, melding=message))


# ------------------------------------------------------------------ the home page
@pages.get("/saker/<uid:case_id>")
def case_page(case_id):
    if request.args.get("endre"):  # an older link to a contact's edit form on the one-page case
        return redirect(url_for("intake_pages.contact_page", case_id=case_id, contact_id=request.args["endre"]))
    return _render("case.html", case_id)


# ------------------------------------------------------------------ employer and mentor
@pages.get("/saker/<uid:case_id>/parter")
def parties_page(case_id):
    return _render("case_parties.html", case_id)


@pages.post("/saker/<uid:case_id>/parter")
def parties(case_id):
    return _save(case_id, lambda c, p, f: service.update_parties(c, current_platform(), p, case_id, f), "parter",
                 "case_parties.html", "intake_pages.case_page")


# ------------------------------------------------------------------ the seven steps and the plan
@pages.get("/saker/<uid:case_id>/plan")
def plan_page(case_id):
    return _render("case_plan.html", case_id)


@pages.post("/saker/<uid:case_id>/plan")
def plan(case_id):
    return _save(case_id, lambda c, p, f: service.update_plan(c, current_platform(), p, case_id, f), "plan",
                 "case_plan.html", "intake_pages.case_page")


# ------------------------------------------------------------------ the contact log
@pages.get("/saker/<uid:case_id>/kontakter")
def contacts_page(case_id):
    return _render("case_contacts.html", case_id)


@pages.post("/saker/<uid:case_id>/kontakter")
def add_contact(case_id):
    return _save(case_id, lambda c, p, f: service.save_contact(c, current_platform(), p, case_id, f), "kontakt",
                 "case_contacts.html", "intake_pages.contacts_page")


@pages.get("/saker/<uid:case_id>/kontakter/<uid:contact_id>")
def contact_page(case_id, contact_id):
    return _render("case_contact.html", case_id, contact_id=str(contact_id))


@pages.post("/saker/<uid:case_id>/kontakter/<uid:contact_id>")
def edit_contact(case_id, contact_id):
    return _save(case_id, lambda c, p, f: service.save_contact(c, current_platform(), p, case_id, f,
                                                               contact_id=contact_id),
                 "kontakt-endret", "case_contact.html", "intake_pages.contacts_page", contact_id=str(contact_id))


@pages.get("/saker/<uid:case_id>/kontakter/<uid:contact_id>/slett")
def delete_contact_page(case_id, contact_id):
    """Asks before a contact is deleted, naming its date, who and how (WCAG 3.3.4)."""
    return _render("case_contact_delete.html", case_id, contact_id=str(contact_id))


@pages.post("/saker/<uid:case_id>/kontakter/<uid:contact_id>/slett")
def delete_contact(case_id, contact_id):
    return _save(case_id, lambda c, p, f: service.delete_contact(c, current_platform(), p, case_id, contact_id),
                 "kontakt-slettet", "case_contact_delete.html", "intake_pages.contacts_page",
                 contact_id=str(contact_id))


# ------------------------------------------------------------------ measures
@pages.get("/saker/<uid:case_id>/tiltak")
def measures_page(case_id):
    return _render("case_measures.html", case_id)


@pages.post("/saker/<uid:case_id>/tiltak")
def add_measure(case_id):
    return _save(case_id, lambda c, p, f: service.save_measure(c, current_platform(), p, case_id, f), "tiltak",
                 "case_measures.html", "intake_pages.measures_page")


@pages.get("/saker/<uid:case_id>/tiltak/<uid:measure_id>/slett")
def delete_measure_page(case_id, measure_id):
    """Asks before a measure is deleted, naming it and its dates (WCAG 3.3.4)."""
    return _render("case_measure_delete.html", case_id, measure_id=str(measure_id))


@pages.post("/saker/<uid:case_id>/tiltak/<uid:measure_id>/slett")
def delete_measure(case_id, measure_id):
    return _save(case_id, lambda c, p, f: service.delete_measure(c, current_platform(), p, case_id, measure_id),
                 "tiltak-slettet", "case_measure_delete.html", "intake_pages.measures_page",
                 measure_id=str(measure_id))


# ------------------------------------------------------------------ handover and history
@pages.get("/saker/<uid:case_id>/overfor")
def handover_page(case_id):
    return _render("case_handover.html", case_id)


@pages.post("/saker/<uid:case_id>/overfor")
def handover(case_id):
    return _save(case_id, lambda c, p, f: service.handover(c, current_platform(), p, case_id, f.get("counsellor_id")),
                 "overfort", "case_handover.html", "intake_pages.case_page")


@pages.get("/saker/<uid:case_id>/historikk")
def history_page(case_id):
    return _render("case_history.html", case_id)
