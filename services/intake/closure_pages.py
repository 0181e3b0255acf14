"""The closure form (sluttskjema) in steps: a few questions per page, each step saved as the encrypted draft as the
counsellor goes, the opening's answers as a summary with "Endre", the answers derived from the log shown with
their basis for the counsellor to confirm, then a check-answers page that says what sending does and carries the
case version seen, and a receipt saying what happens next. The one-page form's old address is kept only so that
nothing typed there is lost (`closure_one_page`).

Every answer's rules are the closure's own (`domain.closure.validate`): a step shows the errors of its own
questions, in the order they are asked, with the questions' own wording.
"""
from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import Conflict as VersionConflict

from shared.dates import shown as shown_date
from shared.web import N_, current_platform, translate
from shared.web.i18n import localized
from shared.web.keeping import kept_form_here

from . import service
from .api import version_seen
from .domain import Conflict, Invalid, derive, rules, states
from .domain import closure as closure_rules
from .pages import MESSAGES, _member, counsellor_label, pages

QUESTIONS = {
    "closed_on": N_("Avslutningsdato"),
    "closure_reason": N_("Hvorfor avsluttes saken?"),
    "attachment_after": N_("Hvilken tilknytning til arbeidslivet har brukeren nå?"),
    "attached_same_company": N_("Er brukeren fortsatt i samme bedrift som under tiltaket?"),
    "frequency_candidate": N_("Hvor ofte hadde du kontakt med brukeren?"),
    "intensity_candidate": N_("Når i perioden hadde du mest kontakt med brukeren?"),
    "forms_candidate": N_("Hvordan hadde du kontakt med brukeren?"),
    "frequency_mentor": N_("Hvor ofte hadde du kontakt med mentoren?"),
    "intensity_mentor": N_("Når i perioden hadde du mest kontakt med mentoren?"),
    "forms_mentor": N_("Hvordan hadde du kontakt med mentoren?"),
    "frequency_employer": N_("Hvor ofte hadde du kontakt med arbeidsgiveren?"),
    "duration": N_("Hvor lenge varte tiltaket?"),
    "feedback_mentor": N_("Hva syntes brukeren om mentoren?"),
    "feedback_counsellor": N_("Hva syntes brukeren om deg som veileder?"),
    "industry": N_("Bransje"),
    "initiator": N_("Hvem tok initiativ til tiltaket?"),
    "attachment_before": N_("Brukerens tilknytning til bedriften før tiltaket"),
    "counsellor_knew_company": N_("Kjente du bedriften fra før?"),
    "reasons": N_("Hvorfor fikk brukeren tiltaket?"),
}
# (slug, heading, questions); the criteria of the current list join the assessment step's questions at run time.
STEPS = (
    ("avslutning", N_("Avslutning"), ("closed_on", "closure_reason", "attachment_after", "attached_same_company")),
    ("kontakt", N_("Kontakt underveis"), ("frequency_candidate", "intensity_candidate", "forms_candidate",
                                          "frequency_mentor", "intensity_mentor", "forms_mentor",
                                          "frequency_employer", "duration")),
    ("vurdering", N_("Vurdering"), ("success_criteria", "feedback_mentor", "feedback_counsellor")),
)
OPENING = ("oppstart", N_("Opplysninger fra oppstart"), closure_rules.TABLE1_FIELDS)
STEP_BY_SLUG = {slug: (slug, heading, fields) for slug, heading, fields in (*STEPS, OPENING)}
LIST_FIELDS = tuple(closure_rules.LIST_FIELDS)
PARTY_OF = {"frequency_candidate": "candidate", "frequency_mentor": "mentor", "frequency_employer": "employer"}
SUMMARY_STEP = "oppsummering"


def _criteria_fields(criteria: dict) -> list[str]:
    return [closure_rules.criterion_field(c["code"]) for c in criteria["criteria"]]


def _field_order(step_fields, criteria) -> list[str]:
    order = []
    for name in step_fields:
        order.extend(["success_criteria", *_criteria_fields(criteria)] if name == "success_criteria" else [name])
    return order


