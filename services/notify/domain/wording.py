"""The Norwegian words for the rules, shared by the pages, the mails and the access export."""
from __future__ import annotations

RULE_TEXT = {
    "closure_overdue": ("Sluttskjema mangler", "Saken har ikke hatt aktivitet eller tiltak på en stund og er ikke "
                        "avsluttet. Fyll ut sluttskjemaet eller registrer ny aktivitet."),
    "mentor_contact_missing": ("Ingen kontakt med mentor", "Det er ikke logget kontakt med mentor på en stund. "
                               "Hybridmodellen forutsetter tett og jevn kontakt med mentor."),
    "consent_missing": ("Samtykke mangler", "Samtykke til at registreringsdata deles med forskerne er ikke "
                        "registrert for saken."),
    "project_end": ("Prosjektet nærmer seg slutt", "Prosjektet avsluttes snart. Send sluttskjemaet for "
                    "saken, også om den fortsatt pågår."),
    "interview": ("Intervjuer skal avtales", "Et intervjutidspunkt i prosjektet nærmer seg. Avtal intervju med "
                  "mentor og arbeidsgiver, og marker intervjuet som avtalt i varslingslisten."),
    "employer_survey": ("Arbeidsgiverundersøkelse", "Invitasjon til arbeidsgiverundersøkelsen."),
}


def rule_title(rule):
    return RULE_TEXT[rule][0]


def rule_text(rule):
    return RULE_TEXT[rule][1]


def notification_title(rule, kind):
    return rule_title(rule) + (" (eskalert)" if kind == "escalation" else "")


def case_ref(case_id: str) -> str:
    return "Sak " + case_id[:8]
