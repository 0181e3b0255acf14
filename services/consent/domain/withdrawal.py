"""The checks of a withdrawal, and the data policy it records and announces."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from shared.text import N_, Text
from shared.vocab import codes

from .errors import ConsentInvalid

DEFAULT_POLICY = "erase"
DATA_POLICY_TEXT = {
    "erase": N_("Data som allerede er hos forskerne for dette formålet, skal slettes (sletting er varslet "
                "forskerne)."),
    "research_exemption": N_("Data som allerede er hos forskerne, beholdes etter forskningsunntaket "
                             "(personvernforordningen art. 17 nr. 3 bokstav d), men nye data sendes ikke."),
}


@dataclass(frozen=True)
class CheckedWithdrawal:
    requested_on: date
    signer_role: str | None  # None: every signer
    purposes: list  # empty: every purpose


def check_subject(cmd: dict) -> None:
    """A withdrawal concerns either a case or a person, never both."""
    if bool(cmd.get("case_id")) == bool(cmd.get("subject_ref")):
        raise ConsentInvalid({"case_id": [N_("Oppgi enten saken eller personen samtykket gjelder (ikke begge).")]})


def check_withdrawal(cmd: dict, today: date) -> CheckedWithdrawal:
    requested_on = cmd.get("requested_on") or today
    errors = {}
    if requested_on > today:
        errors["requested_on"] = [N_("Datoen for tilbaketrekkingen kan ikke være frem i tid.")]
    signer_role = cmd.get("signer_role") or None
    if signer_role is not None and signer_role not in codes("signer_role"):
        errors["signer_role"] = [N_("Ukjent rolle.")]
    purposes = list(cmd.get("purposes") or [])
    unknown = [p for p in purposes if p not in codes("consent_purpose")]
    if unknown:
        errors["purposes"] = [Text(N_("Ukjent formål: {purposes}."), purposes=", ".join(unknown))]
    if errors:
        raise ConsentInvalid(errors)
    return CheckedWithdrawal(requested_on, signer_role, purposes)


def data_policy(project_settings: dict | None) -> str:
    """The project's `withdrawal_policy`: what happens to data the researchers already have."""
    return (project_settings or {}).get("withdrawal_policy", DEFAULT_POLICY)
