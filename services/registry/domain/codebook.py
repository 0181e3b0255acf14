"""The codebook: every exported column, its type, its vocabulary (codes with nb and en labels) and meaning.

The export's column list is taken from here, so the codebook and the files cannot drift apart. The office and county
vocabularies come from the directory: the caller reads them (services.registry.service) and passes them in as
`places`.
"""
from __future__ import annotations

from shared.vocab import VOCABULARIES

from .records import OUTCOME_SUMMARY

LIST_NOTE = {"nb": "Flere koder skilt med semikolon", "en": "Several codes separated by semicolons"}

# (column, type, vocabulary or None, nb, en)
COLUMNS = (
    ("case_pseudonym", "string", None, "Pseudonym for saken (HMAC, fast innen prosjektet)",
     "Case pseudonym (HMAC, stable within the project)"),
    ("version", "integer", None, "Versjon av avslutningen (høyeste gjelder)",
     "Version of the closure (highest applies)"),
    ("record_kind", "code", "record_kind", "Type skjema", "Kind of form"),
    ("status", "code", "status", "Status for raden", "Status of the row"),
    ("change_seq", "integer", None, "Endringsnummer (markør for inkrementelle uttrekk)",
     "Change sequence (cursor for incremental pulls)"),
    ("office", "code", "office", "NAV-kontor", "NAV office"),
    ("county", "code", "county", "Fylke", "County"),
    ("candidate_pseudonym", "string", None, "Pseudonym for bruker", "Candidate pseudonym"),
    ("counsellor_pseudonym", "string", None, "Pseudonym for veileder", "Counsellor pseudonym"),
    ("mentor_pseudonym", "string", None, "Pseudonym for mentor (tom hvis ingen)", "Mentor pseudonym (empty if none)"),
    ("employer_pseudonym", "string", None, "Pseudonym for arbeidsgiver (tom hvis ingen)",
     "Employer pseudonym (empty if none)"),
    ("opened_period", "period", None, "Sak åpnet (grovkornet dato)", "Case opened (coarsened date)"),
    ("closed_period", "period", None, "Sak avsluttet (grovkornet dato)", "Case closed (coarsened date)"),
    ("closure_reason", "code", "closure_reason", "Årsak til avslutning", "Reason for closure"),
    ("entry_point", "code", "entry_point", "Inngang til tiltaket", "Entry point"),
    ("industry", "code", "industry", "Bransje", "Industry"),
    ("initiator", "code", "initiator", "Initiativtaker (tabell 3)", "Initiator (table 3)"),
    ("reasons", "code_list", "reason", "Begrunnelse for tiltak", "Reasons for the measure"),
    ("counsellor_knew_company", "code", "yes_no", "Veileder kjente til bedrift før tiltak",
     "Counsellor knew the company before"),
    ("attachment_before", "code", "attachment_before", "Brukers tilknytning til bedrift før tiltak (tabell 4)",
     "Attachment before the measure (table 4)"),
    ("mentor_relation", "code", "mentor_relation", "Mentors forhold til bedriften", "Mentor's relation to the company"),
    ("mentor_measure_used", "boolean", None, "Mentortiltaket ble brukt", "Mentor measure used"),
    ("measures", "measure_list", "measure", "Tiltak og tilskudd (kode:fra:til)",
     "Measures and subsidies (code:from:to)"),
    ("frequency_candidate", "code", "contact_frequency", "Kontakt veileder–bruker", "Contact counsellor–candidate"),
    ("frequency_mentor", "code", "contact_frequency", "Kontakt veileder–mentor (tabell 5)",
     "Contact counsellor–mentor (table 5)"),
    ("frequency_employer", "code", "contact_frequency", "Kontakt veileder–arbeidsgiver", "Contact counsellor–employer"),
    ("contact_intensity", "code", "contact_intensity", "Kontaktintensitet", "Contact intensity"),
    ("contact_forms", "code_list", "contact_form", "Kontaktform", "Contact forms"),
    ("duration", "code", "duration", "Varighet (tabell 6)", "Duration (table 6)"),
    ("contacts_logged", "integer", None, "Antall loggede kontakter i saken", "Contacts logged in the case"),
    ("minutes_total", "integer", None, "Minutter brukt på kontakter", "Minutes spent on contacts"),
    ("attachment_after", "code", "attachment_after", "Tilknytning ved tiltaksslutt (tabell 7)",
     "Attachment at the end (table 7)"),
    ("attached_same_company", "code", "yes_no_unknown", "Tilknyttet samme bedrift ved tiltaksslutt",
     "Attached to the same company at the end"),
    ("outcome_summary", "code", "outcome_summary", "Utfall som i rapportens oppsummering av tabell 1",
     "Outcome as in the report's summary of table 1"),
    ("success_list_version", "string", None, "Versjon av listen over suksesskriterier",
     "Version of the success criteria list"),
    ("success_assessments", "assessment_list", "success_assessment", "Vurdering per suksesskriterium (kriterium=kode)",
     "Assessment per success criterion (criterion=code)"),
    ("feedback_mentor", "code", "feedback", "Brukers tilbakemelding om mentor", "Candidate's feedback on the mentor"),
    ("feedback_counsellor", "code", "feedback", "Brukers tilbakemelding om veileder",
     "Candidate's feedback on the counsellor"),
)

