"""The report's table 1 (21 cases, ch. 2.1) as closure payloads, for the demo and the done-when tests.

The mapping of each cell onto the vocabularies is data in tests/data/table1_cases.json (with the report's own
words beside each code). Fields the table does not have (dates, initiator, feedback...) are filled with neutral
values and said so in the file; they are not the report's data.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, date, datetime

from shared.bus.envelope import make_envelope
from shared.config import REPO_ROOT

from . import handlers

CASES_FILE = REPO_ROOT / "tests" / "data" / "table1_cases.json"
NAMESPACE = uuid.UUID("6f1c3c84-5d0b-4a55-9d55-8d2a3c3e6f10")


def load_cases(path=CASES_FILE) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def case_id(number: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"table1-case-{number}"))


def _hex(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def closure_payload(case: dict, defaults: dict, version: int = 1) -> dict:
    """A case.closed / case.project_end_status payload for one mapped case."""
    number = case["case"]
    codes = case["codes"]
    opened = date.fromisoformat(case.get("opened_on", defaults["opened_on"]))
    closed = date.fromisoformat(case.get("closed_on", defaults["closed_on"]))
    mentor_id = str(uuid.uuid5(NAMESPACE, f"mentor-{number}")) if codes["mentor_relation"] != "none" else None
    return {
        "case_id": case_id(number), "version": version,
        "candidate_hash": _hex(f"candidate-{case.get('candidate', number)}"),
        "counsellor_id": case["counsellor_id"], "mentor_id": mentor_id,
        "employer_hash": _hex(f"employer-{number}"),
        "opened_on": opened, "closed_on": closed,
        "closure_reason": codes["closure_reason"], "entry_point": codes["entry_point"],
        "industry": codes["industry"], "initiator": defaults["initiator"], "reasons": codes["reasons"],
        "counsellor_knew_company": codes["counsellor_knew_company"],
        "attachment_before": codes["attachment_before"], "mentor_relation": codes["mentor_relation"],
        "mentor_measure_used": True,
        "measures": [{"measure": m, "from_date": opened, "to_date": closed} for m in codes["measures"]],
        "contact": {"frequency_candidate": codes["frequency_candidate"], "frequency_mentor": codes["frequency_mentor"],
                    "frequency_employer": codes["frequency_employer"], "intensity": None, "forms": [],
                    "duration": codes["duration"], "contacts_logged": 0, "minutes_total": 0},
        "attachment_after": codes["attachment_after"], "attached_same_company": codes["attached_same_company"],
        "success_criteria": {"list_version": defaults["success_list_version"], "assessments": {}},
        "feedback_mentor": defaults["feedback"], "feedback_counsellor": defaults["feedback"],
    }


def closure_envelope(case: dict, defaults: dict, version: int = 1, occurred_at=None) -> dict:
    event = "case.project_end_status" if case["codes"]["closure_reason"] == "project_end" else "case.closed"
    return make_envelope(event, case["office"], closure_payload(case, defaults, version), producer="intake",
                         occurred_at=occurred_at)


def consent_envelope(event_type: str, office: str, case_uuid: str, occurred_at=None, **extra) -> dict:
    at = occurred_at or datetime(2026, 11, 1, tzinfo=UTC)
    payload = {"case_id": case_uuid, "purpose": "research_registration", "template_version": 1, "effective_at": at}
    if event_type == "consent.granted":
        payload.setdefault("expires_on", None)
    payload.update(extra)
    return make_envelope(event_type, office, payload, producer="consent", occurred_at=at)


def seed(platform) -> dict:
    data = load_cases()
    outcomes = {}
    for case in data["cases"]:
        for envelope in (consent_envelope("consent.granted", case["office"], case_id(case["case"])),
                         closure_envelope(case, data["defaults"])):
            outcome = str(handlers.process(platform, envelope))
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes
