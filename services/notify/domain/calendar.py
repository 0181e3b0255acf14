"""Working days in Norway: weekends and the public holidays (helligdager), Easter-based ones included.

Mail goes out only on working days within office hours; the sweep itself runs any time.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo


def easter_sunday(year: int) -> date:
    """Gregorian Easter (the anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 (the algorithm's own letters)
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=64)
def public_holidays(year: int) -> dict[date, str]:
    easter = easter_sunday(year)
    return {
        date(year, 1, 1): "Første nyttårsdag",
        easter - timedelta(days=3): "Skjærtorsdag",
        easter - timedelta(days=2): "Langfredag",
        easter: "Første påskedag",
        easter + timedelta(days=1): "Andre påskedag",
        date(year, 5, 1): "Arbeidernes dag",
        date(year, 5, 17): "Grunnlovsdagen",
        easter + timedelta(days=39): "Kristi himmelfartsdag",
        easter + timedelta(days=49): "Første pinsedag",
        easter + timedelta(days=50): "Andre pinsedag",
        date(year, 12, 25): "Første juledag",
        date(year, 12, 26): "Andre juledag",
    }


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in public_holidays(day.year)


class SendingWindow:
    """Office hours on working days in the office's time zone."""

    def __init__(self, timezone: str = "Europe/Oslo", start: time = time(8, 0), end: time = time(16, 0),
                 working_days_only: bool = True):
        self.zone = ZoneInfo(timezone)
        self.start, self.end, self.working_days_only = start, end, working_days_only

    def local(self, instant: datetime) -> datetime:
        return instant.astimezone(self.zone)

    def is_open(self, instant: datetime) -> bool:
        local = self.local(instant)
        if self.working_days_only and not is_working_day(local.date()):
            return False
        return self.start <= local.time() < self.end

    def next_opening(self, instant: datetime) -> datetime:
        """The first instant at or after `instant` when mail may go out."""
        local = self.local(instant)
        if self.is_open(instant):
            return instant
        day = local.date()
        if local.time() >= self.end:
            day += timedelta(days=1)
        for _ in range(30):
            if not self.working_days_only or is_working_day(day):
                opening = datetime.combine(day, self.start, tzinfo=self.zone)
                if opening >= local:
                    return opening
            day += timedelta(days=1)
        raise RuntimeError("no working day within 30 days")
