"""The reminder rules: which there are, when each falls due, the date each counts from (its period), and what an
event about a case means for them. The README's table of rules is the reader's version of this module."""
from __future__ import annotations

from datetime import date, timedelta

from shared import overdue

RULES = ("closure_overdue", "mentor_contact_missing", "consent_missing", "project_end", "interview", "employer_survey")
# Rules with a period of their own per case (kept in notify_due by the handlers); the others remind for dates
# common to all cases (the project's end, the interview points).
PER_CASE_RULES = ("closure_overdue", "mentor_contact_missing", "consent_missing", "employer_survey")
# The per-case rules of an open case (what a handover re-points and a closure drops).
OPEN_CASE_RULES = ("closure_overdue", "mentor_contact_missing", "consent_missing")
CLOSING_RULES = ("closure_overdue", "mentor_contact_missing", "consent_missing", "project_end", "interview")
PROJECT_END_STATUS_RULES = ("closure_overdue", "project_end")  # what the project-end status form resolves
DEFAULT_THRESHOLDS = {"closure_overdue": overdue.DEFAULT_DAYS, "mentor_contact_missing": 21, "consent_missing": 14,
                      "project_end_warning": 60, "escalate_after": 14}

# Where a per-case rule's period comes from: its notify_due row and its open reminder (at most one: a moved period
# resolves the old one's) are found by their keys (rule, period, case) with the period the case row holds.
PERIOD_OF = {"closure_overdue": "closure_anchor_on", "mentor_contact_missing": "mentor_anchor_on",
             "consent_missing": "opened_on", "employer_survey": "closed_on"}
# The derived dates that move a rule's period, and how the old period's reminder is resolved when they move.
ANCHORS = (("closure_anchor_on", "closure_overdue", "case_active_again"),
           ("mentor_anchor_on", "mentor_contact_missing", "mentor_contact_logged"))

RESEARCH_ANSWERED = ("granted", "withdrawn", "expired")  # ends consent_missing
RESOLVABLE_BY_HAND = {"interview": "interview_arranged"}
MODES = ("immediate", "daily")


def thresholds_of(project: dict) -> dict:
    merged = dict(DEFAULT_THRESHOLDS)
    merged.update(project.get("reminder_thresholds_days") or {})
    return merged


def is_open(case) -> bool:
    return case["closed_on"] is None and not case["end_status_sent"]


def due_periods(case, rules) -> list[tuple[str, date]]:
    """(rule, period) of the case's per-case rules among `rules` that have a period now."""
    return [(rule, case[PERIOD_OF[rule]]) for rule in rules if case[PERIOD_OF[rule]] is not None]


def recipient_of(rule: str, counsellor_id: str) -> str | None:
    """The counsellor; the survey invitation goes to the research team's address instead (no recipient)."""
    return None if rule == "employer_survey" else counsellor_id


def pending_after_opening(opened_on: date) -> date:
    """The dates common to all cases are still to be reminded for from the opening on."""
    return opened_on - timedelta(days=1)


last_activity = overdue.last_activity


def derive(opened_on, mentor_relation, last_activity, last_mentor, last_end, open_ended) -> dict:
    """The dates the rules count from. The closure's is the one intake's worklist and overview count from too
    (shared.overdue)."""
    closure_anchor = overdue.closure_anchor(last_activity, last_end, open_ended)
    mentor_anchor = None if mentor_relation == "none" else (last_mentor or opened_on)
    return dict(last_activity_on=last_activity, last_mentor_contact_on=last_mentor, closure_anchor_on=closure_anchor,
                mentor_anchor_on=mentor_anchor)


def consent_status(event_type: str) -> str:
    """granted | withdrawn | expired | expiring | incomplete, from the event's type."""
    return event_type.split(".", 1)[1]


def interview_pending_after(opened_on: date, last_reminded: date | None) -> date:
    """From the opening on, past the points already reminded for (the consent may have lapsed in between)."""
    return max(d for d in (pending_after_opening(opened_on), last_reminded) if d)


def per_case_cutoff(thresholds: dict, rule: str, today: date) -> date:
    """A per-case rule is due for the periods on or before this date (for the closure: shared.overdue's)."""
    return overdue.cutoff(today, thresholds.get(rule, 0))


def common_dates_due(project: dict, thresholds: dict, today: date, interview_notice_days: int) -> list:
    """(rule, date, opened by) of the dates common to all cases that are in their reminding window today: the
    project's end from N days before it (cases opened by today), an interview point within the notice days before
    it (cases opened by the point)."""
    dates = []
    if project["end_date"] - timedelta(days=thresholds["project_end_warning"]) <= today:
        dates.append(("project_end", project["end_date"], today))
    for point in project["interview_points"]:
        if point - timedelta(days=interview_notice_days) <= today <= point:
            dates.append(("interview", point, point))
    return dates


def escalate_by(thresholds: dict, today: date) -> date:
    """Open reminders due on or before this date escalate to the office's local contact(s)."""
    return today - timedelta(days=thresholds["escalate_after"])
