"""Periods: dates coarsened to the project's granularity, and the period filters researchers give."""
from __future__ import annotations

from datetime import date

# What a researcher may filter on: a year, a month, a quarter or a day (the granularities coarsen() produces).
PERIOD_PATTERN = r"^\d{4}(-(Q[1-4]|\d{2}(-\d{2})?))?$"


def coarsen(day: date | None, granularity: str) -> str | None:
    """A date as the project's period: day (YYYY-MM-DD), month (YYYY-MM), quarter (YYYY-Qn) or year (YYYY)."""
    if day is None:
        return None
    if granularity == "day":
        return day.isoformat()
    if granularity == "month":
        return f"{day.year:04d}-{day.month:02d}"
    if granularity == "quarter":
        return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"
    if granularity == "year":
        return f"{day.year:04d}"
    raise ValueError(f"unknown date coarsening {granularity}")


def period_upper_bound(period_to: str) -> str:
    """The largest stored period within `period_to`: "2020" takes in "2020-05" and "2020-Q2" too."""
    return period_to + "\uffff"
