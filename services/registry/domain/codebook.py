"""The codebook: every exported column, its type, its vocabulary (codes with nb, nn and en labels) and meaning.

The export's column list is taken from here, so the codebook and the files cannot drift apart. The office and county
vocabularies come from the directory: the caller reads them (services.registry.service) and passes them in as
`places`.
"""
from __future__ import annotations

from shared.text import in_language
from shared.vocab import VOCABULARIES

from .records import OUTCOME_SUMMARY

LIST_NOTE = {"nb": "Flere koder skilt med semikolon", "nn": "Fleire kodar skilde med semikolon",
             "en": "Several codes separated by semicolons"}
LANGUAGES = ("nb", "nn", "en")

# (column, type, vocabulary or None, nb, en); nynorsk in DESCRIPTIONS_NN below (the release files keep nb and en)
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
    ("frequency_candidate", "code", "contact_frequency", "Kontakt veileder–bruker (tabell 5)",
     "Contact counsellor–candidate (table 5)"),
    ("frequency_mentor", "code", "contact_frequency", "Kontakt veileder–mentor (tabell 5)",
     "Contact counsellor–mentor (table 5)"),
    ("frequency_employer", "code", "contact_frequency", "Kontakt veileder–arbeidsgiver", "Contact counsellor–employer"),
    ("intensity_candidate", "code", "party_intensity", "Kontaktintensitet veileder–bruker (tabell 5)",
     "Contact intensity counsellor–candidate (table 5)"),
    ("intensity_mentor", "code", "party_intensity", "Kontaktintensitet veileder–mentor (tabell 5)",
     "Contact intensity counsellor–mentor (table 5)"),
    ("forms_candidate", "code_list", "contact_form",
     "Kontaktformer veileder–bruker (tabell 5; tom: ingen, mangler: ukjent for avslutninger fra før per part)",
     "Contact forms counsellor–candidate (table 5; empty: none, missing: unknown for closures from before per party)"),
    ("forms_mentor", "code_list", "contact_form",
     "Kontaktformer veileder–mentor (tabell 5; tom: ingen, mangler: ukjent for avslutninger fra før per part)",
     "Contact forms counsellor–mentor (table 5; empty: none, missing: unknown for closures from before per party)"),
    ("contact_intensity", "code", "contact_intensity", "Kontaktintensitet i hele kontaktloggen (alle parter)",
     "Contact intensity over the whole contact log (every party)"),
    ("contact_forms", "code_list", "contact_form", "Kontaktformer i hele kontaktloggen (alle parter)",
     "Contact forms over the whole contact log (every party)"),
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

# Each column's description in nynorsk, for the codebook page and API (tests/unit/test_vocabulary_languages.py: every
# column has one).
DESCRIPTIONS_NN = {
    "case_pseudonym": "Pseudonym for saka (HMAC, fast innanfor prosjektet)",
    "version": "Versjon av avslutninga (høgaste gjeld)",
    "record_kind": "Type skjema",
    "status": "Status for rada",
    "change_seq": "Endringsnummer (markør for inkrementelle uttrekk)",
    "office": "NAV-kontor",
    "county": "Fylke",
    "candidate_pseudonym": "Pseudonym for brukar",
    "counsellor_pseudonym": "Pseudonym for rettleiar",
    "mentor_pseudonym": "Pseudonym for mentor (tom viss ingen)",
    "employer_pseudonym": "Pseudonym for arbeidsgivar (tom viss ingen)",
    "opened_period": "Sak opna (grovkorna dato)",
    "closed_period": "Sak avslutta (grovkorna dato)",
    "closure_reason": "Årsak til avslutning",
    "entry_point": "Inngang til tiltaket",
    "industry": "Bransje",
    "initiator": "Initiativtakar (tabell 3)",
    "reasons": "Grunngiving for tiltak",
    "counsellor_knew_company": "Rettleiar kjende til bedrifta før tiltak",
    "attachment_before": "Tilknytinga brukaren hadde til bedrifta før tiltak (tabell 4)",
    "mentor_relation": "Forholdet mentoren har til bedrifta",
    "mentor_measure_used": "Mentortiltaket vart brukt",
    "measures": "Tiltak og tilskot (kode:frå:til)",
    "frequency_candidate": "Kontakt rettleiar–brukar (tabell 5)",
    "frequency_mentor": "Kontakt rettleiar–mentor (tabell 5)",
    "frequency_employer": "Kontakt rettleiar–arbeidsgivar",
    "intensity_candidate": "Kontaktintensitet rettleiar–brukar (tabell 5)",
    "intensity_mentor": "Kontaktintensitet rettleiar–mentor (tabell 5)",
    "forms_candidate": "Kontaktformer rettleiar–brukar (tabell 5; tom: ingen, manglar: ukjend for avslutningar frå "
                       "før per part)",
    "forms_mentor": "Kontaktformer rettleiar–mentor (tabell 5; tom: ingen, manglar: ukjend for avslutningar frå før "
                    "per part)",
    "contact_intensity": "Kontaktintensitet i heile kontaktloggen (alle partar)",
    "contact_forms": "Kontaktformer i heile kontaktloggen (alle partar)",
    "duration": "Varigheit (tabell 6)",
    "contacts_logged": "Talet på loggførte kontaktar i saka",
    "minutes_total": "Minutt brukte på kontaktar",
    "attachment_after": "Tilknyting ved tiltaksslutt (tabell 7)",
    "attached_same_company": "Knytt til same bedrift ved tiltaksslutt",
    "outcome_summary": "Utfall som i oppsummeringa av tabell 1 i rapporten",
    "success_list_version": "Versjon av lista over suksesskriteria",
    "success_assessments": "Vurdering per suksesskriterium (kriterium=kode)",
    "feedback_mentor": "Tilbakemeldinga frå brukaren om mentor",
    "feedback_counsellor": "Tilbakemeldinga frå brukaren om rettleiar",
}