def _labels(criteria) -> dict:
    return {**QUESTIONS, **{closure_rules.criterion_field(c["code"]): localized(c) for c in criteria["criteria"]},
            "success_criteria": N_("Suksesskriterier")}


def _context(case_id):
    principal = _member()
    platform = current_platform()
    with platform.engine.connect() as conn:
        ctx = service.closure_context(conn, platform, principal.office, case_id)
        ctx["reference"] = service.case_reference(ctx["case"]["id"])
        ctx["candidate_name"] = service.case_view(conn, platform, principal.office, case_id)["candidate_name"]
    return principal, platform, ctx


def _party_counts(contacts) -> dict:
    live = [c for c in contacts if not c.get("deleted")]
    return {party: sum(1 for c in live if c["party"] == party) for party in ("candidate", "mentor", "employer")}


def _values(ctx) -> dict:
    """The answers as shown: the draft's, else the latest version's, else the case's and the derived ones; a
    frequency with no logged contact to rest on is left for the counsellor (never "Aldri" as if known)."""
    values = service.prefilled_values(ctx)
    kept = ctx["draft"] or {}
    counts = _party_counts(ctx["contacts"])
    if not ctx["latest"]:
        for name, party in PARTY_OF.items():
            if name not in kept and counts[party] == 0 and values.get(name) == "never":
                values[name] = ""
    return values


def _basis(ctx, values) -> dict:
    """What each derived answer rests on, in words, for the kontakt step and the summary."""
    counts = _party_counts(ctx["contacts"])
    start = derive.period_start(ctx["case"]["opened_on"], ctx["measures"])
    closed = values.get("closed_on")
    end = rules.parse_date(closed) if isinstance(closed, str) else closed
    days = (end - start).days if end else None
    months = round(days / derive.DAYS_PER_MONTH, 1) if days is not None else None
    period = gettext("fra %(start)s til %(end)s (%(days)s dager, om lag %(months)s måneder)",
                     start=start.strftime("%d.%m.%Y"), end=end.strftime("%d.%m.%Y"), days=days,
                     months=str(months).replace(".", ",")) if end else None

    def contacts(n, who):
        logged = ngettext("%(num)d kontakt med %(who)s logget", "%(num)d kontakter med %(who)s logget", n, who=who)
        return logged + (f" {period}" if period else "")

    def spread(n, who):
        return ngettext("%(num)d kontakt med %(who)s i loggen fordelt over perioden",
                        "%(num)d kontakter med %(who)s i loggen fordelt over perioden", n, who=who)
    return {
        "frequency_candidate": contacts(counts["candidate"], gettext("brukeren")),
        "frequency_mentor": contacts(counts["mentor"], gettext("mentoren")),
        "frequency_employer": (gettext("Arbeidsgiveren er mentor.") if ctx["case"]["mentor_relation"] == "manager"
                               else contacts(counts["employer"], gettext("arbeidsgiveren"))),
        "intensity_candidate": spread(counts["candidate"], gettext("brukeren")),
        "intensity_mentor": spread(counts["mentor"], gettext("mentoren")),
        "forms_candidate": gettext("Kontaktformene med %(who)s som står i loggen", who=gettext("brukeren")),
        "forms_mentor": gettext("Kontaktformene med %(who)s som står i loggen", who=gettext("mentoren")),
        "duration": (gettext("Perioden %(period)s", period=period) if period
                     else gettext("Fyll inn avslutningsdatoen først, så regnes varigheten ut.")),
    }


def _posted(step_fields) -> dict:
    """This step's answers from the posted form (a blank answer is an answer removed)."""
    posted = {}
    for name in step_fields:
        if name == "success_criteria":
            posted[name] = {key.split(".", 1)[1]: value for key, value in request.form.items()
                            if key.startswith("success_criteria.") and value}
        elif name in LIST_FIELDS:
            posted[name] = [v for v in request.form.getlist(name) if v]
        else:
            posted[name] = request.form.get(name, "").strip()
    return posted


