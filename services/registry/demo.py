"""The report's table 1 (21 cases, ch. 2.1) as closure payloads, for the demo and the done-when tests.

The mapping of each cell onto the vocabularies is data in tests/data/table1_cases.json (with the report's own
words beside each code). Fields the table does not have (dates, initiator, feedback...) are filled with neutral
values and said so in the file; they are not the report's data.
"""
from __future__ import annotations

import hashlib
import json
import random
import uuid
from datetime import UTC, date, datetime

from shared.bus.envelope import make_envelope
from shared.config import REPO_ROOT
from shared.vocab import VOCABULARIES

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
                    "intensity_candidate": None, "intensity_mentor": None, "forms_candidate": [], "forms_mentor": [],
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


# A synthetic cohort for disclosure, release and benchmark runs: offices of very different size, two years of
# closures; in the second year only one office per county has cases (the case where a county's column repeats an
# office's). The codes are drawn with falling weights so that tables have both large and small cells.
COHORT_OFFICES_BY_YEAR = {
    2022: (("kristiansand", 10), ("lister", 3), ("midtre-gauldal", 4), ("malvik", 2), ("bergen-vest", 6),
           ("hoyanger", 1)),
    2023: (("kristiansand", 10), ("midtre-gauldal", 4), ("bergen-vest", 6)),
}
COHORT_VARIED = ("initiator", "attachment_before", "duration", "attachment_after", "industry")


def _weighted(rng, vocabulary, leave_out=None):
    codes = [c for c in VOCABULARIES[vocabulary] if c != leave_out]
    return rng.choices(codes, weights=[1 / (1 + k) ** 1.5 for k in range(len(codes))])[0]


def synthetic_payloads(count: int, seed: int = 18):
    """(office, closure payload) for `count` synthetic cases (case numbers from 1000 up), reproducible by seed."""
    data = load_cases()
    template = data["cases"][0]
    rng = random.Random(seed)
    for number in range(1000, 1000 + count):
        year = 2022 if rng.random() < 0.45 else 2023
        offices, weights = zip(*COHORT_OFFICES_BY_YEAR[year], strict=True)
        office = rng.choices(offices, weights=weights)[0]
        closed = date(year, rng.randint(1, 12), rng.randint(1, 28))
        case = {**template, "case": number, "office": office, "closed_on": closed.isoformat(),
                "opened_on": date(year - 1, closed.month, 1).isoformat(),
                "codes": {**template["codes"], "reasons": sorted(set(rng.sample(list(VOCABULARIES["reason"]),
                                                                                rng.randint(1, 3)))),
                          "frequency_mentor": _weighted(rng, "contact_frequency"),
                          "attached_same_company": rng.choice(("yes", "no", "no", "unknown")),
                          **{name: _weighted(rng, name) for name in COHORT_VARIED}}}
        payload = closure_payload(case, {**data["defaults"], "initiator": case["codes"]["initiator"]})
        # Table 5 per party from a generator of its own, so the cohort's other answers stay as they were; a party
        # never contacted has no intensity or form.
        per_party = random.Random(f"{seed}-{number}")
        party = {"frequency_candidate": _weighted(per_party, "contact_frequency", leave_out="employer_is_mentor")}
        for name in ("candidate", "mentor"):
            never = (party.get("frequency_candidate") if name == "candidate"
                     else case["codes"]["frequency_mentor"]) == "never"
            party[f"intensity_{name}"] = None if never else _weighted(per_party, "contact_intensity")
            party[f"forms_{name}"] = [] if never else sorted(per_party.sample(list(VOCABULARIES["contact_form"]),
                                                                              per_party.randint(1, 3)))
        payload["contact"].update(intensity=_weighted(rng, "contact_intensity"), **party)
        payload["contact"]["forms"] = sorted(set(rng.sample(list(VOCABULARIES["contact_form"]), 2))
                                             | set(party["forms_candidate"]) | set(party["forms_mentor"]))
        payload["measures"].append({"measure": "work_training", "from_date": date(year - 1, closed.month, 1),
                                    "to_date": None})
        payload["success_criteria"]["assessments"] = {criterion: _weighted(rng, "success_assessment")
                                                      for criterion in ("still_employed", "own_wage")}
        yield office, payload


def seed_cohort(platform, count: int, seed: int = 18) -> dict:
    """The synthetic cohort through the ingest (consent granted, then the closure), as intake and consent send it."""
    outcomes = {}
    for office, payload in synthetic_payloads(count, seed):
        closure = make_envelope("case.closed", office, payload, producer="intake")
        for envelope in (consent_envelope("consent.granted", office, payload["case_id"]), closure):
            outcome = str(handlers.process(platform, envelope))
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes
