"""The one definition of an overdue closure (sluttskjema), for intake's worklist and office overview and notify's
reminders and county view. Pure: dates in, dates out.

An open case (not closed, no project-end status sent) counts its closure from its anchor: the later of its last
activity (the opening, the last contact, the last measure's start) and its last measure's end. A measure without an
end date keeps the case running (no anchor). The closure falls due `days` days after the anchor (the project's
`reminder_thresholds_days.closure_overdue`, 30 by default) and is overdue from that day on: the day notify's
reminder comes.
"""
from __future__ import annotations

from datetime import date, timedelta

DEFAULT_DAYS = 30


def closure_days(project: dict | None) -> int:
    """The project's setting, or the default."""
    return int(((project or {}).get("reminder_thresholds_days") or {}).get("closure_overdue", DEFAULT_DAYS))


def last_activity(opened_on: date, last_contact: date | None, last_start: date | None) -> date:
    return max(d for d in (opened_on, last_contact, last_start) if d is not None)


def closure_anchor(last_activity_on: date, last_end: date | None, open_ended: bool) -> date | None:
    """The day the closure counts from; None while a measure runs without an end date."""
    if open_ended:
        return None
    return max(d for d in (last_activity_on, last_end) if d is not None)


def due_on(anchor: date | None, days: int) -> date | None:
    return None if anchor is None else anchor + timedelta(days=days)


def cutoff(today: date, days: int) -> date:
    """Cases whose anchor is on or before this day are overdue today (the same test as `is_overdue`, for SQL)."""
    return today - timedelta(days=days)


def is_overdue(anchor: date | None, today: date, days: int) -> bool:
    return anchor is not None and anchor <= cutoff(today, days)
