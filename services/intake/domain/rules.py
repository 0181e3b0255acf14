"""Field rules shared by the intake forms: national ID, organisation number, codes, dates, eligibility.

Each check appends Norwegian messages to an `errors` dict keyed by field and returns the cleaned value (or None),
so a form can collect every problem at once instead of stopping at the first.
"""
from __future__ import annotations

import re
from datetime import date

from stdnum.exceptions import ValidationError as StdnumError
from stdnum.no import fodselsnummer, orgnr

from shared import dates, national_ids
from shared.text import N_, Text
from shared.vocab import VOCABULARIES, codes, term

from .errors import RULE_TEXT  # noqa: F401  (re-exported for callers)

FIELD_LABELS = {
    "national_id": N_("Fødselsnummer eller D-nummer"), "candidate_name": N_("Brukerens navn"),
    "in_target_group": N_("Er brukeren i Inkluderingsdugnadens målgruppe?"),
    "in_follow_up_measure": N_("Er brukeren i et oppfølgingstiltak?"), "counsellor": N_("Veileder"),
    "entry_point": N_("Inngang"), "industry": N_("Bransje"), "initiator": N_("Initiativtaker"),
    "attachment_before": N_("Tilknytning til bedriften før tiltaket"),
    "counsellor_knew_company": N_("Kjente veileder bedriften?"),
    "reasons": N_("Begrunnelse for tiltaket"), "opened_on": N_("Startdato"),
    "employer_orgnr": N_("Organisasjonsnummer"),
    "employer_name": N_("Arbeidsgiverens navn"), "employer_contact_name": N_("Kontaktperson hos arbeidsgiver"),
    "employer_contact_email": N_("Kontaktpersonens e-post"), "employer_contact_phone": N_("Kontaktpersonens telefon"),
    "mentor_name": N_("Mentorens navn"), "mentor_relation": N_("Mentorens rolle"),
    "contact_date": N_("Dato"), "party": N_("Hvem"), "form": N_("Kontaktform"), "minutes": N_("Minutter brukt"),
    "note": N_("Internt notat"),
    "measure": N_("Tiltak/tilskudd"), "from_date": N_("Fra dato"), "to_date": N_("Til dato"),
    "counsellor_id": N_("Ny veileder"), "start_meeting_on": N_("Dato for oppstartsmøte"),
    "plan_tasks": N_("Arbeidsoppgaver i planen"),
    "plan_mentor_expectations": N_("Forventninger til mentor"),
    "closed_on": N_("Avslutningsdato"), "closure_reason": N_("Årsak til avslutning"),
    "attachment_after": N_("Tilknytning etter avslutning"),
    "attached_same_company": N_("Tilknyttet samme bedrift?"),
    "feedback_mentor": N_("Brukerens tilbakemelding om mentor"),
    "feedback_counsellor": N_("Brukerens tilbakemelding om veileder"),
    "frequency_candidate": N_("Kontakt veileder–bruker"), "frequency_mentor": N_("Kontakt veileder–mentor"),
    "frequency_employer": N_("Kontakt veileder–arbeidsgiver"),
    "intensity_candidate": N_("Kontaktintensitet med bruker"), "intensity_mentor": N_("Kontaktintensitet med mentor"),
    "forms_candidate": N_("Kontaktformer med bruker"), "forms_mentor": N_("Kontaktformer med mentor"),
    "duration": N_("Varighet"), "success_criteria": N_("Suksesskriterier"),
}
for _step in range(1, 8):
    FIELD_LABELS[f"step_{_step}"] = Text(N_("Steg {number}"), number=_step)

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9 ]{8,15}$")


QUOTED_LENGTH = 40
_DIGIT_RUN = re.compile(r"\d[\d .-]{9,}\d")


def holds_national_id(text: str) -> bool:
    """Whether a short text carries a valid fødselsnummer or D-number anywhere, its digits also apart by spaces,
    dots or dashes (every 11 digits in a row are tried: meant for what a message quotes, not for long texts)."""
    for run in _DIGIT_RUN.findall(text):
        digits = re.sub(r"\D", "", run)
        if any(national_ids.is_valid(digits[i:i + 11], allow_synthetic=True) for i in range(len(digits) - 10)):
            return True
    return False