def _earlier_answers(ctx) -> dict:
    """The answers a step's save goes over: the saved draft's, else the sent version's (a correction keeps the
    answers of the steps it does not change), less what the draft no longer takes (a replaced criteria list)."""
    earlier = ctx["draft"] or (ctx["latest"] and closure_rules.values_from_record(ctx["latest"])) or {}
    earlier = {k: v for k, v in earlier.items() if k in closure_rules.FORM_FIELDS and v not in ("", [], {}, None)}
    return _without_refused(earlier, closure_rules.validate_draft(earlier, ctx["criteria"])[1])


def _new_draft(ctx, posted) -> dict:
    draft = _earlier_answers(ctx)
    for name, value in posted.items():
        if value in ("", [], {}, None):
            draft.pop(name, None)
        else:
            draft[name] = value
    draft["list_version"] = ctx["criteria"]["version"]
    return draft


def _step_errors(ctx, values, order) -> dict:
    """The closure's own errors for this step's questions, in the order they are asked."""
    raw = {k: v for k, v in values.items() if k in closure_rules.FORM_FIELDS}
    raw["list_version"] = ctx["criteria"]["version"]
    _, errors = closure_rules.validate(raw, ctx["case"], ctx["contacts"], ctx["measures"], ctx["derived"],
                                       ctx["criteria"], ctx["today"])
    return {name: errors[name] for name in order if name in errors}


def _done(ctx, values) -> dict:
    """Which steps are answered (for the progress list and where to start)."""
    draft = ctx["draft"] or {}
    return {slug: not _step_errors(ctx, values, _field_order(fields, ctx["criteria"])) and (
        slug != "kontakt" or "frequency_candidate" in draft or bool(ctx["latest"])) for slug, _, fields in STEPS}


def _render_step(ctx, step, values, errors, status=200, message=None):
    slug, heading, fields = step
    return render_template(
        "intake/closure_step.html", case=ctx["case"], reference=ctx["reference"], ctx=ctx, step=slug,
        heading=translate(heading), steps=STEPS,
        number=[s[0] for s in STEPS].index(slug) + 1 if slug != OPENING[0] else None,
        done=_done(ctx, values), values=values, errors=errors, labels=_labels(ctx["criteria"]),
        questions={name: translate(text) for name, text in QUESTIONS.items()}, basis=_basis(ctx, values),
        criteria=ctx["criteria"],
        criterion_field=closure_rules.criterion_field, back_to=request.args.get("fra"),
        correcting=ctx["case"]["state"] == states.CLOSED,
        message=message or MESSAGES.get(request.args.get("melding"))), status


def _first_open(ctx) -> str:
    done = _done(ctx, _values(ctx))
    return next((slug for slug, _, _ in STEPS if not done[slug]), SUMMARY_STEP)


@pages.get("/saker/<uid:case_id>/sluttskjema")
def closure_start(case_id):
    """The first step not answered yet, else the check-answers page (resuming a draft lands where it left off)."""
    _, _, ctx = _context(case_id)
    return redirect(url_for("intake_pages.closure_step", case_id=case_id, step=_first_open(ctx)))


@pages.route("/saker/<uid:case_id>/sluttskjema/<step>", methods=["GET", "POST"])
def closure_step(case_id, step):
    _member()  # who may ask comes before which steps exist
    if step == SUMMARY_STEP:
        return closure_summary(case_id)
    if step not in STEP_BY_SLUG:
        abort(404)
    principal, platform, ctx = _context(case_id)
    slug, _, fields = STEP_BY_SLUG[step]
    if request.method == "GET":
        return _render_step(ctx, STEP_BY_SLUG[step], _values(ctx), {})
    posted = _posted(fields)
    draft = _new_draft(ctx, posted)
    try:
        with platform.engine.begin() as conn:
            service.save_draft(conn, platform, principal, case_id, draft)
    except Invalid as error:  # a value the draft refuses (a forged code): shown at its question, nothing saved
        order = _field_order(fields, ctx["criteria"])
        values = {**_values(ctx), **posted}
        return _render_step(ctx, STEP_BY_SLUG[step], values,
                            {n: error.errors[n] for n in [*order, *error.errors] if n in error.errors}, 422)
    with platform.engine.connect() as conn:
        ctx = {**service.closure_context(conn, platform, principal.office, case_id),
               "reference": ctx["reference"], "candidate_name": ctx["candidate_name"]}
    values = _values(ctx)
    errors = _step_errors(ctx, values, _field_order(fields, ctx["criteria"]))
    if errors:
        return _render_step(ctx, STEP_BY_SLUG[step], values, errors, 422)
    slugs = [s[0] for s in STEPS]
    if request.args.get("fra") == SUMMARY_STEP or slug == OPENING[0] or slug == slugs[-1]:
        target = SUMMARY_STEP
    else:
        target = slugs[slugs.index(slug) + 1]
    return redirect(url_for("intake_pages.closure_step", case_id=case_id, step=target))


