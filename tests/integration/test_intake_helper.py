"""The programmatic entry helper (used by the demo seed and the registry's report cases) on both databases."""
import json

from sqlalchemy import select

from services.intake import tables
from services.intake.testing import enter_case

VALUES = {
    "opened_on": "2026-03-02", "entry_point": "course_start", "industry": "retail", "initiator": "counsellor",
    "reasons": ["extra_follow_up", "norwegian_work_culture"], "counsellor_knew_company": "no",
    "attachment_before": "none", "mentor_relation": "colleague", "candidate_name": "Fiktiv Hjelpesen",
    "measures": [{"measure": "mentor_subsidy", "from_date": "2026-03-09", "to_date": "2026-06-09"}],
    "contacts": [{"contact_date": f"2026-03-{d:02d}", "party": "mentor", "form": "at_company", "minutes": 30}
                 for d in (9, 16, 23, 30)] + [{"contact_date": "2026-05-04", "party": "candidate", "form": "phone",
                                               "minutes": 15, "note": "Hemmelig notat"}],
    "closure": {"closed_on": "2026-06-15", "closure_reason": "measure_completed",
                "attachment_after": "permanent_without_wage_subsidy", "attached_same_company": "yes",
                "feedback_mentor": "satisfied", "feedback_counsellor": "very_satisfied"},
}

# Table 5 per party: the mentor's four contacts in the first third of the period, the candidate's one in the middle
PER_PARTY = {"intensity_candidate": "even", "intensity_mentor": "mostly_beginning", "forms_candidate": ["phone"],
             "forms_mentor": ["at_company"]}


def test_enter_case_opens_logs_and_closes_with_derived_summary(db_url, platform_factory):
    platform = platform_factory("intake", tables.all_tables(), db_url)
    result = enter_case(platform, "kristiansand", "kari-veileder", VALUES, seed=3)
    record = result["record"]
    assert record["version"] == 1 and record["closure_reason"] == "measure_completed"
    assert record["contact"]["contacts_logged"] == 5 and record["contact"]["minutes_total"] == 135
    assert record["contact"]["intensity"] == "mostly_beginning"  # the whole log's
    assert {k: record["contact"][k] for k in ("intensity_candidate", "intensity_mentor", "forms_candidate",
                                              "forms_mentor")} == PER_PARTY
    assert record["contact"]["duration"] == "3_6_months"
    assert record["contact"]["frequency_mentor"] == "monthly"  # over the case's own period, not until today
    assert record["measures"][0]["measure"] == "mentor_subsidy"
    with platform.engine.connect() as conn:
        bodies = [r[0] for r in conn.execute(select(tables.platform["outbox"].c.body))]
        types = [json.loads(b)["type"] for b in bodies]
    assert types.count("case.closed") == 1 and types[0] == "case.opened"
    blob = b"".join(bodies)
    for secret in (result["national_id"], "Fiktiv", "Hjelpesen", "Hemmelig"):
        assert secret.encode() not in blob


def test_demo_seed_and_project_end_commands(db_url, platform_factory):
    from services.intake.app import create_app
    platform = platform_factory("intake", tables.all_tables(), db_url)
    runner = create_app(platform=platform).test_cli_runner()
    assert "6 cases created" in runner.invoke(args=["demo", "seed"]).output
    assert "0 cases created, 6 already there" in runner.invoke(args=["demo", "seed"]).output
    with platform.engine.connect() as conn:
        offices = sorted(r[0] for r in conn.execute(select(tables.cases.c.office)))
    assert offices == ["bergen-vest"] * 2 + ["kristiansand"] * 4
    assert "3 status forms submitted" in runner.invoke(args=["project", "end"]).output
    assert "0 status forms submitted" in runner.invoke(args=["project", "end"]).output
    with platform.engine.connect() as conn:
        types = [json.loads(r[0])["type"] for r in conn.execute(select(tables.platform["outbox"].c.body))]
    assert types.count("case.closed") == 3 and types.count("case.project_end_status") == 3
