"""Norwegian pages for counsellors and local contacts: case list, opening, the office overview, and the admin's
project end. The case's home page and its parts are in case_pages.py, the sluttskjema in steps in closure_pages.py
(both on this blueprint)."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from shared.auth import require_role
from shared.cases import case_reference
from shared.text import N_
from shared.vocab import codes
from shared.web import current_platform, current_principal, home_url
from shared.web.i18n import vocabulary_label
from shared.web.idempotency import FORM_FIELD, not_replayed
from shared.web.paging import page_of
from shared.web.preconditions import FIELD as VERSION_FIELD

from . import access, service
from .domain import Invalid, NotEligible, states
from .domain.rules import FIELD_LABELS

pages = Blueprint("intake_pages", __name__, template_folder="templates", static_folder="static",
                  static_url_path="/intake-static")

MESSAGES = {  # the pages translate them (status_message, |translated)
    "opprettet": N_("Saken er opprettet."), "kontakt": N_("Kontakten er logget."),
    "kontakt-endret": N_("Kontakten er endret."),
    "kontakt-slettet": N_("Kontakten er slettet (endringen står i historikken)."), "tiltak": N_("Tiltaket er lagret."),
    "tiltak-slettet": N_("Tiltaket er slettet."), "parter": N_("Mentor og arbeidsgiver er lagret."),
    "plan": N_("Stegene og planen er lagret."), "overfort": N_("Saken er overført."),
    "fra-en-side": N_("Sluttskjemaet fylles nå ut i steg. Svarene du sendte fra sluttskjemaet på én side er lagret "
                      "som utkast, men skjemaet er ikke sendt: se over svarene og send det herfra."),
    "fra-en-side-rettes": N_("Sluttskjemaet fylles nå ut i steg. Svarene du sendte fra sluttskjemaet på én side er "
                             "lagret som utkast, unntatt de som er merket her: rett dem. Skjemaet er ikke sendt."),
    "avsluttet": N_("Sluttskjemaet er sendt. Takk!"), "rettet": N_("Rettelsen er sendt som ny versjon."),
}
STEP_TEXT = {
    "1": N_("Kartlegge brukerens ønsker og interesser; drøfte om mentorordning er aktuelt"),
    "2": N_("Finne bedrift (med markedsrådgivere, IA-rådgivere, jobbspesialister)"),
    "3": N_("Kontakte arbeidsgiver og informere om mentorordningen"),
    "4": N_("Finne egnet mentor sammen med arbeidsgiver"),
    "5": N_("Samarbeide tett med mentor"),
    "6": N_("Følge opp arbeidsgiver og bruker som vanlig"),
    "7": N_("Dele erfaringer internt på kontoret (organisasjonslæring)"),
}


# The report's "describe" of a code "other", in each language: the counsellor's pages leave it out.
DESCRIBE = (" (beskriv)", " (describe)")


def counsellor_label(vocabulary: str, code) -> str:
    """A code's label as the counsellor reads it, in the reader's language: "Annet", not "Annet (beskriv)"."""
    if code in (None, ""):
        return "–"
    text = vocabulary_label(vocabulary, code)
    for suffix in DESCRIBE:
        text = text.removesuffix(suffix)
    return text


@pages.app_context_processor
def _helpers():
    # "Annet", not "Annet (beskriv)": the counsellor's pages keep no description (the report's label is the
    # researchers'); labels in the reader's language (shared.web.i18n.vocabulary_label).
    return {"vlabel": counsellor_label,
            "choices": lambda vocabulary: [(code, counsellor_label(vocabulary, code))
                                           for code in codes(vocabulary)],
            "field_labels": FIELD_LABELS, "state_label": lambda s: states.STATE_LABELS.get(s, s),
            "step_text": STEP_TEXT, "case_reference": case_reference,
            "fmt": lambda d: d.strftime("%d.%m.%Y") if d else "–"}


def _member():
    return require_role(current_principal(), *access.CASES)


def _form_dict(list_fields=(), skip=("csrf_token", "action", FORM_FIELD, VERSION_FIELD)) -> dict:
    raw = {}
    for key in request.form:
        if key in skip or key.startswith("success_criteria."):
            continue
        raw[key] = request.form.getlist(key) if key in list_fields else request.form.get(key)
    return {k: v for k, v in raw.items() if v not in ("", None)}


@pages.get("/")
def index():
    principal = current_principal()
    if principal.role not in access.CASES and home_url(principal.role):
        # The site's front page is the case list; whoever works elsewhere (admin, county contact, researcher)
        # lands on their own home page instead of a 403 right after signing in.
        return redirect(home_url(principal.role))
    _member()
    counsellor = request.args.get("veileder") or None
    state = request.args.get("status") or None
    if state not in (None, *states.STATE_LABELS):
        state = None
    platform = current_platform()
    with platform.engine.connect() as conn:
        # an odd ?side shows the first page, like an odd status; past the end the last (shared.web.paging)
        page = page_of(service.count_cases(conn, principal.office, counsellor, state), size=service.PAGE_SIZE)
        rows = service.list_cases(conn, platform, principal.office, counsellor, state, page=page.number,
                                  page_size=page.size)
        names, staff = service.office_staff(conn, platform, principal.office)
        office = platform.directory.office(conn, principal.office)
        needs_closure = request.args.get("trenger") == "sluttskjema"
        # The start page leads with the counsellor's own worklist; a filtered or later page of the office's list
        # is the office's list alone.
        browsing_office = any(request.args.get(key) for key in ("veileder", "status", "side"))
        mine = None if browsing_office else service.worklist(conn, platform, principal.office, principal.subject,
                                                              needs_closure=needs_closure)
    return render_template("intake/index.html", mine=mine, needs_closure=needs_closure,
                           cases=rows, staff=staff, names=names, counsellor=counsellor,
                           state=state, office=office, message=MESSAGES.get(request.args.get("melding")), page=page)


@pages.post("/sok")
@not_replayed
def search():
    principal = _member()
    try:
        with current_platform().engine.connect() as conn:
            ids = service.find_by_national_id(conn, current_platform(), principal.office,
                                              request.form.get("national_id"))
    except Invalid as error:
        return render_template("intake/search.html", ids=None, errors=error.errors), 422
    if len(ids) == 1:
        return redirect(url_for("intake_pages.case_page", case_id=ids[0]))
    return render_template("intake/search.html", ids=ids, errors={})


@pages.route("/saker/ny", methods=["GET", "POST"])
def new_case():
    principal = _member()
    errors, form, rules_failed = {}, {}, []
    if request.method == "POST":
        form = _form_dict(list_fields=("reasons",))
        try:
            with current_platform().engine.begin() as conn:
                case = service.open_case(conn, current_platform(), principal, form)
            return redirect(url_for("intake_pages.case_page", case_id=case["id"], melding="opprettet"))
        except NotEligible as error:
            errors, rules_failed = error.errors, error.rules
        except Invalid as error:
            errors = error.errors
    return render_template("intake/new.html", errors=errors, form=form, rules_failed=rules_failed,
                           today=current_platform().clock.today()), (422 if errors else 200)


@pages.get("/oversikt")
def overview():
    principal = require_role(current_principal(), *access.OVERVIEW)
    platform = current_platform()
    with platform.engine.connect() as conn:
        data = service.office_overview(conn, platform, principal.office)
        page = page_of(len(data["overdue_case_ids"]), size=service.PAGE_SIZE)
        overdue = service.list_cases(conn, platform, principal.office, ids=data["overdue_case_ids"],
                                     page=page.number, page_size=page.size)
        names = service.staff_names(conn, platform, principal.office)
        office = platform.directory.office(conn, principal.office)
    return render_template("intake/overview.html", data=data, overdue=overdue, names=names, office=office, page=page)


@pages.route("/admin", methods=["GET", "POST"])
def admin():
    principal = require_role(current_principal(), *access.PROJECT_END)
    result = None
    if request.method == "POST":
        result = service.project_end(current_platform(), principal)
    with current_platform().engine.connect() as conn:
        project = current_platform().directory.project_settings(conn)
    return render_template("intake/admin.html", result=result, project=project)