def _summary_rows(ctx, values):
    """(step slug, heading, [(field, question, answer)]) per part of the form, as the check-answers page lists it."""
    def answer(name):
        value = values.get(name)
        if name == "closed_on":
            return shown_date(value)  # as typed where it is no date (answers kept from the one-page form)
        if name in LIST_FIELDS:
            vocabulary = closure_rules.LIST_FIELDS[name]
            return ", ".join(_label(vocabulary, v) for v in value or [])
        return _label(closure_rules.VOCAB_OF[name], value) if value else ""

    parts = [(OPENING[0], translate(OPENING[1]), [(n, translate(QUESTIONS[n]), answer(n)) for n in OPENING[2]])]
    for slug, heading, fields in STEPS:
        rows = []
        for name in fields:
            if name == "success_criteria":
                assessed = values.get("success_criteria") or {}
                rows.extend((closure_rules.criterion_field(c["code"]), localized(c),
                             _label("success_assessment", assessed[c["code"]]) if assessed.get(c["code"])
                             else "") for c in ctx["criteria"]["criteria"])
            else:
                rows.append((name, translate(QUESTIONS[name]), answer(name)))
        parts.append((slug, translate(heading), rows))
    return parts


def _label(vocabulary, code) -> str:
    """A code's label as the counsellor reads it: "Annet", not "Annet (beskriv)" (nothing is described here)."""
    return counsellor_label(vocabulary, code)


def closure_summary(case_id, errors=None, status=200):
    _, _, ctx = _context(case_id)
    values = _values(ctx)
    if errors is None and request.method == "GET":
        errors = {}
    step_of = {}
    for slug, _, fields in (*STEPS, OPENING):
        for name in _field_order(fields, ctx["criteria"]):
            step_of[name] = slug
    return render_template("intake/closure_summary.html", case=ctx["case"], reference=ctx["reference"], ctx=ctx,
                           parts=_summary_rows(ctx, values), errors=errors or {}, step_of=step_of,
                           labels=_labels(ctx["criteria"]), steps=STEPS, done=_done(ctx, values),
                           correcting=ctx["case"]["state"] == states.CLOSED,
                           message=MESSAGES.get(request.args.get("melding"))), status


@pages.post("/saker/<uid:case_id>/sluttskjema/send")
def closure_send(case_id):
    principal, platform, ctx = _context(case_id)
    seen = version_seen(principal.office, case_id)
    raw = {k: v for k, v in _values(ctx).items() if k in closure_rules.FORM_FIELDS}
    raw["list_version"] = ctx["criteria"]["version"]
    try:
        with platform.engine.begin() as conn:
            record = service.submit_closure(conn, platform, principal, case_id, raw, seen)
    except Invalid as error:
        order = [n for slug, _, fields in (*STEPS, OPENING) for n in _field_order(fields, ctx["criteria"])]
        return closure_summary(case_id, {n: error.errors[n] for n in [*order, *error.errors] if n in error.errors},
                               422)
    except (Conflict, VersionConflict) as error:  # sent already, or changed since the page was shown
        message = error.message if isinstance(error, Conflict) else error.description
        return closure_summary(case_id, {"expected_version": [message]}, 409)
    return redirect(url_for("intake_pages.closure_receipt", case_id=case_id, versjon=record["version"]))


@pages.get("/saker/<uid:case_id>/sluttskjema/kvittering")
def closure_receipt(case_id):
    _, _, ctx = _context(case_id)
    return render_template("intake/closure_receipt.html", case=ctx["case"], reference=ctx["reference"],
                           candidate_name=ctx["candidate_name"])


