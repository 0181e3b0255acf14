"""Demo cases in NAV Kristiansand and NAV Bergen vest, so the pages are not empty.

Fictional people only: names are obviously made up and national IDs are generated (checksum-valid, random).
Dates are relative to the platform clock's today. Repeatable: a demo candidate already known is skipped.
"""
from __future__ import annotations

from datetime import timedelta

from . import store
from .testing import enter_case, fake_national_id


def _cases(today):
    def d(days_ago):
        return (today - timedelta(days=days_ago)).isoformat()

    def weekly(party, start, weeks, form="at_company", minutes=30):
        return [{"contact_date": d(start - 7 * w), "party": party, "form": form, "minutes": minutes}
                for w in range(weeks) if start - 7 * w >= 0]

    return [
        ("kristiansand", "kari-veileder", {
            "opened_on": d(200), "entry_point": "course_start", "industry": "retail", "initiator": "counsellor",
            "reasons": ["extra_follow_up", "norwegian_work_culture"], "counsellor_knew_company": "no",
            "attachment_before": "none", "mentor_relation": "colleague",
            "measures": [{"measure": "mentor_subsidy", "from_date": d(190), "to_date": d(100)},
                         {"measure": "work_training", "from_date": d(190), "to_date": d(100)}],
            "contacts": weekly("mentor", 190, 6) + weekly("candidate", 185, 10, "phone", 20)
                        + [{"contact_date": d(188), "party": "employer", "form": "at_company", "minutes": 60}],
            "closure": {"closed_on": d(95), "closure_reason": "measure_completed",
                        "attachment_after": "permanent_with_wage_subsidy", "attached_same_company": "yes",
                        "feedback_mentor": "very_satisfied", "feedback_counsellor": "satisfied"}}),
        ("kristiansand", "kari-veileder", {
            "opened_on": d(40), "entry_point": "already_at_workplace", "industry": "health_care",
            "initiator": "employer", "reasons": ["extra_training", "employer_needed_security"],
            "counsellor_knew_company": "yes", "attachment_before": "work_training", "mentor_relation": "manager",
            "measures": [{"measure": "mentor_subsidy", "from_date": d(30), "to_date": None}],
            "contacts": weekly("mentor", 30, 5, "phone", 15) + weekly("candidate", 28, 4, "at_nav_office", 45)}),
        ("kristiansand", "ola-veileder", {
            "opened_on": d(120), "entry_point": "course_start", "industry": "manufacturing", "initiator": "candidate",
            "reasons": ["job_readiness"], "counsellor_knew_company": "no", "attachment_before": "none",
            "mentor_relation": "none",
            "contacts": [{"contact_date": d(115), "party": "candidate", "form": "at_nav_office", "minutes": 60},
                         {"contact_date": d(90), "party": "employer", "form": "email", "minutes": 10}],
            "closure": {"closed_on": d(80), "closure_reason": "mentor_measure_not_started",
                        "attachment_after": "no_attachment", "attached_same_company": "no",
                        "feedback_mentor": "not_given", "feedback_counsellor": "neutral"}}),
        ("kristiansand", "ola-veileder", {
            "opened_on": d(260), "entry_point": "course_start", "industry": "service", "initiator": "counsellor",
            "reasons": ["help_getting_to_work", "strengthen_role"], "counsellor_knew_company": "yes",
            "attachment_before": "on_call", "mentor_relation": "colleague",
            "measures": [{"measure": "mentor_subsidy", "from_date": d(250), "to_date": d(70)}],
            "contacts": weekly("mentor", 250, 8, "phone", 20) + weekly("candidate", 240, 3)}),
        ("bergen-vest", "per-veileder", {
            "opened_on": d(300), "entry_point": "already_at_workplace", "industry": "construction",
            "initiator": "employer", "reasons": ["mentor_required_for_entry"], "counsellor_knew_company": "yes",
            "attachment_before": "temporary_employee", "mentor_relation": "external",
            "measures": [{"measure": "wage_subsidy_temporary", "from_date": d(290), "to_date": d(150)},
                         {"measure": "mentor_subsidy", "from_date": d(290), "to_date": d(200)}],
            "contacts": weekly("mentor", 290, 4, "digital", 25) + weekly("candidate", 280, 2, "phone", 15),
            "closure": {"closed_on": d(190), "closure_reason": "candidate_quit_early",
                        "attachment_after": "no_attachment", "attached_same_company": "no",
                        "feedback_mentor": "dissatisfied", "feedback_counsellor": "satisfied"}}),
        ("bergen-vest", "per-veileder", {
            "opened_on": d(20), "entry_point": "course_start", "industry": "kindergarten", "initiator": "counsellor",
            "reasons": ["extra_follow_up"], "counsellor_knew_company": "no", "attachment_before": "none",
            "mentor_relation": "colleague",
            "measures": [{"measure": "mentor_subsidy", "from_date": d(14), "to_date": None}],
            "contacts": weekly("mentor", 14, 3, "at_company", 30)}),
    ]


def seed(platform) -> dict:
    created = skipped = 0
    today = platform.clock.today()
    for index, (office, counsellor, values) in enumerate(_cases(today)):
        seed_number = 9000 + index
        key = store.candidate_hash(platform.keyring, office,
                                   fake_national_id(seed_number, d_number=seed_number % 5 == 4))
        with platform.engine.begin() as conn:
            if store.case_ids_of_candidate(conn, office, key):
                skipped += 1
                continue
            enter_case(platform, office, counsellor, values, seed=seed_number, conn=conn)
            created += 1
    return {"created": created, "skipped": skipped}
