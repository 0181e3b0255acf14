"""The ingest's gate: which offices, consent events and closures the registry lets in.

A closure is accepted only when its office is covered by the research and the case's research-registration consent
is granted; a withdrawal bars the case for good; an expiry only makes later closures wait again.
"""
from __future__ import annotations

import re

PURPOSE = "research_registration"
_CRITERION_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")


def office_refusal(office: dict | None) -> str | None:
    """Why a message from this office is refused (the log's reason), or None when the research covers it."""
    if office is None:
        return "unknown_office"
    if not office["covered_by_research"]:
        return "office_not_covered_by_research"
    return None


def concerns_registration(payload: dict) -> bool:
    """A consent status the registry acts on: research registration, for a case (not a person-level consent)."""
    return payload["purpose"] == PURPOSE and payload["case_id"] is not None


def criterion_keys_are_codes(assessments: dict) -> bool:
    """Success-criterion keys reach the export: they must be codes, never free text."""
    return all(_CRITERION_KEY.match(key) for key in assessments)


def closure_fate(consent_state: str | None) -> str:
    """What happens to a closure given the case's consent: refused (withdrawn), accepted (granted) or waiting."""
    if consent_state == "withdrawn":
        return "refused"
    if consent_state == "granted":
        return "accepted"
    return "waiting"


def waiting_reason(consent_state: str | None) -> str:
    return "consent_expired" if consent_state == "expired" else "consent_not_granted"
