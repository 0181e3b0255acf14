"""From a validated closure payload to the registry's row: pseudonyms, coarsened dates, codes only (the rules of
what a researcher may receive)."""
from __future__ import annotations

from shared.vocab import ATTACHED_OUTCOMES

from .periods import coarsen

KIND_BY_EVENT = {"case.closed": "closed", "case.corrected": "corrected", "case.project_end_status": "project_end"}

# The report's summary of table 1 (ch. 2.1): still attached to the company, apprenticeship in another company,
# no attachment, information missing. A registry vocabulary (the shared ones describe the form, this the analysis).
OUTCOME_SUMMARY = {
    "same_company": {"nb": "Fortsatt tilknyttet bedriften", "nn": "Framleis knytt til bedrifta",
                     "en": "Still attached to the company"},
    "apprenticeship_other_company": {"nb": "Læreplass/utdanning i annen bedrift",
                                     "nn": "Læreplass/utdanning i anna bedrift",
                                     "en": "Apprenticeship/education in another company"},
    "other_company": {"nb": "Tilknyttet annen bedrift", "nn": "Knytt til anna bedrift",
                      "en": "Attached to another company"},
    "no_attachment": {"nb": "Ingen tilknytning", "nn": "Inga tilknyting", "en": "No attachment"},
    "missing": {"nb": "Mangler informasjon", "nn": "Manglar informasjon", "en": "Information missing"},
}


def outcome_summary(attached_same_company: str, attachment_after: str) -> str:
    if attached_same_company == "yes":
        return "same_company"
    if attached_same_company == "unknown" or attachment_after == "unknown":
        return "missing"
    if attachment_after == "apprenticeship_education":
        return "apprenticeship_other_company"
    if attachment_after in ATTACHED_OUTCOMES:
        return "other_company"
    return "no_attachment"


def _party_intensity(contact: dict, name: str) -> str:
    """Table 5's intensity for a party: absent in a closure of the old shape is unknown; null is no contact."""
    if name not in contact:
        return "unknown"
    return contact[name] or "no_contact"


def _party_forms(contact: dict, name: str) -> str | None:
    """Table 5's forms for a party, joined by ';': None (unknown) for a closure of the old shape, '' for none."""
    return ";".join(sorted(set(contact[name]))) if name in contact else None


def complete(row: dict) -> dict:
    """A row kept before the per-party fields (a waiting closure, a version's history) with them as unknown."""
    unknown = {"intensity_candidate": "unknown", "intensity_mentor": "unknown", "forms_candidate": None,
               "forms_mentor": None}
    return {**row, **{k: v for k, v in unknown.items() if k not in row}}  # a whole row's keys keep their order


def to_row(payload: dict, event_type: str, office: dict, pseudonymiser, granularity: str) -> dict:
    """The registry row for one closure. Only listed fields are copied: anything else never reaches a table."""
    p = pseudonymiser.pseudonym
    contact = payload["contact"]
    measures = ";".join(
        f"{m['measure']}:{coarsen(m['from_date'], granularity)}:{coarsen(m['to_date'], granularity) or ''}"
        for m in payload["measures"])
    success = payload["success_criteria"]
    return {
        "case_pseudonym": p("case", str(payload["case_id"])),
        "version": payload["version"],
        "record_kind": KIND_BY_EVENT[event_type],
        "office": office["code"],
        "county": office["county_code"],
        "candidate_pseudonym": p("candidate", payload["candidate_hash"]),
        "counsellor_pseudonym": p("counsellor", payload["counsellor_id"]),
        "mentor_pseudonym": p("mentor", str(payload["mentor_id"]) if payload["mentor_id"] else None),
        "employer_pseudonym": p("employer", payload["employer_hash"]),
        "opened_period": coarsen(payload["opened_on"], granularity),
        "closed_period": coarsen(payload["closed_on"], granularity),
        "closure_reason": payload["closure_reason"],
        "entry_point": payload["entry_point"],
        "industry": payload["industry"],
        "initiator": payload["initiator"],
        "reasons": ";".join(sorted(set(payload["reasons"]))),
        "counsellor_knew_company": payload["counsellor_knew_company"],
        "attachment_before": payload["attachment_before"],
        "mentor_relation": payload["mentor_relation"],
        "mentor_measure_used": bool(payload["mentor_measure_used"]),
        "measures": measures,
        "frequency_candidate": contact["frequency_candidate"],
        "frequency_mentor": contact["frequency_mentor"],
        "frequency_employer": contact["frequency_employer"],
        "contact_intensity": contact["intensity"],
        "contact_forms": ";".join(sorted(set(contact["forms"]))),
        "intensity_candidate": _party_intensity(contact, "intensity_candidate"),
        "intensity_mentor": _party_intensity(contact, "intensity_mentor"),
        "forms_candidate": _party_forms(contact, "forms_candidate"),
        "forms_mentor": _party_forms(contact, "forms_mentor"),
        "duration": contact["duration"],
        "contacts_logged": contact["contacts_logged"],
        "minutes_total": contact["minutes_total"],
        "attachment_after": payload["attachment_after"],
        "attached_same_company": payload["attached_same_company"],
        "outcome_summary": outcome_summary(payload["attached_same_company"], payload["attachment_after"]),
        "success_list_version": success["list_version"],
        "success_assessments": ";".join(f"{k}={v}" for k, v in sorted(success["assessments"].items())),
        "feedback_mentor": payload["feedback_mentor"],
        "feedback_counsellor": payload["feedback_counsellor"],
    }
