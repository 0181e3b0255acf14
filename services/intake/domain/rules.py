"""Field rules shared by the intake forms: national ID, organisation number, codes, dates, eligibility.

Each check appends Norwegian messages to an `errors` dict keyed by field and returns the cleaned value (or None),
so a form can collect every problem at once instead of stopping at the first.
"""
from __future__ import annotations

import re
from datetime import date

from stdnum.exceptions import ValidationError as StdnumError
from stdnum.no import fodselsnummer, orgnr

from shared import national_ids
from shared.vocab import VOCABULARIES, codes

from .errors import RULE_TEXT  # noqa: F401  (re-exported for callers)

FIELD_LABELS = {
    "national_id": "Fødselsnummer eller D-nummer", "candidate_name": "Brukerens navn",
    "in_target_group": "Er brukeren i Inkluderingsdugnadens målgruppe?",
    "in_follow_up_measure": "Er brukeren i et oppfølgingstiltak?", "counsellor": "Veileder",
    "entry_point": "Inngang", "industry": "Bransje", "initiator": "Initiativtaker",
    "attachment_before": "Tilknytning til bedriften før tiltaket",
    "counsellor_knew_company": "Kjente veileder bedriften?",
    "reasons": "Begrunnelse for tiltaket", "opened_on": "Startdato", "employer_orgnr": "Organisasjonsnummer",
    "employer_name": "Arbeidsgiverens navn", "employer_contact_name": "Kontaktperson hos arbeidsgiver",
    "employer_contact_email": "Kontaktpersonens e-post", "employer_contact_phone": "Kontaktpersonens telefon",
    "mentor_name": "Mentorens navn", "mentor_relation": "Mentorens rolle",
    "contact_date": "Dato", "party": "Hvem", "form": "Kontaktform", "minutes": "Minutter brukt",
    "note": "Internt notat",
    "measure": "Tiltak/tilskudd", "from_date": "Fra dato", "to_date": "Til dato",
    "counsellor_id": "Ny veileder", "start_meeting_on": "Dato for oppstartsmøte",
    "plan_tasks": "Arbeidsoppgaver i planen",
    "plan_mentor_expectations": "Forventninger til mentor",
    "closed_on": "Avslutningsdato", "closure_reason": "Årsak til avslutning",
    "attachment_after": "Tilknytning etter avslutning",
    "attached_same_company": "Tilknyttet samme bedrift?", "feedback_mentor": "Brukerens tilbakemelding om mentor",
    "feedback_counsellor": "Brukerens tilbakemelding om veileder",
    "frequency_candidate": "Kontakt veileder–bruker", "frequency_mentor": "Kontakt veileder–mentor",
    "frequency_employer": "Kontakt veileder–arbeidsgiver", "intensity": "Kontaktintensitet",
    "forms": "Kontaktformer", "duration": "Varighet", "success_criteria": "Suksesskriterier",
}
for _step in range(1, 8):
    FIELD_LABELS[f"step_{_step}"] = f"Steg {_step}"

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
    return "(et fødselsnummer, som ikke hører hjemme her)" if holds_national_id(shown) else f"«{shown}»"


def add(errors: dict, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def unknown_fields(raw: dict, allowed) -> dict:
    """A form's fields that are not `allowed`, each with its message."""
    errors = {}
    for field in sorted(set(raw) - set(allowed)):
        add(errors, field, "Ukjent felt.")
    return errors


def blank(value) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "") or value == []


def national_id(errors, field, value):
    """Fødselsnummer or D-number (first digit +4), checked with both control digits."""
    if blank(value):
        add(errors, field, "Skriv brukerens fødselsnummer eller D-nummer (11 siffer).")
        return None
    compact = fodselsnummer.compact(str(value))
    if not compact.isdigit() or len(compact) != 11:
        add(errors, field, "Fødselsnummeret må ha 11 siffer.")
        return None
    try:
        return national_ids.validate(compact)
    except national_ids.SyntheticNotAllowed:
        add(errors, field, "Syntetiske testnumre (Tenor) tas bare imot i et testmiljø.")
        return None
    except StdnumError:
        add(errors, field, "Fødselsnummeret er ikke gyldig: kontrollsifrene stemmer ikke eller datoen finnes ikke.")
        return None


def organisation_number(errors, field, value, required=False):
    if blank(value):
        if required:
            add(errors, field, "Skriv organisasjonsnummeret (9 siffer).")
        return None
    compact = orgnr.compact(str(value))
    if not compact.isdigit() or len(compact) != 9:
        add(errors, field, "Organisasjonsnummeret må ha 9 siffer.")
        return None
    try:
        return orgnr.validate(compact)
    except StdnumError:
        add(errors, field, "Organisasjonsnummeret er ikke gyldig: kontrollsifferet stemmer ikke.")
        return None


