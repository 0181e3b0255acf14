"""The checks of one signed consent form: every problem at once, field by field, in Norwegian."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from shared import national_ids
from shared.text import N_, Text
from shared.vocab import codes, term

from .errors import ConsentInvalid
from .signers import PERSON_SIGNER, required_slots
from .uploads import UploadRefused, sniff_document

DECISIONS = ("granted", "refused")
METHODS = ("scanned_paper", "digital")
ENABLED_METHODS = ("scanned_paper",)
NAME_MAX_CHARS = 200
NATIONAL_ID_MAX_CHARS = 20  # 11 digits, with room for the spaces people type between groups


@dataclass(frozen=True)
class CheckedConsent:
    """A form that passed every check: what is stored (the document itself stays with the caller)."""

    signer_role: str
    signer_name: str
    signer_national_id: str | None
    signed_on: date
    method: str
    content_type: str
    decisions: dict  # purpose -> granted | refused
    templates: dict  # purpose -> the template version in force on the signing date


def chosen_decisions(cmd: dict) -> dict:
    return {p: d for p, d in (cmd.get("decisions") or {}).items() if d}


def known_decision(purpose: str, decision: str) -> bool:
    return purpose in codes("consent_purpose") and decision in DECISIONS


def template_date(cmd: dict, today: date) -> date:
    """The date whose template version applies: the signing date, or today while that is missing."""
    signed_on = cmd.get("signed_on")
    return signed_on if isinstance(signed_on, date) else today


def check_consent(cmd: dict, case: dict | None, templates: dict, today: date, max_upload_bytes: int,
                  allow_synthetic_national_ids: bool = False) -> CheckedConsent:
    """Check one form. `case` is the office's case (None for a person's consent), `templates` the template in force
    on `template_date` for each known purpose chosen (None where there is none); synthetic test national IDs only
    where allowed (a test environment). Raises ConsentInvalid."""
    errors: dict[str, list[str]] = {}

    def err(name, message):
        errors.setdefault(name, []).append(message)

    content_type = None
    try:
        content_type = sniff_document(cmd.get("document"), max_upload_bytes)
    except UploadRefused as refused:
        err("document", refused.message)

    case_id, subject_ref = cmd.get("case_id"), cmd.get("subject_ref")
    if bool(case_id) == bool(subject_ref):
        err("case_id", N_("Oppgi enten saken eller personen samtykket gjelder (ikke begge)."))
    kind = "case" if case_id else "person"

    signer_role = cmd.get("signer_role")
    if signer_role not in codes("signer_role"):
        err("signer_role", N_("Velg hvem som har signert (bruker, mentor, arbeidsgiver eller veileder)."))
    name = (cmd.get("signer_name") or "").strip()
    if not name:
        err("signer_name", N_("Skriv navnet til den som har signert."))
    elif len(name) > NAME_MAX_CHARS:
        err("signer_name", Text(N_("Navnet kan være høyst {max} tegn."), max=NAME_MAX_CHARS))
    national_id = (cmd.get("signer_national_id") or "").replace(" ", "") or None
    if national_id is not None and not national_ids.is_valid(national_id, allow_synthetic_national_ids):
        err("signer_national_id", N_("Fødselsnummeret er ikke gyldig (11 siffer med riktige kontrollsiffer)."))
    method = cmd.get("method") or "scanned_paper"
    if method not in METHODS:
        err("method", N_("Ukjent signeringsmåte."))
    elif method not in ENABLED_METHODS:
        err("method", N_("Digital signering er ikke tatt i bruk ennå. Registrer skannet papirsamtykke."))
    signed_on = cmd.get("signed_on")
    if not isinstance(signed_on, date):
        err("signed_on", N_("Oppgi datoen samtykket ble signert."))
    elif signed_on > today:
        err("signed_on", N_("Signeringsdatoen kan ikke være frem i tid."))

    decisions = chosen_decisions(cmd)
    used = {}
    if not decisions:
        err("decisions", N_("Kryss av for minst ett formål: samtykket eller ikke samtykket."))
    for purpose, decision in decisions.items():
        if not known_decision(purpose, decision):
            err("decisions", Text(N_("Ukjent formål eller svar: {purpose}."), purpose=purpose))
            continue
        purpose_label = term("consent_purpose", purpose)
        template = templates.get(purpose)
        if template is None:
            err("decisions", Text(N_("Det finnes ingen samtykkemal for «{purpose}» på signeringsdatoen."),
                                     purpose=purpose_label))
            continue
        if template["subject_kind"] != kind:
            err("decisions", Text(N_("«{purpose}» gjelder en sak.") if template["subject_kind"] == "case"
                                  else N_("«{purpose}» gjelder en ansatt (ikke en sak)."), purpose=purpose_label))
            continue
        if isinstance(signed_on, date) and signed_on > template["expires_on"]:
            err("signed_on", Text(N_("Malen for «{purpose}» gjaldt til {date}."), purpose=purpose_label,
                                  date=f"{template['expires_on']:%d.%m.%Y}"))
        if signer_role in codes("signer_role"):
            fills = [slot for slot in required_slots(template, case) if signer_role in slot.roles]
            if not fills:
                err("signer_role", Text(N_("{role} skal ikke signere for «{purpose}» i denne saken.") if case
                                        else N_("{role} skal ikke signere for «{purpose}»."),
                                        role=term("signer_role", signer_role), purpose=purpose_label))
        used[purpose] = template
    if case is not None and signer_role == "mentor" and case["mentor_relation"] == "none":
        err("signer_role", N_("Saken har ingen mentor."))
    if kind == "person" and signer_role not in (None, PERSON_SIGNER) and signer_role in codes("signer_role"):
        err("signer_role", N_("Et samtykke som gjelder en ansatt, signeres av den ansatte selv (veileder)."))
    if errors:
        raise ConsentInvalid(errors)
    return CheckedConsent(signer_role=signer_role, signer_name=name, signer_national_id=national_id,
                          signed_on=signed_on, method=method, content_type=content_type, decisions=decisions,
                          templates=used)