# ------------------------------------------------ the one-page form's old address (retired: services/intake/README.md)
def _step_of(criteria) -> dict:
    return {name: slug for slug, _, fields in (*STEPS, OPENING) for name in _field_order(fields, criteria)}


def _one_page_answers(form: MultiDict) -> dict:
    """The answers the one-page form sent, as a draft holds them; a blank answer is no answer (not one removed)."""
    answers = {}
    for name in closure_rules.FORM_FIELDS:
        if name == "success_criteria":
            value = {key.split(".", 1)[1]: value for key, value in form.items()
                     if key.startswith("success_criteria.") and value}
        elif name in LIST_FIELDS:
            value = [v for v in form.getlist(name) if v]
        else:
            value = (form.get(name) or "").strip()
        if value:
            answers[name] = value
    return answers


def _without_refused(answers: dict, errors: dict) -> dict:
    kept = {name: value for name, value in answers.items() if name not in errors}
    refused_criteria = {name.split(".", 1)[1] for name in errors if name.startswith("success_criteria.")}
    if "success_criteria" in kept:
        kept["success_criteria"] = {c: v for c, v in kept["success_criteria"].items() if c not in refused_criteria}
    return kept


@pages.route("/saker/<uid:case_id>/avslutning", methods=["GET", "POST"])
def closure_one_page(case_id):
    """The one-page closure form's old address. The form is gone (the steps are the one way to fill it in), but a
    link, a bookmark or a tab left open may still come here: a visit lands on the first open step; answers sent
    from the old page are saved as the draft the steps then show, never sent from here (the check-answers page
    sends); an answer the draft refuses (a date typed wrong) is shown as typed at its step's question. Answers kept
    when the session ended on the old page wait on a page of their own until the person saves them."""
    principal, platform, ctx = _context(case_id)
    if request.method == "GET":
        kept = kept_form_here()
        if kept is None:
            return redirect(url_for("intake_pages.closure_step", case_id=case_id, step=_first_open(ctx)))
        answers = _one_page_answers(MultiDict(kept["fields"]))
        return render_template("intake/closure_one_page.html", case=ctx["case"], reference=ctx["reference"],
                               parts=_summary_rows(ctx, {**_values(ctx), **answers}), fields=kept["fields"],
                               correcting=ctx["case"]["state"] == states.CLOSED)
    answers = _one_page_answers(request.form)
    # Answers to another list of success criteria than the current one are refused as the draft refuses them.
    _, errors = closure_rules.validate_draft({**answers, "list_version": request.form.get("list_version")},
                                             ctx["criteria"])
    saved = _without_refused(answers, errors)
    draft = _earlier_answers(ctx)
    draft.update({name: value for name, value in saved.items() if name != "success_criteria"})
    if saved.get("success_criteria"):
        draft["success_criteria"] = {**draft.get("success_criteria", {}), **saved["success_criteria"]}
    draft["list_version"] = ctx["criteria"]["version"]
    with platform.engine.begin() as conn:
        service.save_draft(conn, platform, principal, case_id, draft)
    if not errors:
        return redirect(url_for("intake_pages.closure_step", case_id=case_id, step=_first_open(_context(case_id)[2]),
                                melding="fra-en-side"))
    with platform.engine.connect() as conn:
        ctx = {**service.closure_context(conn, platform, principal.office, case_id),
               "reference": ctx["reference"], "candidate_name": ctx["candidate_name"]}
    step_of = _step_of(ctx["criteria"])
    first = next((step_of[name] for name in step_of if name in errors), STEPS[0][0])
    # Shown as typed at its question; criteria assessed against another list are asked again, not shown.
    refused = {name: value for name, value in answers.items()
               if name in errors and name != "success_criteria" and step_of.get(name) == first}
    order = _field_order(STEP_BY_SLUG[first][2], ctx["criteria"])
    return _render_step(ctx, STEP_BY_SLUG[first], {**_values(ctx), **refused},
                        {name: errors[name] for name in order if name in errors}, 422,
                        message=MESSAGES["fra-en-side-rettes"])
