"""The Norwegian words for the rules, shared by the pages, the mails and the access export: message ids (bokmål),
put in the reader's language where they leave (shared.web.i18n.translate on pages, the mail's language in
mailer.py)."""
from __future__ import annotations

from shared.cases import case_code
from shared.text import N_, Text

RULE_TEXT = {
    "closure_overdue": (N_("Sluttskjema mangler"), N_("Saken har ikke hatt aktivitet eller tiltak på en stund og er "
                        "ikke avsluttet. Fyll ut sluttskjemaet eller registrer ny aktivitet.")),
    "mentor_contact_missing": (N_("Ingen kontakt med mentor"), N_("Det er ikke logget kontakt med mentor på en stund. "
                               "Hybridmodellen forutsetter tett og jevn kontakt med mentor.")),
    "consent_missing": (N_("Samtykke mangler"), N_("Samtykke til at registreringsdata deles med forskerne er ikke "
                        "registrert for saken.")),
    "project_end": (N_("Prosjektet nærmer seg slutt"), N_("Prosjektet avsluttes snart. Send sluttskjemaet for "
                    "saken, også om den fortsatt pågår.")),
    "interview": (N_("Intervjuer skal avtales"), N_("Et intervjutidspunkt i prosjektet nærmer seg. Avtal intervju "
                  "med mentor og arbeidsgiver, og marker intervjuet som avtalt i varslingslisten.")),
    "employer_survey": (N_("Arbeidsgiverundersøkelse"), N_("Invitasjon til arbeidsgiverundersøkelsen.")),
}


def rule_title(rule):
    return RULE_TEXT[rule][0]


def rule_text(rule):
    return RULE_TEXT[rule][1]


def notification_title(rule, kind):
    """The rule's title, marked when escalated; reads as bokmål, translated where it leaves (a Text)."""
    if kind == "escalation":
        return Text(N_("{title} (eskalert)"), title=Text(rule_title(rule)))
    return Text(rule_title(rule))


def case_ref(case_id: str) -> Text:
    """The case's name on notify's pages and in its mails, as intake's case page shows it (shared.cases): reads as
    bokmål ("Sak ef2e8883"); the word is translated where it leaves (a Text)."""
    return Text(N_("Sak {code}"), code=case_code(case_id))
