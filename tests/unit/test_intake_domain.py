"""Intake's domain without I/O: national ID and orgnr, eligibility, derivations, state machine, closure validation."""
from datetime import date, timedelta

import pytest

from services.intake.domain import Conflict, closure, derive, rules, states
from services.intake.store import load_success_criteria
from services.intake.testing import fake_national_id, fake_orgnr

TODAY = date(2026, 11, 26)
CRITERIA = load_success_criteria()


# ---------------------------------------------------------------- national ID, orgnr
def test_generated_national_ids_and_d_numbers_pass_the_control_digits():
    for seed in range(50):
        for d_number in (False, True):
            errors = {}
            fnr = fake_national_id(seed, d_number)
            assert rules.national_id(errors, "national_id", fnr) == fnr and errors == {}
            assert (int(fnr[0]) >= 4) is d_number


def test_wrong_control_digit_date_or_length_is_refused_with_a_norwegian_message():
    fnr = fake_national_id(1)
    broken = fnr[:-1] + str((int(fnr[-1]) + 1) % 10)
    for value, words in ((broken, "kontrollsifrene"), ("3213", "11 siffer"), ("", "Skriv brukerens"),
                         ("31029912345", "ikke gyldig")):
        errors = {}
        assert rules.national_id(errors, "national_id", value) is None
        assert words in errors["national_id"][0]
    errors = {}
    assert rules.national_id(errors, "national_id", fnr[:6] + " " + fnr[6:]) == fnr  # spaces are fine


def test_organisation_number_control_digit():
    errors = {}
    assert rules.organisation_number(errors, "o", "974 760 673") == "974760673"
    assert rules.organisation_number(errors, "o", fake_orgnr(3)) == fake_orgnr(3)
    assert errors == {}
    assert rules.organisation_number(errors, "o", "974760674") is None and "kontrollsifferet" in errors["o"][0]


# ---------------------------------------------------------------- eligibility
@pytest.mark.parametrize("specialist, target, follow_up, failed", [
    (False, True, False, []),
    (True, True, False, ["counsellor_is_job_specialist"]),
    (False, False, False, ["candidate_not_in_target_group"]),
    (False, True, True, ["candidate_in_follow_up_measure"]),
    (True, False, True, ["counsellor_is_job_specialist", "candidate_not_in_target_group",
                         "candidate_in_follow_up_measure"]),
])
def test_eligibility_names_every_failed_rule(specialist, target, follow_up, failed):
    errors = {}
    assert rules.eligibility(errors, {"is_job_specialist": specialist}, target, follow_up) == failed
    assert bool(errors) == bool(failed)


def test_unknown_code_names_the_field():
    errors = {}
    assert rules.code(errors, "industry", "industry", "fishing") is None
    assert errors["industry"] == ["Ukjent kode «fishing» for feltet «Bransje»."]


# ---------------------------------------------------------------- derivations (tables 5 and 6)
def contacts(party, start, every_days, count, form="phone"):
    return [{"contact_date": start + timedelta(days=every_days * i), "party": party, "form": form, "minutes": 10}
            for i in range(count)]


@pytest.mark.parametrize("every, count, expected", [
    (1, 80, "daily"), (3, 30, "2_3_per_week"), (7, 13, "weekly"), (14, 7, "2_3_per_month"),
    (30, 3, "monthly"), (45, 2, "less_than_monthly"),
])
def test_frequency_from_the_rate_over_the_period(every, count, expected):
    start = date(2026, 1, 1)
    assert derive.frequency([c["contact_date"] for c in contacts("mentor", start, every, count)], start,
                            start + timedelta(days=90)) == expected


def test_frequency_never_and_only_at_start():
    start = date(2026, 1, 1)
    assert derive.frequency([], start, start + timedelta(days=90)) == "never"
    assert derive.frequency([start, start + timedelta(days=10)], start, start + timedelta(days=90)) == "only_at_start"