def quoted(value) -> str:
    """A refused value as a message quotes it: its start, and never a national ID (answers may be kept)."""
    shown = str(value)[:QUOTED_LENGTH]
    return Text(N_("(et fødselsnummer, som ikke hører hjemme her)")) if holds_national_id(shown) else f"«{shown}»"


def field_label(field: str) -> Text:
    """The field's label as a message names it (translated with the message)."""
    label = FIELD_LABELS.get(field, field)
    return label if isinstance(label, Text) else Text(label)


def add(errors: dict, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def unknown_fields(raw: dict, allowed) -> dict:
    """A form's fields that are not `allowed`, each with its message."""
    errors = {}
    for field in sorted(set(raw) - set(allowed)):
        add(errors, field, N_("Ukjent felt."))
    return errors


def blank(value) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "") or value == []


def national_id(errors, field, value):
    """Fødselsnummer or D-number (first digit +4), checked with both control digits."""
    if blank(value):
        add(errors, field, N_("Skriv brukerens fødselsnummer eller D-nummer (11 siffer)."))
        return None
    compact = fodselsnummer.compact(str(value))
    if not compact.isdigit() or len(compact) != 11:
        add(errors, field, N_("Fødselsnummeret må ha 11 siffer."))
        return None
    try:
        return national_ids.validate(compact)
    except national_ids.SyntheticNotAllowed:
        add(errors, field, N_("Syntetiske testnumre (Tenor) tas bare imot i et testmiljø."))
        return None
    except StdnumError:
        add(errors, field, N_("Fødselsnummeret er ikke gyldig: kontrollsifrene stemmer ikke eller datoen finnes ikke."))
        return None


def organisation_number(errors, field, value, required=False):
    if blank(value):
        if required:
            add(errors, field, N_("Skriv organisasjonsnummeret (9 siffer)."))
        return None
    compact = orgnr.compact(str(value))
    if not compact.isdigit() or len(compact) != 9:
        add(errors, field, N_("Organisasjonsnummeret må ha 9 siffer."))
        return None
    try:
        return orgnr.validate(compact)
    except StdnumError:
        add(errors, field, N_("Organisasjonsnummeret er ikke gyldig: kontrollsifferet stemmer ikke."))
        return None


def code(errors, field, vocabulary, value, required=True, allowed=None):
    """A controlled-vocabulary code; an unknown code names the field and lists nothing personal."""
    if blank(value):
        if required:
            label = FIELD_LABELS.get(field, field)
            add(errors, field, N_("Velg et svar.") if label.endswith("?")
                else Text(N_("Velg {label}."), label=label.lower()))
        return None
    if not isinstance(value, str) or value not in VOCABULARIES[vocabulary]:
        add(errors, field, Text(N_("Ukjent kode {value} for feltet «{field}»."), value=quoted(value),
                                field=field_label(field)))
        return None
    if allowed is not None and value not in allowed:
        add(errors, field, Text(N_("«{label}» kan ikke velges her."), label=term(vocabulary, value)))
        return None
    return value


def codes_list(errors, field, vocabulary, values, required=True):
    if isinstance(values, str):
        values = [values]
    if blank(values):
        if required:
            add(errors, field, Text(N_("Velg minst ett svar for «{field}»."), field=field_label(field)))
        return [] if not required else None
    if not isinstance(values, list):
        add(errors, field, N_("Må være en liste med koder."))
        return None
    unknown = [v for v in values if not isinstance(v, str) or v not in VOCABULARIES[vocabulary]]
    if unknown:
        add(errors, field, Text(N_("Ukjent kode {value} for feltet «{field}»."), value=quoted(unknown[0]),
                                field=field_label(field)))
        return None
    order = codes(vocabulary)
    return sorted(set(values), key=order.index)


