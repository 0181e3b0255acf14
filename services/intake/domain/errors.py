"""Domain errors; the HTTP edge turns them into the one error envelope (422 / 409)."""
from __future__ import annotations

from shared.text import N_, Text

FORM_HAS_ERRORS = N_("Skjemaet har feil: rett feltene som er merket.")


class Invalid(Exception):
    """Bad input: `errors` maps each field to its Norwegian messages. Nothing was changed."""

    def __init__(self, errors: dict[str, list[str]], message: str = FORM_HAS_ERRORS):
        super().__init__(message)
        self.errors = errors
        self.message = message


class NotEligible(Invalid):
    """An eligibility rule of the hybrid model failed; `rules` names which."""

    def __init__(self, errors, rules):
        super().__init__(errors, Text(N_("Saken kan ikke opprettes: {rules}."),
                                      rules=", ".join(RULE_TEXT[r] for r in rules)))
        self.rules = rules


class Conflict(Exception):
    """The case's state forbids this (e.g. editing the log of a closed case)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


RULE_TEXT = {
    "counsellor_is_job_specialist": "veilederen er jobbspesialist",
    "candidate_not_in_target_group": "brukeren er ikke i målgruppen",
    "candidate_in_follow_up_measure": "brukeren er i et oppfølgingstiltak",
}
