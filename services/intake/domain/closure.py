"""The closure form: validation (every problem at once, field by field, Norwegian), prefill, and the record.

Rules beyond "each field is a known code":
- the closure date is not before the case was opened and not after today; no contact or measure starts after it
- **a case without the mentor measure** (no mentor was ever registered, mentor relation "none") is closed with
  the reason `mentor_measure_not_started`, and its closure date is the date it was decided not to use a mentor;
  that reason is refused for a case that has a mentor; the candidate's feedback on the mentor is then "ikke gitt"
- `project_end` is not a reason a counsellor picks: only the project-end status form uses it
- "AG er mentor" as a contact frequency only in the employer column, and only when the manager is the mentor
- per party (candidate, mentor: the report's table 5): with contacts with that party logged, its intensity and at
  least one contact form are required; the duration is never "ikke avsluttet" on a closure
- the record's case-level `intensity` and `forms` are the whole log's (every party, the employer too), derived and
  not asked: the counsellor confirms the per-party answers
- every success criterion of the current list version is assessed
"""
from __future__ import annotations

from datetime import date

from shared.text import N_, Term, Text
from shared.vocab import codes, label

from . import rules
from .rules import add

SUMMARY_FIELDS = ("frequency_candidate", "frequency_mentor", "frequency_employer", "intensity_candidate",
                  "intensity_mentor", "forms_candidate", "forms_mentor", "duration")
PARTIES = ("candidate", "mentor")  # the parties of table 5: intensity and forms asked per party
LIST_FIELDS = {"reasons": "reason", "forms_candidate": "contact_form", "forms_mentor": "contact_form"}
TABLE1_FIELDS = ("industry", "initiator", "reasons", "counsellor_knew_company", "attachment_before")
FORM_FIELDS = ("closed_on", "closure_reason", "attachment_after", "attached_same_company", "feedback_mentor",
               "feedback_counsellor") + TABLE1_FIELDS + SUMMARY_FIELDS + ("success_criteria",)
VOCAB_OF = {"industry": "industry", "initiator": "initiator", "counsellor_knew_company": "yes_no",
            "attachment_before": "attachment_before", "closure_reason": "closure_reason",
            "attachment_after": "attachment_after", "attached_same_company": "yes_no_unknown",
            "feedback_mentor": "feedback", "feedback_counsellor": "feedback",
            "frequency_candidate": "contact_frequency", "frequency_mentor": "contact_frequency",
            "frequency_employer": "contact_frequency", "intensity_candidate": "contact_intensity",
            "intensity_mentor": "contact_intensity", "duration": "duration"}


def criterion_field(code: str) -> str:
    return f"success_criteria.{code}"


def validate_draft(raw: dict, criteria: dict) -> tuple[dict | None, dict]:
    """Check a closure draft field by field, as the closure checks each field, with every field optional and no
    rule between fields (a draft is unfinished): a date, known codes, known criteria with known assessments.
    Returns (the draft as stored, {}) or (None, errors); nothing else is kept, so no free text reaches it."""
    errors: dict[str, list[str]] = rules.unknown_fields(raw, FORM_FIELDS + ("list_version",))
    draft = {}
    closed_on = rules.a_date(errors, "closed_on", raw.get("closed_on"), required=False)
    if closed_on:
        draft["closed_on"] = closed_on.isoformat()
    for field, vocabulary in VOCAB_OF.items():
        value = rules.code(errors, field, vocabulary, raw.get(field), required=False)
        if value:
            draft[field] = value
    for field, vocabulary in LIST_FIELDS.items():
        values = rules.codes_list(errors, field, vocabulary, raw.get(field), required=False)
        if values:
            draft[field] = values
    assessed = _assessed_criteria(errors, raw.get("success_criteria"), criteria)
    if assessed:
        draft["success_criteria"] = assessed
    version = raw.get("list_version")
    if version not in (None, "", criteria["version"]):
        add(errors, "success_criteria", Text(N_("Kriterielisten er byttet til versjon {version}: last skjemaet på nytt "
                                                "og vurder kriteriene."), version=criteria["version"]))
    elif version:
        draft["list_version"] = version
    return (None, errors) if errors else (draft, {})