def yes_no(errors, field, value, required=True):
    """A yes/no answer from a form ("yes"/"no"/"ja"/"nei") or JSON (true/false)."""
    if isinstance(value, bool):
        return value
    if blank(value):
        if required:
            add(errors, field, N_("Svar ja eller nei."))
        return None
    lowered = str(value).strip().lower()
    if lowered in ("yes", "ja", "true"):
        return True
    if lowered in ("no", "nei", "false"):
        return False
    add(errors, field, N_("Svar ja eller nei."))
    return None


def a_date(errors, field, value, required=True, not_after=None, not_before=None, not_before_text=None):
    if isinstance(value, date):
        parsed = value
    elif blank(value):
        if required:
            add(errors, field, N_("Skriv en dato."))
        return None
    else:
        parsed = parse_date(str(value))
        if parsed is None:
            add(errors, field, dates.DATE_FORMAT_MESSAGE)
            return None
    if not_after is not None and parsed > not_after:
        add(errors, field, Text(N_("Datoen kan ikke være etter {date} (i dag)."), date=not_after.strftime("%d.%m.%Y")))
        return None
    if not_before is not None and parsed < not_before:
        add(errors, field, not_before_text or Text(N_("Datoen kan ikke være før {date}."),
                                                  date=not_before.strftime("%d.%m.%Y")))
        return None
    return parsed


def parse_date(text: str):
    return dates.parse_date(text)


def text(errors, field, value, required=False, max_length=200):
    if blank(value):
        if required:
            add(errors, field, N_("Feltet må fylles ut."))
        return None
    if not isinstance(value, str):
        add(errors, field, N_("Må være tekst."))
        return None
    value = value.strip()
    if len(value) > max_length:
        add(errors, field, Text(N_("Teksten er for lang (høyst {max} tegn)."), max=max_length))
        return None
    return value


def integer(errors, field, value, minimum=0, maximum=24 * 60, required=True):
    if blank(value):
        if required:
            add(errors, field, N_("Skriv et tall."))
        return None
    try:
        # A bool, an infinity or a fraction is not a whole number: int() would take True as 1 and 30.7 as 30.
        whole = not isinstance(value, bool) and not (isinstance(value, float) and not value.is_integer())
        number = int(value) if whole else None
    except (TypeError, ValueError, OverflowError):
        number = None
    if number is None:
        add(errors, field, N_("Skriv et helt tall."))
        return None
    if not minimum <= number <= maximum:
        add(errors, field, Text(N_("Tallet må være mellom {min} og {max}."), min=minimum, max=maximum))
        return None
    return number


def _matching(errors, field, value, max_length: int, pattern, message: str):
    value = text(errors, field, value, max_length=max_length)
    if value is not None and not pattern.match(value):
        add(errors, field, message)
        return None
    return value


def email(errors, field, value):
    return _matching(errors, field, value, 254, EMAIL, N_("Ugyldig e-postadresse."))


def phone(errors, field, value):
    return _matching(errors, field, value, 20, PHONE, N_("Ugyldig telefonnummer (8–15 siffer, gjerne med +47)."))


def eligibility(errors, counsellor: dict | None, in_target_group, in_follow_up_measure) -> list[str]:
    """The report's three rules; returns the ids of the rules that failed (and adds their field messages)."""
    failed = []
    if counsellor is None or counsellor.get("is_job_specialist"):
        failed.append("counsellor_is_job_specialist")
        add(errors, "counsellor", N_("Hybridmodellen er for NAV-veiledere: du er registrert som jobbspesialist "
                                     "og kan ikke opprette en sak."))
    if in_target_group is False:
        failed.append("candidate_not_in_target_group")
        add(errors, "in_target_group", N_("Brukeren må være i Inkluderingsdugnadens målgruppe."))
    if in_follow_up_measure is True:
        failed.append("candidate_in_follow_up_measure")
        add(errors, "in_follow_up_measure", N_("Brukeren kan ikke være i et oppfølgingstiltak samtidig."))
    return failed
