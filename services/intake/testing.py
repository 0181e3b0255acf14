"""Enter whole cases programmatically: the demo seed, the registry's 21 report cases and the fault suite use it.

    from services.intake.testing import enter_case, fake_national_id

    result = enter_case(platform, office="kristiansand", counsellor_id="kari-veileder", values={
        # table-1 columns at opening (codes from shared.vocab)
        "opened_on": "2022-01-10", "entry_point": "course_start", "industry": "retail",
        "initiator": "counsellor", "reasons": ["extra_follow_up", "norwegian_work_culture"],
        "counsellor_knew_company": "no", "attachment_before": "none",
        "mentor_relation": "colleague",            # colleague | manager ("AG er mentor") | external | none
        # optional: "national_id" (default: a checksum-valid fake from `seed`), "candidate_name", "mentor_name",
        # "employer_orgnr" (default: a valid fake), "employer_name", "employer_contact_name", ...
        "measures": [{"measure": "mentor_subsidy", "from_date": "2022-01-17", "to_date": "2022-04-17"}],
        "contacts": [{"contact_date": "2022-01-17", "party": "mentor", "form": "at_company", "minutes": 45}],
        # optional "closure": omit (or None) to leave the case open
        "closure": {"closed_on": "2022-04-20", "closure_reason": "measure_completed",
                    "attachment_after": "permanent_without_wage_subsidy", "attached_same_company": "yes",
                    "feedback_mentor": "satisfied", "feedback_counsellor": "very_satisfied",
                    # optional: "success_criteria": {code: assessment} (default all "achieved"),
                    # and overrides of the derived tables 5/6: "frequency_candidate", "frequency_mentor",
                    # "frequency_employer", "intensity_candidate", "intensity_mentor", "forms_candidate",
                    # "forms_mentor", "duration"; table-1 overrides likewise
                    },
    }, seed=1)
    result -> {"case_id": ..., "candidate_hash": ..., "national_id": ..., "record": <closure payload or None>}

Each step runs through the same service functions (and so the same validation, history and outbox events) as the
API; an invalid value raises `services.intake.domain.Invalid` with the field errors. The counsellor must be a
counsellor of `office` in the directory who is not a job specialist. Dates may be ISO strings or `date`s and must
not be after the platform clock's today. Runs in one transaction per call unless `conn` is given.
"""
from __future__ import annotations

import random
from datetime import date

from .domain.derive import contact_summary
from .domain.rules import parse_date
from .service import Actor, closure_context, open_case, save_contact, save_measure, submit_closure
from .store import load_success_criteria

# One whole case, opened to closed (a measure, a mentor contact, the closure form): what the soak and the fault
# and cluster suites enter over and over, each time with its own `seed`.
SAMPLE_CASE = {
    "opened_on": "2026-02-02", "entry_point": "course_start", "industry": "retail", "initiator": "counsellor",
    "reasons": ["extra_follow_up"], "counsellor_knew_company": "no", "attachment_before": "none",
    "mentor_relation": "colleague",
    "measures": [{"measure": "mentor_subsidy", "from_date": "2026-02-09", "to_date": "2026-05-09"}],
    "contacts": [{"contact_date": "2026-02-09", "party": "mentor", "form": "at_company", "minutes": 45}],
    "closure": {"closed_on": "2026-05-11", "closure_reason": "measure_completed",
                "attachment_after": "permanent_without_wage_subsidy", "attached_same_company": "yes",
                "feedback_mentor": "satisfied", "feedback_counsellor": "very_satisfied"},
}

FIRST_NAMES = ("Testa", "Fiktiv", "Demo", "Prøve", "Eksempel", "Oppdikta")
LAST_NAMES = ("Testesen", "Eksempelsen", "Demodatter", "Fiktivsen", "Prøvestad", "Plasseholder")


