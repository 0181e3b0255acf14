"""Controlled vocabularies of the registration form (the report's tables 1–7), codes with labels.

Codes are ASCII and stable (they travel on the bus and into exports); labels are bokmål (nb) and English (en).
The success criteria are not here: they are a versioned list kept as data by the research team.
"""
from __future__ import annotations


def _v(*items):
    return {code: {"nb": nb, "en": en} for code, nb, en in items}


VOCABULARIES = {
    "industry": _v(
        ("construction", "Bygg og anlegg", "Construction"),
        ("service", "Service", "Service"),
        ("health_care", "Helse og omsorg", "Health and care"),
        ("accounting", "Regnskap", "Accounting"),
        ("retail", "Varehandel", "Retail"),
        ("manufacturing", "Industri", "Manufacturing"),
        ("education", "Utdanning", "Education"),
        ("kindergarten", "Barnehage", "Kindergarten"),
        ("other", "Annet", "Other"),
    ),
    "reason": _v(
        ("extra_follow_up", "Ekstra oppfølging", "Extra follow-up"),
        ("extra_training", "Ekstra opplæring", "Extra training"),
        ("help_getting_to_work", "Drahjelp for å komme seg på jobb", "Help to get to work"),
        ("strengthen_role", "Styrke brukers rolle og kunnskap på arbeidsplassen",
         "Strengthen the candidate's role and knowledge at the workplace"),
        ("job_readiness", "Bistand til å bli jobbklar", "Help to become job-ready"),
        ("mentor_required_for_entry", "Mentortiltak var forutsetning for innpass",
         "Mentor measure was a condition for entry"),
        ("norwegian_work_culture", "Lære om norsk arbeidskultur", "Learn Norwegian work culture"),
        ("employer_needed_security", "Arbeidsgiver trengte ekstra sikkerhet", "Employer needed extra security"),
        ("other", "Annet (beskriv)", "Other (describe)"),
    ),
    "yes_no": _v(("yes", "Ja", "Yes"), ("no", "Nei", "No")),
    "yes_no_unknown": _v(
        ("yes", "Ja", "Yes"),
        ("no", "Nei", "No"),
        ("unknown", "Vet ikke / mangler info", "Unknown / missing"),
    ),
    "initiator": _v(
        ("employer", "Arbeidsgiver", "Employer"),
        ("candidate", "Bruker", "Candidate"),
        ("counsellor", "Veileder", "Counsellor"),
        ("assistive_technology_centre", "Hjelpemiddelsentralen", "Assistive technology centre"),
        ("unknown", "Vet ikke", "Unknown"),
        ("other", "Annet (beskriv)", "Other (describe)"),
    ),
    "attachment_before": _v(
        ("none", "Ingen", "None"),
        ("work_training", "Arbeidstrening", "Work training"),
        ("assessment", "Avklaring", "Assessment"),
        ("temp_agency", "Vikar", "Temporary (agency)"),
        ("pupil", "Skoleelev/elev", "Pupil/student"),
        ("on_call", "Tilkallingshjelp", "On-call help"),
        ("temporary_employee", "Midlertidig ansatt", "Temporary employee"),
        ("permanent_employee", "Fast ansatt", "Permanent employee"),
        ("other", "Annet (beskriv)", "Other (describe)"),
    ),
    "entry_point": _v(
        ("course_start", "Ved kursstart", "At the start of the course"),
        ("already_at_workplace", "Allerede på arbeidsplassen i tiltak", "Already at the workplace in a measure"),
    ),
    "mentor_relation": _v(
        ("colleague", "Kollega", "Colleague"),
        ("manager", "Leder (AG er mentor)", "Manager (employer is mentor)"),
        ("external", "Ekstern", "External"),
        ("none", "Ingen mentor", "No mentor"),
    ),
    "contact_frequency": _v(
        ("daily", "Daglig", "Daily"),
        ("2_3_per_week", "2–3 ganger per uke", "2–3 times a week"),
        ("weekly", "Ukentlig", "Weekly"),
        ("2_3_per_month", "2–3 ganger per måned", "2–3 times a month"),
        ("monthly", "Ca. 1 gang per måned", "About once a month"),
        ("less_than_monthly", "Mindre enn 1 gang per måned", "Less than once a month"),
        ("only_at_start", "Kun ved oppstart", "Only at the start"),
        ("never", "Aldri", "Never"),
        ("employer_is_mentor", "AG er mentor", "Employer is the mentor"),
    ),
    "contact_intensity": _v(
        ("mostly_beginning", "Mest i begynnelsen", "Mostly at the beginning"),
        ("even", "Like mye gjennom hele perioden", "Evenly through the period"),
        ("mostly_end", "Mest på slutten", "Mostly at the end"),
    ),
    "contact_form": _v(
        ("phone", "Telefon", "Phone"),
        ("email", "E-post", "E-mail"),
        ("at_company", "På bedriften", "At the company"),
        ("at_nav_office", "På NAV-kontoret", "At the NAV office"),
        ("digital", "Digital kommunikasjon", "Digital communication"),
    ),
    "party": _v(
        ("candidate", "Bruker", "Candidate"),
        ("mentor", "Mentor", "Mentor"),
        ("employer", "Arbeidsgiver", "Employer"),
    ),
    "duration": _v(
        ("up_to_3_months", "Inntil 3 måneder", "Up to 3 months"),
        ("3_6_months", "3–6 måneder", "3–6 months"),
        ("6_12_months", "6–12 måneder", "6–12 months"),
        ("over_12_months", "Mer enn 12 måneder", "More than 12 months"),
        ("not_closed", "Ikke avsluttet", "Not closed"),
    ),
    "attachment_after": _v(
        ("temporary_with_wage_subsidy", "Midlertidig ansatt med lønnstilskudd", "Temporary employee with wage subsidy"),
        ("permanent_with_wage_subsidy", "Fast ansatt med lønnstilskudd", "Permanent employee with wage subsidy"),
        ("work_training", "Arbeidstrening", "Work training"),
        ("no_attachment", "Ingen tilknytning", "No attachment"),
        ("apprenticeship_education", "Læreplass/utdanning", "Apprenticeship/education"),
        ("permanent_without_wage_subsidy", "Fast ansatt uten lønnstilskudd", "Permanent employee without wage subsidy"),
        ("temp_agency", "Vikar", "Temporary (agency)"),
        ("temporary_without_wage_subsidy", "Midlertidig ansatt uten lønnstilskudd",
         "Temporary employee without wage subsidy"),
        ("still_in_mentor_measure", "Fortsatt i mentortiltak", "Still in the mentor measure"),
        ("sick_leave", "Sykemeldt", "On sick leave"),
        ("unknown", "Vet ikke", "Unknown"),
        ("other", "Annet (beskriv)", "Other (describe)"),
    ),
    "closure_reason": _v(
        ("measure_completed", "Tiltaksperioden fullført", "Measure period completed"),
        ("candidate_quit_early", "Bruker sluttet før tiden", "Candidate left early"),
        ("candidate_moved", "Bruker flyttet", "Candidate moved"),
        ("parental_leave", "Foreldrepermisjon", "Parental leave"),
        ("disability_or_vta", "Avklart for uføretrygd / VTA", "Cleared for disability benefit / VTA"),
        ("mentor_measure_not_started", "Mentortiltaket ble ikke tatt i bruk", "Mentor measure never used"),
        ("project_end", "Prosjektslutt (pågående)", "Project end (ongoing)"),
    ),
    "measure": _v(
        ("mentor_subsidy", "Mentortilskudd", "Mentor subsidy"),
        ("work_training", "Arbeidstrening", "Work training"),
        ("wage_subsidy_temporary", "Lønnstilskudd (midlertidig)", "Wage subsidy (temporary)"),
        ("wage_subsidy_permanent", "Lønnstilskudd (varig)", "Wage subsidy (permanent)"),
        ("inclusion_subsidy", "Inkluderingstilskudd", "Inclusion subsidy"),
        ("assessment", "Avklaring", "Assessment"),
        ("training", "Opplæring / fagopplæring", "Training / vocational training"),
        ("vta_vto", "VTA / VTO", "Sheltered work (VTA / VTO)"),
    ),
    "success_assessment": _v(
        ("achieved", "Oppnådd", "Achieved"),
        ("partly", "Delvis", "Partly"),
        ("not_achieved", "Ikke oppnådd", "Not achieved"),
        ("not_relevant", "Ikke relevant", "Not relevant"),
    ),
    "feedback": _v(
        ("very_satisfied", "Svært fornøyd", "Very satisfied"),
        ("satisfied", "Fornøyd", "Satisfied"),
        ("neutral", "Verken eller", "Neither"),
        ("dissatisfied", "Misfornøyd", "Dissatisfied"),
        ("not_given", "Ikke gitt", "Not given"),
    ),
    "consent_purpose": _v(
        ("research_registration", "Registreringsdata til forskerne (pseudonymisert)",
         "Registration data to researchers (pseudonymised)"),
        ("interviews", "Intervjuer (to tidspunkter)", "Interviews (two points in time)"),
        ("employer_survey", "Arbeidsgiverundersøkelse", "Employer survey"),
        ("observation", "Observasjon og opptak av samtaler", "Observation and recording of conversations"),
        ("focus_groups", "Fokusgrupper", "Focus groups"),
    ),
    "signer_role": _v(("candidate", "Bruker", "Candidate"), ("mentor", "Mentor", "Mentor"),
                      ("employer", "Arbeidsgiver", "Employer"), ("counsellor", "Veileder", "Counsellor")),
}

# Attachment after closure that means "still attached to the company of the measure" (report's summary).
ATTACHED_OUTCOMES = ("temporary_with_wage_subsidy", "permanent_with_wage_subsidy", "work_training",
                     "permanent_without_wage_subsidy", "temp_agency", "temporary_without_wage_subsidy",
                     "still_in_mentor_measure", "sick_leave")


def codes(vocabulary: str) -> tuple[str, ...]:
    return tuple(VOCABULARIES[vocabulary])


def label(vocabulary: str, code: str, lang: str = "nb") -> str:
    return VOCABULARIES[vocabulary][code][lang]


def choices(vocabulary: str, lang: str = "nb"):
    return [(code, labels[lang]) for code, labels in VOCABULARIES[vocabulary].items()]
