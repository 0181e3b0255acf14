"""A clock that tests can set, used for every date rule (overdue, expiry, office hours, holidays).

`CLOCK=system` is the wall clock. `CLOCK=file:/path` reads an ISO-8601 instant from that file, so a test
can move time for running services without restarting them; an absent or empty file means wall time.

Instants are UTC; a day is the project's day in `TIMEZONE` (Europe/Oslo): `today()` and `day_of` are the one place
an instant becomes a date, so intake's worklist and notify's reminders change day at the same midnight (a UTC day
would leave them an hour or two apart after midnight in Norway).
"""
from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

PROJECT_TIMEZONE = "Europe/Oslo"  # the default of the TIMEZONE setting (shared.config)


def day_of(instant: datetime, zone: str | ZoneInfo = PROJECT_TIMEZONE) -> date:
    """The project's day an instant falls on (a naive instant is UTC, as everywhere in the platform)."""
    zone = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    return (instant if instant.tzinfo else instant.replace(tzinfo=UTC)).astimezone(zone).date()


class SystemClock:
    def __init__(self, zone: str = PROJECT_TIMEZONE):
        self.zone = ZoneInfo(zone)

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return day_of(self.now(), self.zone)


class FixedClock(SystemClock):
    """For unit tests: time stands still until moved."""

    def __init__(self, at: datetime, zone: str = PROJECT_TIMEZONE):
        super().__init__(zone)
        self.at = at if at.tzinfo else at.replace(tzinfo=UTC)

    def now(self):
        return self.at

    def set(self, at: datetime):
        self.at = at if at.tzinfo else at.replace(tzinfo=UTC)


class FileClock(SystemClock):
    """Reads the file on every call: a few microseconds, and never stale (an mtime cache can miss two writes
    within one timer tick on coarse-grained file systems)."""

    def __init__(self, path: str, zone: str = PROJECT_TIMEZONE):
        super().__init__(zone)
        self.path = path

    def now(self):
        try:
            with open(self.path) as handle:
                text = handle.read().strip()
        except FileNotFoundError:
            text = ""
        if not text:
            return datetime.now(UTC)
        value = datetime.fromisoformat(text)
        return value if value.tzinfo else value.replace(tzinfo=UTC)


def clock_from_setting(setting: str, zone: str = PROJECT_TIMEZONE):
    if setting == "system":
        return SystemClock(zone)
    return FileClock(setting.removeprefix("file:"), zone)


def set_file_clock(path, at: datetime | None):
    """Move a FileClock (used by tests and the demo); None returns it to wall time."""
    with open(path, "w") as handle:
        handle.write(at.isoformat() if at else "")