def fake_national_id(seed: int, d_number: bool = False) -> str:
    """A checksum-valid, obviously generated fødselsnummer (or D-number) for demo and tests."""
    rng = random.Random(seed)
    while True:
        born = date(rng.randint(1960, 2004), rng.randint(1, 12), rng.randint(1, 28))
        individual = rng.randint(0, 499) if born.year < 2000 else rng.randint(500, 999)
        day = born.day + (40 if d_number else 0)
        base = f"{day:02d}{born.month:02d}{born.year % 100:02d}{individual:03d}"
        k1 = (11 - sum(w * int(n) for w, n in zip((3, 7, 6, 1, 8, 9, 4, 5, 2), base, strict=True))) % 11
        if k1 == 10:
            continue
        k2 = (11 - sum(w * int(n) for w, n in zip((5, 4, 3, 2, 7, 6, 5, 4, 3, 2), base + str(k1), strict=True))) % 11
        if k2 == 10:
            continue
        return base + str(k1) + str(k2)


def fake_orgnr(seed: int) -> str:
    """A checksum-valid organisation number (mod 11) for demo employers."""
    rng = random.Random(seed * 7919 + 13)
    while True:
        base = "9" + "".join(str(rng.randint(0, 9)) for _ in range(7))
        check = (11 - sum(w * int(n) for w, n in zip((3, 2, 7, 6, 5, 4, 3, 2), base, strict=True)) % 11) % 11
        if check != 10:
            return base + str(check)


def fake_name(seed: int) -> str:
    rng = random.Random(seed)
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def enter_case(platform, office: str, counsellor_id: str, values: dict, seed: int = 0, conn=None) -> dict:
    if conn is None:
        with platform.engine.begin() as conn:
            return enter_case(platform, office, counsellor_id, values, seed, conn)
    actor = Actor(office, counsellor_id)
    values = dict(values)
    contacts = values.pop("contacts", [])
    measures = values.pop("measures", [])
    closure = values.pop("closure", None)
    fnr = values.pop("national_id", None) or fake_national_id(seed, d_number=seed % 5 == 4)
    relation = values.get("mentor_relation", "none")
    form = {"national_id": fnr, "candidate_name": values.pop("candidate_name", None) or fake_name(seed),
            "in_target_group": "yes", "in_follow_up_measure": "no", "mentor_relation": relation,
            "mentor_name": values.pop("mentor_name", None) or (
                None if relation == "none" else f"Mentor {fake_name(seed + 1000)}"),
            "employer_orgnr": values.pop("employer_orgnr", None) or fake_orgnr(seed),
            "employer_name": values.pop("employer_name", None) or f"Demo Bedrift {seed} AS", **values}
    case = open_case(conn, platform, actor, form)
    for measure in measures:
        save_measure(conn, platform, actor, case["id"], measure)
    for contact in contacts:
        save_contact(conn, platform, actor, case["id"], contact)
    record = None
    if closure:
        ctx = closure_context(conn, platform, office, case["id"])
        criteria = load_success_criteria()
        closed = closure["closed_on"] if isinstance(closure["closed_on"], date) else parse_date(closure["closed_on"])
        # Derived over the case's own period (opening or first measure -> closure date), as the form shows it.
        derived = contact_summary(ctx["contacts"], ctx["measures"], case["opened_on"], closed, ctx["today"],
                                  case["mentor_relation"])
        form = {
            "industry": case["industry"], "initiator": case["initiator"], "reasons": case["reasons"],
            "counsellor_knew_company": case["counsellor_knew_company"], "attachment_before": case["attachment_before"],
            "frequency_candidate": derived["frequency_candidate"], "frequency_mentor": derived["frequency_mentor"],
            "frequency_employer": derived["frequency_employer"],
            "intensity_candidate": derived["intensity_candidate"], "intensity_mentor": derived["intensity_mentor"],
            "forms_candidate": derived["forms_candidate"], "forms_mentor": derived["forms_mentor"],
            "duration": derived["duration"],
            "success_criteria": {c["code"]: "achieved" for c in criteria["criteria"]},
            **{k: (v.isoformat() if isinstance(v, date) else v) for k, v in closure.items()},
        }
        record = submit_closure(conn, platform, actor, case["id"], form, ctx["case"]["revision"])
    return {"case_id": case["id"], "candidate_hash": case["candidate_hash"], "national_id": fnr, "record": record}