def test_intensity_where_contacts_cluster():
    start, end = date(2026, 1, 1), date(2026, 4, 1)
    early = [start + timedelta(days=d) for d in (1, 5, 10, 50)]
    late = [start + timedelta(days=d) for d in (5, 70, 80, 88)]
    even = [start + timedelta(days=d) for d in (5, 40, 80)]
    assert derive.intensity(early, start, end) == "mostly_beginning"
    assert derive.intensity(late, start, end) == "mostly_end"
    assert derive.intensity(even, start, end) == "even"
    assert derive.intensity([], start, end) is None


def test_summary_forms_duration_and_employer_as_mentor():
    opened = date(2026, 1, 1)
    log = contacts("mentor", opened, 7, 10, "at_company") + contacts("candidate", opened, 30, 3, "email")
    log.append({**log[0], "deleted": True, "form": "digital"})
    measures = [{"measure": "mentor_subsidy", "from_date": date(2025, 12, 1), "to_date": None}]
    summary = derive.contact_summary(log, measures, opened, date(2026, 4, 1), TODAY, "manager")
    assert summary["frequency_employer"] == "employer_is_mentor"
    assert summary["forms"] == ["email", "at_company"]  # vocabulary order; the deleted contact's form not counted
    assert summary["duration"] == "3_6_months"  # from the measure's start, 121 days
    assert summary["contacts_logged"] == 13 and summary["minutes_total"] == 130
    assert derive.contact_summary(log, [], opened, None, TODAY, "colleague")["duration"] == "not_closed"


def test_intensity_and_forms_per_party_for_table_5():
    """The report's table 5 per party: the candidate's contacts early by e-mail and at the NAV office, the mentor's
    late at the company and by phone, the employer's never count for either; a party without contacts has none."""
    opened, closed = date(2026, 1, 1), date(2026, 4, 1)  # 90 days: thirds end on day 30 and day 60
    log = (contacts("candidate", opened, 5, 4, "email") + contacts("candidate", opened + timedelta(days=2), 5, 1,
                                                                  "at_nav_office")
           + contacts("mentor", opened + timedelta(days=62), 7, 3, "at_company")
           + contacts("mentor", opened + timedelta(days=40), 1, 1, "phone")
           + contacts("employer", opened + timedelta(days=45), 1, 1, "digital"))
    log.append({**log[0], "party": "mentor", "form": "email", "deleted": True})  # a deleted contact counts nowhere
    summary = derive.contact_summary(log, [], opened, closed, TODAY, "colleague")
    assert summary["intensity_candidate"] == "mostly_beginning" and summary["intensity_mentor"] == "mostly_end"
    assert summary["forms_candidate"] == ["email", "at_nav_office"]  # vocabulary order
    assert summary["forms_mentor"] == ["phone", "at_company"]
    assert summary["forms"] == ["phone", "email", "at_company", "at_nav_office", "digital"]  # the whole log's
    alone = derive.contact_summary(contacts("candidate", opened, 30, 3, "phone"), [], opened, closed, TODAY,
                                   "colleague")
    assert alone["intensity_mentor"] is None and alone["forms_mentor"] == []
    assert alone["intensity_candidate"] == "even" and alone["forms_candidate"] == ["phone"]


@pytest.mark.parametrize("days, expected", [(91, "up_to_3_months"), (92, "3_6_months"), (183, "3_6_months"),
                                            (365, "6_12_months"), (366, "over_12_months")])
def test_duration_boundaries(days, expected):
    assert derive.duration_category(date(2026, 1, 1), date(2026, 1, 1) + timedelta(days=days)) == expected


# ---------------------------------------------------------------- state machine
def test_first_submission_closes_later_ones_correct():
    assert states.submission("open", 0) == ("case.closed", "closed", 1, None)
    assert states.submission("closed", 1) == ("case.corrected", "closed", 2, 1)
    assert states.submission("closed", 2) == ("case.corrected", "closed", 3, 2)
    assert states.submission("open", 0, project_end=True) == ("case.project_end_status", "project_end", 1, None)
    assert states.submission("project_end", 1) == ("case.corrected", "closed", 2, 1)
    with pytest.raises(Conflict):
        states.submission("closed", 1, project_end=True)
    with pytest.raises(Conflict):
        states.require_active("closed")
    states.require_active("project_end")