EXPORT_COLUMNS = tuple(c[0] for c in COLUMNS)

REGISTRY_VOCABULARIES = {
    "outcome_summary": OUTCOME_SUMMARY,
    "record_kind": {"closed": {"nb": "Avslutning", "en": "Closure"},
                    "corrected": {"nb": "Rettet avslutning", "en": "Corrected closure"},
                    "project_end": {"nb": "Status ved prosjektslutt", "en": "Status at project end"}},
    "status": {"active": {"nb": "Gjeldende", "en": "Current"},
               "withdrawn_marked": {"nb": "Samtykke trukket, beholdt etter forskningsunntaket",
                                    "en": "Consent withdrawn, kept under the research exemption"}},
    "change": {"closed": {"nb": "Ny avslutning", "en": "New closure"},
               "corrected": {"nb": "Rettelse", "en": "Correction"},
               "project_end": {"nb": "Status ved prosjektslutt", "en": "Status at project end"},
               "withdrawn_erased": {"nb": "Samtykke trukket: slettet", "en": "Consent withdrawn: erased"},
               "withdrawn_marked": {"nb": "Samtykke trukket: merket", "en": "Consent withdrawn: marked"}},
}


PLACES = ("office", "county")


def vocabulary(name: str, places: dict | None = None) -> dict | None:
    """The codes of a vocabulary with their labels; `places`: the office and county vocabularies (None: unknown)."""
    if name in PLACES:
        return None if places is None else places[name]
    if name in REGISTRY_VOCABULARIES:
        return REGISTRY_VOCABULARIES[name]
    return VOCABULARIES.get(name)


def place_vocabularies(offices: list[dict], counties: list[dict]) -> dict:
    """The office and county vocabularies: only the offices the research covers, and their counties."""
    covered = [o for o in offices if o["covered_by_research"]]
    in_research = {o["county_code"] for o in covered}
    return {"office": {o["code"]: {"nb": o["name"], "en": o["name"]} for o in covered},
            "county": {c["code"]: {"nb": c["name"], "en": c["name"]} for c in counties if c["code"] in in_research}}


def label(vocab: str, code: str, lang: str = "nb") -> str:
    entry = (REGISTRY_VOCABULARIES.get(vocab) or VOCABULARIES.get(vocab) or {}).get(code)
    return entry[lang] if entry else code


def codebook(places: dict | None = None, project: dict | None = None) -> dict:
    columns = []
    for name, kind, vocab, nb, en in COLUMNS:
        item = {"name": name, "type": kind, "description": {"nb": nb, "en": en}}
        if kind in ("code_list", "measure_list", "assessment_list"):
            item["list_format"] = LIST_NOTE
        if vocab:
            item["vocabulary"] = vocab
            item["codes"] = [{"code": code, "nb": labels["nb"], "en": labels["en"]}
                             for code, labels in (vocabulary(vocab, places) or {}).items()]
        columns.append(item)
    result = {"columns": columns,
              "change_feed": {"description": {"nb": "Endringer siden en markør: nye, rettede og trukne saker",
                                              "en": "Changes since a cursor: new, corrected and withdrawn cases"},
                              "codes": [{"code": code, **labels}
                                        for code, labels in REGISTRY_VOCABULARIES["change"].items()]}}
    if project:
        result["date_coarsening"] = project["date_coarsening"]
        result["small_count_threshold"] = project["small_count_threshold"]
    return result