def _assessed_criteria(errors, given, criteria) -> dict:
    """The criteria assessed so far: each a criterion of the current list with a known assessment (blank: left out)."""
    if rules.blank(given) or given == {}:
        return {}
    if not isinstance(given, dict):
        add(errors, "success_criteria", N_("Må være en oversikt over kriterier og vurderinger."))
        return {}
    known = {c["code"] for c in criteria["criteria"]}
    assessed = {}
    for code_, value in given.items():
        if code_ not in known:
            add(errors, "success_criteria", Text(N_("Ukjent suksesskriterium {code}."), code=rules.quoted(code_)))
        elif rules.blank(value):
            continue
        elif value not in codes("success_assessment"):
            add(errors, criterion_field(code_), Text(N_("Ukjent vurdering {value}."), value=rules.quoted(value)))
        else:
            assessed[code_] = value
    return assessed


def validate(raw: dict, case: dict, contacts: list[dict], measures: list[dict], derived: dict, criteria: dict,
             today: date) -> tuple[dict | None, dict]:
    """Check a submitted closure form; returns (clean values, {}) or (None, errors) with every problem."""
    errors: dict[str, list[str]] = rules.unknown_fields(raw, FORM_FIELDS + ("list_version",))
    v = {}
    opened_on = case["opened_on"]
    v["closed_on"] = rules.a_date(errors, "closed_on", raw.get("closed_on"), not_after=today, not_before=opened_on,
                                  not_before_text=Text(N_("Avslutningsdatoen kan ikke være før saken ble opprettet "
                                                          "({date})."), date=opened_on.strftime("%d.%m.%Y")))
    allowed_reasons = [c for c in codes("closure_reason") if c != "project_end"]
    v["closure_reason"] = rules.code(errors, "closure_reason", "closure_reason", raw.get("closure_reason"),
                                     allowed=allowed_reasons)
    for field in ("attachment_after", "attached_same_company", "feedback_mentor", "feedback_counsellor",
                  "industry", "initiator", "counsellor_knew_company", "attachment_before", "duration"):
        v[field] = rules.code(errors, field, VOCAB_OF[field], raw.get(field))
    v["reasons"] = rules.codes_list(errors, "reasons", "reason", raw.get("reasons"))
    no_manager = [c for c in codes("contact_frequency") if c != "employer_is_mentor"]
    v["frequency_candidate"] = rules.code(errors, "frequency_candidate", "contact_frequency",
                                          raw.get("frequency_candidate"), allowed=no_manager)
    v["frequency_mentor"] = rules.code(errors, "frequency_mentor", "contact_frequency", raw.get("frequency_mentor"),
                                       allowed=no_manager)
    employer_allowed = codes("contact_frequency") if case["mentor_relation"] == "manager" else no_manager
    v["frequency_employer"] = rules.code(errors, "frequency_employer", "contact_frequency",
                                         raw.get("frequency_employer"), allowed=employer_allowed)
    logged = {c["party"] for c in contacts if not c.get("deleted")}
    for party in PARTIES:
        v[f"intensity_{party}"] = rules.code(errors, f"intensity_{party}", "contact_intensity",
                                             raw.get(f"intensity_{party}"), required=party in logged)
        v[f"forms_{party}"] = rules.codes_list(errors, f"forms_{party}", "contact_form", raw.get(f"forms_{party}"),
                                               required=party in logged)

    # The mentor-measure rule: a case without a mentor is closed as "mentor measure not started".
    mentor_used = case["mentor_relation"] != "none"
    if v["closure_reason"] and not mentor_used and v["closure_reason"] != "mentor_measure_not_started":
        add(errors, "closure_reason", N_("Saken har ingen mentor: velg «Mentortiltaket ble ikke tatt i bruk», og bruk "
                                         "datoen da det ble bestemt å ikke bruke mentor som avslutningsdato."))
    if v["closure_reason"] == "mentor_measure_not_started" and mentor_used:
        add(errors, "closure_reason", N_("Saken har en registrert mentor, så mentortiltaket ble tatt i bruk. "
                                         "Velg en annen årsak."))
    if not mentor_used and v["feedback_mentor"] and v["feedback_mentor"] != "not_given":
        add(errors, "feedback_mentor", N_("Saken har ingen mentor: velg «Ikke gitt»."))
    if v["duration"] == "not_closed":
        add(errors, "duration", N_("«Ikke avsluttet» brukes bare i status ved prosjektslutt."))
    if v["attachment_after"] == "no_attachment" and v["attached_same_company"] == "yes":
        add(errors, "attached_same_company", N_("Brukeren har ingen tilknytning etter avslutning, og kan da ikke "
                                                "være tilknyttet samme bedrift."))
    if v["closed_on"]:
        later = [c["contact_date"] for c in contacts if not c.get("deleted") and c["contact_date"] > v["closed_on"]]
        if later:
            add(errors, "closed_on", Text(N_("Det er logget kontakt etter avslutningsdatoen ({date}). Rett datoen "
                                             "eller kontaktloggen."), date=max(later).strftime("%d.%m.%Y")))
        started = [m["from_date"] for m in measures if not m.get("deleted") and m["from_date"] > v["closed_on"]]
        if started:
            add(errors, "closed_on",
                Text(N_("Et tiltak starter etter avslutningsdatoen ({date})."), date=min(started).strftime("%d.%m.%Y")))

    v["success_criteria"] = _criteria(errors, raw, criteria)
    if errors:
        return None, errors
    v["list_version"] = criteria["version"]
    return v, {}