# ---------------------------------------------------------------- closure validation
CASE = {"id": "c", "opened_on": date(2026, 6, 1), "mentor_relation": "colleague", "industry": "retail",
        "initiator": "counsellor", "reasons": ["extra_follow_up"], "counsellor_knew_company": "no",
        "attachment_before": "none"}
DERIVED = {"frequency_candidate": "monthly", "frequency_mentor": "weekly", "frequency_employer": "never",
           "intensity_candidate": "even", "intensity_mentor": "mostly_beginning", "forms_candidate": ["phone"],
           "forms_mentor": ["phone", "at_company"], "intensity": "even", "forms": ["phone", "at_company"],
           "duration": "3_6_months", "contacts_logged": 3, "minutes_total": 60}


def good_form(**overrides):
    form = closure.prefill(CASE, DERIVED, None, TODAY)
    form.update({"closed_on": "2026-10-01", "closure_reason": "measure_completed", "attachment_after": "work_training",
                 "attached_same_company": "yes", "feedback_mentor": "satisfied", "feedback_counsellor": "satisfied",
                 "success_criteria": {c["code"]: "partly" for c in CRITERIA["criteria"]}})
    form.update(overrides)
    return form


def test_a_complete_form_passes():
    values, errors = closure.validate(good_form(), CASE, [], [], DERIVED, CRITERIA, TODAY)
    assert errors == {} and values["list_version"] == CRITERIA["version"]


def test_every_problem_is_reported_at_once():
    form = good_form(closed_on="2026-05-01", closure_reason="", industry="fishing", forms_mentor=["fax"],
                     frequency_candidate="employer_is_mentor", duration="not_closed", shoe_size="44",
                     success_criteria={"made_up": "achieved"})
    values, errors = closure.validate(form, CASE, [], [], DERIVED, CRITERIA, TODAY)
    assert values is None
    expected = {"closed_on", "closure_reason", "industry", "forms_mentor", "frequency_candidate", "duration",
                "shoe_size", "success_criteria.made_up"}
    expected |= {closure.criterion_field(c["code"]) for c in CRITERIA["criteria"]}
    assert set(errors) == expected


def test_mentor_rule_and_consistency_rules():
    no_mentor = {**CASE, "mentor_relation": "none"}
    _, errors = closure.validate(good_form(), no_mentor, [], [], DERIVED, CRITERIA, TODAY)
    assert "Mentortiltaket ble ikke tatt i bruk" in errors["closure_reason"][0] and errors["feedback_mentor"]
    _, errors = closure.validate(good_form(closure_reason="mentor_measure_not_started"), CASE, [], [], DERIVED,
                                 CRITERIA, TODAY)
    assert "registrert mentor" in errors["closure_reason"][0]
    later = [{"contact_date": date(2026, 10, 5), "party": "mentor", "form": "phone", "minutes": 5}]
    _, errors = closure.validate(good_form(attachment_after="no_attachment"), CASE, later, [], DERIVED, CRITERIA, TODAY)
    assert "etter avslutningsdatoen" in errors["closed_on"][0] and errors["attached_same_company"]
    _, errors = closure.validate(good_form(closed_on="2026-12-01"), CASE, [], [], DERIVED, CRITERIA, TODAY)
    assert "i dag" in errors["closed_on"][0]


