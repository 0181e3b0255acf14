"""Periods: dates coarsened to the project's granularity, and the period filters researchers give."""
from __future__ import annotations

import calendar
from datetime import date

from .errors import TableRequestError

# What a researcher may write: a year, a quarter, a month or a day. Whether it can be compared with the stored
# periods depends on the project's coarsening (filter_bounds).
PERIOD_PATTERN = r"^\d{4}(-(Q[1-4]|(0[1-9]|1[0-2])(-\d{2})?))?$"

# From the finest to the coarsest: a filter can be compared with stored periods of its own granularity or finer.
GRANULARITIES = ("day", "month", "quarter", "year")
_NAMES_NB = {"day": "dag", "month": "måned", "quarter": "kvartal", "year": "år"}


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


def _span(text: str, field: str) -> tuple[str, date, date]:
    """A written period as (granularity, first day, last day); a day that does not exist is refused."""
    year = int(text[:4])
    if year < 1:  # the pattern lets "0000" through; a calendar has no year 0
        raise TableRequestError(field, f"{text} er ingen periode")
    if len(text) == 4:
        return "year", date(year, 1, 1), date(year, 12, 31)
    if text[5] == "Q":
        quarter = int(text[6])
        last_month = quarter * 3
        return "quarter", date(year, last_month - 2, 1), date(year, last_month,
                                                               calendar.monthrange(year, last_month)[1])
    month = int(text[5:7])
    if len(text) == 7:
        return "month", date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise TableRequestError(field, f"{text} er ingen dato") from None
    return "day", day, day


def filter_bounds(period_from: str | None, period_to: str | None, granularity: str) -> tuple:
    """(lowest, highest) stored period the filters take in, each None when not given, written as the stored
    periods are so that text comparison is period comparison. A filter finer than the stored periods cannot be
    compared (a day within a stored month) and is refused, as is a range that ends before it starts."""
    bounds = []
    for field, text, edge in (("period_from", period_from, 1), ("period_to", period_to, 2)):
        if not text:
            bounds.append(None)
            continue
        kind, *days = _span(text, field)
        if GRANULARITIES.index(kind) < GRANULARITIES.index(granularity):
            raise TableRequestError(field, f"periodene er lagret per {_NAMES_NB[granularity]}: {text} er finere "
                                           f"og kan ikke sammenlignes")
        bounds.append(coarsen(days[edge - 1], granularity))
    if bounds[0] and bounds[1] and bounds[0] > bounds[1]:
        raise TableRequestError("period_to", "period_to er før period_from")
    return bounds[0], bounds[1]


def recode(text: str | None, granularity: str, cache: dict | None = None) -> str | None:
    """A stored period written at a coarser `granularity` (2023-05 → 2023-Q2 → 2023); `cache`: texts already
    recoded (a release recodes the same few hundred periods a hundred thousand times)."""
    if text is None:
        return None
    key = (text, granularity)
    if cache is not None and key in cache:
        return cache[key]
    _kind, first, _last = _span(text, "period")
    result = coarsen(first, granularity)
    if cache is not None:
        cache[key] = result
    return result