def _criteria(errors, raw, criteria):
    given = raw.get("success_criteria") or {}
    if not isinstance(given, dict):
        add(errors, "success_criteria", N_("Må være en oversikt over kriterier og vurderinger."))
        return None
    version = raw.get("list_version")
    if version not in (None, "", criteria["version"]):
        add(errors, "success_criteria", Text(N_("Kriterielisten er byttet til versjon {version}: last skjemaet på nytt "
                                                "og vurder kriteriene."), version=criteria["version"]))
    known = {c["code"] for c in criteria["criteria"]}
    for code in sorted(set(given) - known):
        add(errors, criterion_field(code), Text(N_("Ukjent suksesskriterium {code}."), code=rules.quoted(code)))
    result = {}
    for criterion in criteria["criteria"]:
        field = criterion_field(criterion["code"])
        value = given.get(criterion["code"])
        if rules.blank(value):
            add(errors, field, Text(N_("Vurder kriteriet «{criterion}»."), criterion=Term(criterion)))
        elif value not in codes("success_assessment"):
            add(errors, field, Text(N_("Ukjent kode {value} for kriteriet «{criterion}»."), value=rules.quoted(value),
                                    criterion=Term(criterion)))
        else:
            result[criterion["code"]] = value
    return result


def prefill(case: dict, derived: dict, draft: dict | None, today: date) -> dict:
    """The form as first shown: the saved draft if any, else table-1 answers from the case and derived summaries."""
    values = {
        "closed_on": today.isoformat(),
        "closure_reason": "" if case["mentor_relation"] != "none" else "mentor_measure_not_started",
        "attachment_after": "", "attached_same_company": "",
        "feedback_mentor": "" if case["mentor_relation"] != "none" else "not_given",
        "feedback_counsellor": "",
        "industry": case["industry"], "initiator": case["initiator"], "reasons": list(case["reasons"]),
        "counsellor_knew_company": case["counsellor_knew_company"], "attachment_before": case["attachment_before"],
        "frequency_candidate": derived["frequency_candidate"], "frequency_mentor": derived["frequency_mentor"],
        "frequency_employer": derived["frequency_employer"],
        "intensity_candidate": derived["intensity_candidate"] or "",
        "intensity_mentor": derived["intensity_mentor"] or "",
        "forms_candidate": list(derived["forms_candidate"]), "forms_mentor": list(derived["forms_mentor"]),
        "duration": derived["duration"] if derived["duration"] != "not_closed" else "",
        "success_criteria": {},
    }
    if draft:
        values.update({k: v for k, v in draft.items() if k in FORM_FIELDS})
    return values