def test_intensity_and_forms_are_required_per_party_with_contacts_logged():
    """Table 5's answers per party: required for the party with logged contacts, left open for the other; the
    record carries both parties' answers and the whole log's derived intensity and forms."""
    mentor_only = [{"contact_date": date(2026, 7, 1), "party": "mentor", "form": "phone", "minutes": 5}]
    form = good_form(intensity_mentor="", forms_mentor=[], intensity_candidate="", forms_candidate=[])
    _, errors = closure.validate(form, CASE, mentor_only, [], DERIVED, CRITERIA, TODAY)
    assert set(errors) == {"intensity_mentor", "forms_mentor"}
    assert errors["forms_mentor"] == ["Velg minst ett svar for «Kontaktformer med mentor»."]
    values, errors = closure.validate(good_form(intensity_candidate="", forms_candidate=[]), CASE, mentor_only, [],
                                      DERIVED, CRITERIA, TODAY)
    assert errors == {} and values["intensity_candidate"] is None and values["forms_candidate"] == []
    record = closure.record({**CASE, "candidate_hash": "a" * 64, "counsellor_id": "k", "mentor_id": None,
                             "employer_hash": None, "entry_point": "course_start"}, values, [], DERIVED, 1)
    assert record["contact"]["intensity_mentor"] == "mostly_beginning"
    assert record["contact"]["forms_mentor"] == ["phone", "at_company"]
    assert record["contact"]["intensity_candidate"] is None and record["contact"]["forms_candidate"] == []
    assert record["contact"]["intensity"] == "even" and record["contact"]["forms"] == ["phone", "at_company"]


def test_a_closure_from_before_the_per_party_answers_is_corrected_from_the_log():
    old = {"closed_on": date(2026, 10, 1), "closure_reason": "measure_completed", "attachment_after": "work_training",
           "attached_same_company": "yes", "feedback_mentor": "satisfied", "feedback_counsellor": "satisfied",
           "industry": "retail", "initiator": "counsellor", "reasons": ["extra_follow_up"],
           "counsellor_knew_company": "no", "attachment_before": "none", "success_criteria": {"assessments": {}},
           "contact": {"frequency_candidate": "monthly", "frequency_mentor": "weekly", "frequency_employer": "never",
                       "intensity": "even", "forms": ["phone"], "duration": "3_6_months"}}
    values = closure.prefill(CASE, DERIVED, closure.values_from_record(old), TODAY)
    assert values["intensity_mentor"] == "mostly_beginning" and values["forms_mentor"] == ["phone", "at_company"]
    assert "intensity" not in values and "forms" not in values


def test_project_end_values_fill_the_unknown_and_keep_the_draft():
    values = closure.project_end_values(CASE, {**DERIVED, "duration": "not_closed"},
                                        {"attachment_after": "sick_leave", "feedback_mentor": "bogus",
                                         "success_criteria": {"masters_tasks": "achieved"}}, TODAY, CRITERIA)
    assert values["closure_reason"] == "project_end" and values["attachment_after"] == "sick_leave"
    assert values["feedback_mentor"] == "not_given" and values["attached_same_company"] == "unknown"
    assert values["success_criteria"]["masters_tasks"] == "achieved"
    assert values["success_criteria"]["plan_followed"] == "not_relevant"


def test_a_refused_value_is_quoted_but_never_a_national_id():
    fnr = fake_national_id(3)
    for value in (fnr, f"bransje {fnr[:6]} {fnr[6:]}", f"x{fnr}"):
        errors = {}
        assert rules.code(errors, "industry", "industry", value) is None
        assert fnr not in errors["industry"][0] and fnr[6:] not in errors["industry"][0], value
    errors = {}
    rules.code(errors, "industry", "industry", "fiske")
    assert "«fiske»" in errors["industry"][0]


def test_a_draft_keeps_checked_fields_only():
    criteria = {"version": "2026-1", "criteria": [{"code": "plan_followed", "nb": "Planen fulgt"}]}
    draft, errors = closure.validate_draft({"closure_reason": "candidate_moved", "reasons": "extra_follow_up",
                                                  "success_criteria": {"plan_followed": ""}, "list_version": "2026-1"},
                                                 criteria)
    assert errors == {} and draft == {"closure_reason": "candidate_moved", "reasons": ["extra_follow_up"],
                                      "list_version": "2026-1"}
    draft, errors = closure.validate_draft({"industry": "a" * 1_000_000, "list_version": "1999",
                                                  "success_criteria": {"unknown": "partly"}, "note": "fritekst"},
                                                 criteria)
    assert draft is None and set(errors) == {"industry", "success_criteria", "note"}