def code(errors, field, vocabulary, value, required=True, allowed=None):
    """A controlled-vocabulary code; an unknown code names the field and lists nothing personal."""
    if blank(value):
        if required:
            label = FIELD_LABELS.get(field, field)
            add(errors, field, "Velg et svar." if label.endswith("?") else f"Velg {label.lower()}.")
        return None
    if not isinstance(value, str) or value not in VOCABULARIES[vocabulary]:
        add(errors, field, f"Ukjent kode {quoted(value)} for feltet «{FIELD_LABELS.get(field, field)}».")
        return None
    if allowed is not None and value not in allowed:
        add(errors, field, f"«{VOCABULARIES[vocabulary][value]['nb']}» kan ikke velges her.")
        return None
    return value


def codes_list(errors, field, vocabulary, values, required=True):
    if isinstance(values, str):
        values = [values]
    if blank(values):
        if required:
            add(errors, field, f"Velg minst ett svar for «{FIELD_LABELS.get(field, field)}».")
        return [] if not required else None
    if not isinstance(values, list):
        add(errors, field, "Må være en liste med koder.")
        return None
    unknown = [v for v in values if not isinstance(v, str) or v not in VOCABULARIES[vocabulary]]
    if unknown:
        add(errors, field, f"Ukjent kode {quoted(unknown[0])} for feltet «{FIELD_LABELS.get(field, field)}».")
        return None
    order = codes(vocabulary)
    return sorted(set(values), key=order.index)


def yes_no(errors, field, value, required=True):
    """A yes/no answer from a form ("yes"/"no"/"ja"/"nei") or JSON (true/false)."""
    if isinstance(value, bool):
        return value
    if blank(value):
        if required:
            add(errors, field, "Svar ja eller nei.")
        return None
    lowered = str(value).strip().lower()
    if lowered in ("yes", "ja", "true"):
        return True
    if lowered in ("no", "nei", "false"):
        return False
    add(errors, field, "Svar ja eller nei.")
    return None


def a_date(errors, field, value, required=True, not_after=None, not_before=None, not_before_text=None):
    if isinstance(value, date):
        parsed = value
    elif blank(value):
        if required:
            add(errors, field, "Skriv en dato.")
        return None
    else:
        parsed = parse_date(str(value))
        if parsed is None:
            add(errors, field, "Ugyldig dato. Skriv datoen som dd.mm.åååå.")
            return None
    if not_after is not None and parsed > not_after:
        add(errors, field, f"Datoen kan ikke være etter {not_after.strftime('%d.%m.%Y')} (i dag).")
        return None
    if not_before is not None and parsed < not_before:
        add(errors, field, not_before_text or f"Datoen kan ikke være før {not_before.strftime('%d.%m.%Y')}.")
        return None
    return parsed


def parse_date(text: str):
    text = text.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    match = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", text)
    if match:
        try:
            return date(int(match[3]), int(match[2]), int(match[1]))
        except ValueError:
            return None
    return None


def text(errors, field, value, required=False, max_length=200):
    if blank(value):
        if required:
            add(errors, field, "Feltet må fylles ut.")
        return None
    if not isinstance(value, str):
        add(errors, field, "Må være tekst.")
        return None
    value = value.strip()
    if len(value) > max_length:
        add(errors, field, f"Teksten er for lang (høyst {max_length} tegn).")
        return None
    return value


def integer(errors, field, value, minimum=0, maximum=24 * 60, required=True):
    if blank(value):
        if required:
            add(errors, field, "Skriv et tall.")
        return None
    try:
        # A bool, an infinity or a fraction is not a whole number: int() would take True as 1 and 30.7 as 30.
        whole = not isinstance(value, bool) and not (isinstance(value, float) and not value.is_integer())
        number = int(value) if whole else None
    except (TypeError, ValueError, OverflowError):
        number = None
    if number is None:
        add(errors, field, "Skriv et helt tall.")
        return None
    if not minimum <= number <= maximum:
        add(errors, field, f"Tallet må være mellom {minimum} og {maximum}.")
        return None
    return number


def _matching(errors, field, value, max_length: int, pattern, message: str):
    value = text(errors, field, value, max_length=max_length)
    if value is not None and not pattern.match(value):
        add(errors, field, message)
        return None
    return value


def email(errors, field, value):
    return _matching(errors, field, value, 254, EMAIL, "Ugyldig e-postadresse.")


def phone(errors, field, value):
    return _matching(errors, field, value, 20, PHONE, "Ugyldig telefonnummer (8–15 siffer, gjerne med +47).")


def eligibility(errors, counsellor: dict | None, in_target_group, in_follow_up_measure) -> list[str]:
    """The report's three rules; returns the ids of the rules that failed (and adds their field messages)."""
    failed = []
    if counsellor is None or counsellor.get("is_job_specialist"):
        failed.append("counsellor_is_job_specialist")
        add(errors, "counsellor", "Hybridmodellen er for NAV-veiledere: du er registrert som jobbspesialist "
                                  "og kan ikke opprette en sak.")
    if in_target_group is False:
        failed.append("candidate_not_in_target_group")
        add(errors, "in_target_group", "Brukeren må være i Inkluderingsdugnadens målgruppe.")
    if in_follow_up_measure is True:
        failed.append("candidate_in_follow_up_measure")
        add(errors, "in_follow_up_measure", "Brukeren kan ikke være i et oppfølgingstiltak samtidig.")
    return failed