def project_end_values(case: dict, derived: dict, draft: dict | None, today: date, criteria: dict) -> dict:
    """The status form at project end for an ongoing case: what is known, the rest as "unknown"-like codes.

    Taken from the case and the derivations; a saved closure draft's valid answers win (the counsellor's own
    assessment so far). Defaults where nothing is known: attachment "fortsatt i mentortiltak" when a mentor is
    registered (else "vet ikke"), same company "vet ikke", feedback "ikke gitt", each success criterion
    "ikke relevant" (the list has no "unknown"), duration "ikke avsluttet", status date = today.
    """
    mentor = case["mentor_relation"] != "none"
    values = {
        "closed_on": today, "closure_reason": "project_end",
        "attachment_after": "still_in_mentor_measure" if mentor else "unknown",
        "attached_same_company": "unknown", "feedback_mentor": "not_given", "feedback_counsellor": "not_given",
        "industry": case["industry"], "initiator": case["initiator"], "reasons": list(case["reasons"]),
        "counsellor_knew_company": case["counsellor_knew_company"], "attachment_before": case["attachment_before"],
        **{k: derived[k] for k in SUMMARY_FIELDS},
        "success_criteria": {c["code"]: "not_relevant" for c in criteria["criteria"]},
        "list_version": criteria["version"],
    }
    for field, value in (draft or {}).items():
        vocabulary = VOCAB_OF.get(field)
        if field in ("attachment_after", "attached_same_company", "feedback_mentor", "feedback_counsellor") \
                and isinstance(value, str) and value in codes(vocabulary):
            values[field] = value
    assessed = (draft or {}).get("success_criteria") or {}
    if isinstance(assessed, dict):
        for code_, value in assessed.items():
            if code_ in values["success_criteria"] and value in codes("success_assessment"):
                values["success_criteria"][code_] = value
    return values


def record(case: dict, values: dict, measures: list[dict], derived: dict, version: int) -> dict:
    """The ClosureRecord payload (shared.events.case): codes, dates, hashes and ids; nothing personal."""
    return {
        "case_id": case["id"], "version": version, "candidate_hash": case["candidate_hash"],
        "counsellor_id": case["counsellor_id"], "mentor_id": case["mentor_id"], "employer_hash": case["employer_hash"],
        "opened_on": case["opened_on"], "closed_on": values["closed_on"], "closure_reason": values["closure_reason"],
        "entry_point": case["entry_point"], "industry": values["industry"], "initiator": values["initiator"],
        "reasons": values["reasons"], "counsellor_knew_company": values["counsellor_knew_company"],
        "attachment_before": values["attachment_before"], "mentor_relation": case["mentor_relation"],
        "mentor_measure_used": case["mentor_relation"] != "none",
        "measures": [{"measure": m["measure"], "from_date": m["from_date"], "to_date": m["to_date"]}
                     for m in measures if not m.get("deleted")],
        "contact": {**{k: values[k] for k in SUMMARY_FIELDS},
                    "intensity": derived["intensity"], "forms": list(derived["forms"]),
                    "contacts_logged": derived["contacts_logged"], "minutes_total": derived["minutes_total"]},
        "attachment_after": values["attachment_after"], "attached_same_company": values["attached_same_company"],
        "success_criteria": {"list_version": values["list_version"], "assessments": values["success_criteria"]},
        "feedback_mentor": values["feedback_mentor"], "feedback_counsellor": values["feedback_counsellor"],
    }


def values_from_record(record: dict) -> dict:
    """A submitted record back into form values (to correct it)."""
    values = {k: record[k] for k in ("closed_on", "closure_reason", "attachment_after", "attached_same_company",
                                     "feedback_mentor", "feedback_counsellor", "industry", "initiator", "reasons",
                                     "counsellor_knew_company", "attachment_before")}
    if values["closure_reason"] == "project_end":
        values["closure_reason"] = ""
        values["closed_on"] = None
    # a record from before the per-party answers has none: those questions are asked again, prefilled from the log
    values.update({k: record["contact"].get(k) for k in SUMMARY_FIELDS})
    if values["duration"] == "not_closed":
        values["duration"] = ""
    values["success_criteria"] = dict(record["success_criteria"]["assessments"])
    return {k: v for k, v in values.items() if v is not None}


def describe(vocabulary: str, value) -> str:
    if value in (None, ""):
        return "–"
    return label(vocabulary, value)
