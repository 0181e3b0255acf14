"""The one rule of an overdue closure (shared.overdue), as intake's worklist and overview and notify use it."""
from datetime import date, timedelta

from shared import overdue

TODAY = date(2026, 11, 26)


def days_ago(n):
    return TODAY - timedelta(days=n)


def test_the_closure_counts_from_the_later_of_the_last_activity_and_the_last_measures_end():
    activity = overdue.last_activity(days_ago(200), last_contact=days_ago(10), last_start=days_ago(150))
    assert activity == days_ago(10)
    assert overdue.closure_anchor(activity, last_end=days_ago(40), open_ended=False) == days_ago(10)
    assert overdue.closure_anchor(days_ago(90), last_end=days_ago(40), open_ended=False) == days_ago(40)
    assert overdue.closure_anchor(days_ago(60), last_end=None, open_ended=False) == days_ago(60)  # no measure
    assert overdue.closure_anchor(days_ago(60), last_end=days_ago(70), open_ended=True) is None  # still running


def test_overdue_from_the_day_it_falls_due_and_the_sql_cutoff_says_the_same():
    assert overdue.due_on(days_ago(30), 30) == TODAY
    assert overdue.is_overdue(days_ago(30), TODAY, 30)
    assert not overdue.is_overdue(days_ago(29), TODAY, 30)
    assert not overdue.is_overdue(None, TODAY, 30)
    for n in (0, 29, 30, 31, 100):
        assert overdue.is_overdue(days_ago(n), TODAY, 30) == (days_ago(n) <= overdue.cutoff(TODAY, 30))


def test_the_project_setting_or_thirty_days():
    assert overdue.closure_days(None) == overdue.DEFAULT_DAYS == 30
    assert overdue.closure_days({"reminder_thresholds_days": {"closure_overdue": 45}}) == 45
    assert overdue.closure_days({"reminder_thresholds_days": {"consent_missing": 14}}) == 30
