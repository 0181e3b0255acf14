"""The case as people name it on every page and in every mail, whichever service shows it."""
from __future__ import annotations

REFERENCE_LENGTH = 8  # the start of the case id: unique enough within an office, short enough to read out


def case_code(case_id) -> str:
    """The reference without the word "Sak" ("ef2e8883"), for a page that puts it in a translated text."""
    return str(case_id)[:REFERENCE_LENGTH]


def case_reference(case_id) -> str:
    """The short name of a case ("Sak ef2e8883"): the start of its id. Intake's case pages, consent's and notify's
    pages and mails name the case by it, so a counsellor can match them by eye."""
    return f"Sak {case_code(case_id)}"
