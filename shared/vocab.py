"""Controlled vocabularies of the registration form (the report's tables 1–7), codes with labels.

Codes are ASCII and stable (they travel on the bus and into exports); labels are bokmål (nb, the report's wording),
nynorsk (nn) and English (en). A page shows the reader's (shared.web.i18n.vocabulary_label); the research release
files keep bokmål or English (services/registry/domain/research_files.py).
The success criteria are not here: they are a versioned list kept as data by the research team.
"""
from __future__ import annotations

from shared.text import Term


def _v(*items):
    return {code: {"nb": nb, "nn": nn, "en": en} for code, nb, nn, en in items}


# (code, bokmål as in the report, nynorsk, English)
VOCABULARIES = {
    "industry": _v(
        ("construction", "Bygg og anlegg", "Bygg og anlegg", "Construction"),
        ("service", "Service", "Service", "Service"),
        ("health_care", "Helse og omsorg", "Helse og omsorg", "Health and care"),
        ("accounting", "Regnskap", "Rekneskap", "Accounting"),
        ("retail", "Varehandel", "Varehandel", "Retail"),
        ("manufacturing", "Industri", "Industri", "Manufacturing"),
        ("education", "Utdanning", "Utdanning", "Education"),
        ("kindergarten", "Barnehage", "Barnehage", "Kindergarten"),
        ("other", "Annet", "Anna", "Other"),
    ),
    "reason": _v(
        ("extra_follow_up", "Ekstra oppfølging", "Ekstra oppfølging", "Extra follow-up"),
        ("extra_training", "Ekstra opplæring", "Ekstra opplæring", "Extra training"),
        ("help_getting_to_work", "Drahjelp for å komme seg på jobb", "Drahjelp for å kome seg på jobb",
         "Help to get to work"),
        ("strengthen_role", "Styrke brukers rolle og kunnskap på arbeidsplassen",
         "Styrkje rolla og kunnskapen til brukaren på arbeidsplassen",
         "Strengthen the candidate's role and knowledge at the workplace"),
        ("job_readiness", "Bistand til å bli jobbklar", "Hjelp til å bli jobbklar", "Help to become job-ready"),
        ("mentor_required_for_entry", "Mentortiltak var forutsetning for innpass",
         "Mentortiltak var føresetnad for innpass", "Mentor measure was a condition for entry"),
        ("norwegian_work_culture", "Lære om norsk arbeidskultur", "Lære om norsk arbeidskultur",
         "Learn Norwegian work culture"),
        ("employer_needed_security", "Arbeidsgiver trengte ekstra sikkerhet", "Arbeidsgivar trong ekstra tryggleik",
         "Employer needed extra security"),
        ("other", "Annet (beskriv)", "Anna (beskriv)", "Other (describe)"),
    ),
    "yes_no": _v(("yes", "Ja", "Ja", "Yes"), ("no", "Nei", "Nei", "No")),
    "yes_no_unknown": _v(
        ("yes", "Ja", "Ja", "Yes"),
        ("no", "Nei", "Nei", "No"),
        ("unknown", "Vet ikke / mangler info", "Veit ikkje / manglar info", "Unknown / missing"),
    ),
    "initiator": _v(
        ("employer", "Arbeidsgiver", "Arbeidsgivar", "Employer"),
        ("candidate", "Bruker", "Brukar", "Candidate"),
        ("counsellor", "Veileder", "Rettleiar", "Counsellor"),
        ("assistive_technology_centre", "Hjelpemiddelsentralen", "Hjelpemiddelsentralen",
         "Assistive technology centre"),
        ("unknown", "Vet ikke", "Veit ikkje", "Unknown"),
        ("other", "Annet (beskriv)", "Anna (beskriv)", "Other (describe)"),
    ),
    "attachment_before": _v(
        ("none", "Ingen", "Ingen", "None"),
        ("work_training", "Arbeidstrening", "Arbeidstrening", "Work training"),
        ("assessment", "Avklaring", "Avklaring", "Assessment"),
        ("temp_agency", "Vikar", "Vikar", "Temporary (agency)"),
        ("pupil", "Skoleelev/elev", "Skuleelev/elev", "Pupil/student"),
        ("on_call", "Tilkallingshjelp", "Tilkallingshjelp", "On-call help"),
        ("temporary_employee", "Midlertidig ansatt", "Mellombels tilsett", "Temporary employee"),
        ("permanent_employee", "Fast ansatt", "Fast tilsett", "Permanent employee"),
        ("other", "Annet (beskriv)", "Anna (beskriv)", "Other (describe)"),
    ),
    "entry_point": _v(
        ("course_start", "Ved kursstart", "Ved kursstart", "At the start of the course"),
        ("already_at_workplace", "Allerede på arbeidsplassen i tiltak", "Allereie på arbeidsplassen i tiltak",
         "Already at the workplace in a measure"),
    ),
    "mentor_relation": _v(
        ("colleague", "Kollega", "Kollega", "Colleague"),
        ("manager", "Leder (AG er mentor)", "Leiar (AG er mentor)", "Manager (employer is mentor)"),
        ("external", "Ekstern", "Ekstern", "External"),
        ("none", "Ingen mentor", "Ingen mentor", "No mentor"),
    ),
    "contact_frequency": _v(
        ("daily", "Daglig", "Dagleg", "Daily"),
        ("2_3_per_week", "2–3 ganger per uke", "2–3 gonger i veka", "2–3 times a week"),
        ("weekly", "Ukentlig", "Ukentleg", "Weekly"),
        ("2_3_per_month", "2–3 ganger per måned", "2–3 gonger i månaden", "2–3 times a month"),
        ("monthly", "Ca. 1 gang per måned", "Om lag éin gong i månaden", "About once a month"),
        ("less_than_monthly", "Mindre enn 1 gang per måned", "Mindre enn éin gong i månaden",
         "Less than once a month"),
        ("only_at_start", "Kun ved oppstart", "Berre ved oppstart", "Only at the start"),
        ("never", "Aldri", "Aldri", "Never"),
        ("employer_is_mentor", "AG er mentor", "AG er mentor", "Employer is the mentor"),
    ),
    "contact_intensity": _v(
        ("mostly_beginning", "Mest i begynnelsen", "Mest i byrjinga", "Mostly at the beginning"),
        ("even", "Like mye gjennom hele perioden", "Like mykje gjennom heile perioden", "Evenly through the period"),
        ("mostly_end", "Mest på slutten", "Mest på slutten", "Mostly at the end"),
    ),
    "contact_form": _v(
        ("phone", "Telefon", "Telefon", "Phone"),
        ("email", "E-post", "E-post", "E-mail"),
        ("at_company", "På bedriften", "På bedrifta", "At the company"),
        ("at_nav_office", "På NAV-kontoret", "På NAV-kontoret", "At the NAV office"),
        ("digital", "Digital kommunikasjon", "Digital kommunikasjon", "Digital communication"),
    ),
    "party": _v(
        ("candidate", "Bruker", "Brukar", "Candidate"),
        ("mentor", "Mentor", "Mentor", "Mentor"),
        ("employer", "Arbeidsgiver", "Arbeidsgivar", "Employer"),
    ),
    "duration": _v(
        ("up_to_3_months", "Inntil 3 måneder", "Inntil 3 månader", "Up to 3 months"),
        ("3_6_months", "3–6 måneder", "3–6 månader", "3–6 months"),
        ("6_12_months", "6–12 måneder", "6–12 månader", "6–12 months"),
        ("over_12_months", "Mer enn 12 måneder", "Meir enn 12 månader", "More than 12 months"),
        ("not_closed", "Ikke avsluttet", "Ikkje avslutta", "Not closed"),
    ),
    "attachment_after": _v(
        ("temporary_with_wage_subsidy", "Midlertidig ansatt med lønnstilskudd", "Mellombels tilsett med lønnstilskot",
         "Temporary employee with wage subsidy"),
        ("permanent_with_wage_subsidy", "Fast ansatt med lønnstilskudd", "Fast tilsett med lønnstilskot",
         "Permanent employee with wage subsidy"),
        ("work_training", "Arbeidstrening", "Arbeidstrening", "Work training"),
        ("no_attachment", "Ingen tilknytning", "Inga tilknyting", "No attachment"),
        ("apprenticeship_education", "Læreplass/utdanning", "Læreplass/utdanning", "Apprenticeship/education"),
        ("permanent_without_wage_subsidy", "Fast ansatt uten lønnstilskudd", "Fast tilsett utan lønnstilskot",
         "Permanent employee without wage subsidy"),
        ("temp_agency", "Vikar", "Vikar", "Temporary (agency)"),
        ("temporary_without_wage_subsidy", "Midlertidig ansatt uten lønnstilskudd",
         "Mellombels tilsett utan lønnstilskot", "Temporary employee without wage subsidy"),
        ("still_in_mentor_measure", "Fortsatt i mentortiltak", "Framleis i mentortiltak",
         "Still in the mentor measure"),
        ("sick_leave", "Sykemeldt", "Sjukmeld", "On sick leave"),
        ("unknown", "Vet ikke", "Veit ikkje", "Unknown"),
        ("other", "Annet (beskriv)", "Anna (beskriv)", "Other (describe)"),
    ),
    "closure_reason": _v(
        ("measure_completed", "Tiltaksperioden fullført", "Tiltaksperioden fullført", "Measure period completed"),
        ("candidate_quit_early", "Bruker sluttet før tiden", "Brukar slutta før tida", "Candidate left early"),
        ("candidate_moved", "Bruker flyttet", "Brukar flytta", "Candidate moved"),
        ("parental_leave", "Foreldrepermisjon", "Foreldrepermisjon", "Parental leave"),
        ("disability_or_vta", "Avklart for uføretrygd / VTA", "Avklart for uføretrygd / VTA",
         "Cleared for disability benefit / VTA"),
        ("mentor_measure_not_started", "Mentortiltaket ble ikke tatt i bruk", "Mentortiltaket vart ikkje teke i bruk",
         "Mentor measure never used"),
        ("project_end", "Prosjektslutt (pågående)", "Prosjektslutt (pågåande)", "Project end (ongoing)"),
    ),
    "measure": _v(
        ("mentor_subsidy", "Mentortilskudd", "Mentortilskot", "Mentor subsidy"),
        ("work_training", "Arbeidstrening", "Arbeidstrening", "Work training"),
        ("wage_subsidy_temporary", "Lønnstilskudd (midlertidig)", "Lønnstilskot (mellombels)",
         "Wage subsidy (temporary)"),
        ("wage_subsidy_permanent", "Lønnstilskudd (varig)", "Lønnstilskot (varig)", "Wage subsidy (permanent)"),
        ("inclusion_subsidy", "Inkluderingstilskudd", "Inkluderingstilskot", "Inclusion subsidy"),
        ("assessment", "Avklaring", "Avklaring", "Assessment"),
        ("training", "Opplæring / fagopplæring", "Opplæring / fagopplæring", "Training / vocational training"),
        ("vta_vto", "VTA / VTO", "VTA / VTO", "Sheltered work (VTA / VTO)"),
    ),
    "success_assessment": _v(
        ("achieved", "Oppnådd", "Oppnådd", "Achieved"),
        ("partly", "Delvis", "Delvis", "Partly"),
        ("not_achieved", "Ikke oppnådd", "Ikkje oppnådd", "Not achieved"),
        ("not_relevant", "Ikke relevant", "Ikkje relevant", "Not relevant"),
    ),
    "feedback": _v(
        ("very_satisfied", "Svært fornøyd", "Svært nøgd", "Very satisfied"),
        ("satisfied", "Fornøyd", "Nøgd", "Satisfied"),
        ("neutral", "Verken eller", "Korkje eller", "Neither"),
        ("dissatisfied", "Misfornøyd", "Misnøgd", "Dissatisfied"),
        ("not_given", "Ikke gitt", "Ikkje gitt", "Not given"),
    ),
    "consent_purpose": _v(
        ("research_registration", "Registreringsdata til forskerne (pseudonymisert)",
         "Registreringsdata til forskarane (pseudonymisert)", "Registration data to researchers (pseudonymised)"),
        ("interviews", "Intervjuer (to tidspunkter)", "Intervju (to tidspunkt)", "Interviews (two points in time)"),
        ("employer_survey", "Arbeidsgiverundersøkelse", "Arbeidsgivarundersøking", "Employer survey"),
        ("observation", "Observasjon og opptak av samtaler", "Observasjon og opptak av samtalar",
         "Observation and recording of conversations"),
        ("focus_groups", "Fokusgrupper", "Fokusgrupper", "Focus groups"),
    ),
    "signer_role": _v(("candidate", "Bruker", "Brukar", "Candidate"), ("mentor", "Mentor", "Mentor", "Mentor"),
                      ("employer", "Arbeidsgiver", "Arbeidsgivar", "Employer"),
                      ("counsellor", "Veileder", "Rettleiar", "Counsellor")),
}

# Attachment after closure that means "still attached to the company of the measure" (report's summary).
ATTACHED_OUTCOMES = ("temporary_with_wage_subsidy", "permanent_with_wage_subsidy", "work_training",
                     "permanent_without_wage_subsidy", "temp_agency", "temporary_without_wage_subsidy",
                     "still_in_mentor_measure", "sick_leave")


def codes(vocabulary: str) -> tuple[str, ...]:
    return tuple(VOCABULARIES[vocabulary])


def label(vocabulary: str, code: str, lang: str = "nb") -> str:
    return VOCABULARIES[vocabulary][code][lang]


def term(vocabulary: str, code: str) -> Term:
    """A code's label in every language, for a message made where the reader's language is unknown (a domain's
    error): it reads as bokmål, and the page or API answer shows it in the reader's (shared.web.i18n.translate)."""
    return Term(VOCABULARIES[vocabulary][code])


def choices(vocabulary: str, lang: str = "nb"):
    return [(code, labels[lang]) for code, labels in VOCABULARIES[vocabulary].items()]