REGISTRY_VOCABULARIES = {
    # Table 5's intensity per party: the form's codes, and what a closure without one says
    "party_intensity": {**VOCABULARIES["contact_intensity"],
                        "no_contact": {"nb": "Ingen kontakt ført", "nn": "Ingen kontakt ført",
                                       "en": "No contact logged"},
                        "unknown": {"nb": "Ukjent (avsluttet før kontakten ble ført per part)",
                                    "nn": "Ukjent (avslutta før kontakten vart ført per part)",
                                    "en": "Unknown (closed before contact was recorded per party)"}},
    "outcome_summary": OUTCOME_SUMMARY,
    "record_kind": {"closed": {"nb": "Avslutning", "nn": "Avslutning", "en": "Closure"},
                    "corrected": {"nb": "Rettet avslutning", "nn": "Retta avslutning", "en": "Corrected closure"},
                    "project_end": {"nb": "Status ved prosjektslutt", "nn": "Status ved prosjektslutt",
                                    "en": "Status at project end"}},
    "status": {"active": {"nb": "Gjeldende", "nn": "Gjeldande", "en": "Current"},
               "withdrawn_marked": {"nb": "Samtykke trukket, beholdt etter forskningsunntaket",
                                    "nn": "Samtykke trekt, halde på etter forskingsunntaket",
                                    "en": "Consent withdrawn, kept under the research exemption"}},
    "change": {"closed": {"nb": "Ny avslutning", "nn": "Ny avslutning", "en": "New closure"},
               "corrected": {"nb": "Rettelse", "nn": "Retting", "en": "Correction"},
               "project_end": {"nb": "Status ved prosjektslutt", "nn": "Status ved prosjektslutt",
                               "en": "Status at project end"},
               "withdrawn_erased": {"nb": "Samtykke trukket: slettet", "nn": "Samtykke trekt: sletta",
                                    "en": "Consent withdrawn: erased"},
               "withdrawn_marked": {"nb": "Samtykke trukket: merket", "nn": "Samtykke trekt: merkt",
                                    "en": "Consent withdrawn: marked"}},
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
    return {"office": {o["code"]: dict.fromkeys(LANGUAGES, o["name"]) for o in covered},
            "county": {c["code"]: dict.fromkeys(LANGUAGES, c["name"]) for c in counties if c["code"] in in_research}}


def label(vocab: str, code: str, lang: str = "nb") -> str:
    entry = (REGISTRY_VOCABULARIES.get(vocab) or VOCABULARIES.get(vocab) or {}).get(code)
    return in_language(entry, lang) if entry else code


def labels(vocab: str, code: str) -> dict:
    """A code's label in each language (the code itself where the vocabulary does not have it)."""
    return {lang: label(vocab, code, lang) for lang in LANGUAGES}


def codebook(places: dict | None = None, project: dict | None = None) -> dict:
    columns = []
    for name, kind, vocab, nb, en in COLUMNS:
        item = {"name": name, "type": kind, "description": {"nb": nb, "nn": DESCRIPTIONS_NN.get(name, nb), "en": en}}
        if kind in ("code_list", "measure_list", "assessment_list"):
            item["list_format"] = LIST_NOTE
        if vocab:
            item["vocabulary"] = vocab
            item["codes"] = [{"code": code, **{lang: in_language(labels, lang) for lang in LANGUAGES}}
                             for code, labels in (vocabulary(vocab, places) or {}).items()]
        columns.append(item)
    result = {"columns": columns,
              "change_feed": {"description": {"nb": "Endringer siden en markør: nye, rettede og trukne saker",
                                              "nn": "Endringar sidan ein markør: nye, retta og trekte saker",
                                              "en": "Changes since a cursor: new, corrected and withdrawn cases"},
                              "codes": [{"code": code, **labels}
                                        for code, labels in REGISTRY_VOCABULARIES["change"].items()]}}
    if project:
        result["date_coarsening"] = project["date_coarsening"]
        result["small_count_threshold"] = project["small_count_threshold"]
    return result
