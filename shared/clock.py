"""A clock that tests can set, used for every date rule (overdue, expiry, office hours, holidays).

`CLOCK=system` is the wall clock. `CLOCK=file:/path` reads an ISO-8601 instant from that file, so a test
can move time for running services without restarting them; an absent or empty file means wall time.
"""
from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self):
        return self.now().date()


class FixedClock(SystemClock):
    """For unit tests: time stands still until moved."""

    def __init__(self, at: datetime):
        self.at = at if at.tzinfo else at.replace(tzinfo=UTC)

    def now(self):
        return self.at

    def set(self, at: datetime):
        self.at = at if at.tzinfo else at.replace(tzinfo=UTC)


class FileClock(SystemClock):
    """Reads the file on every call: a few microseconds, and never stale (an mtime cache can miss two writes
    within one timer tick on coarse-grained file systems)."""

    def __init__(self, path: str):
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


def clock_from_setting(setting: str):
    if setting == "system":
        return SystemClock()
    return FileClock(setting.removeprefix("file:"))


def set_file_clock(path, at: datetime | None):
    """Move a FileClock (used by tests and the demo); None returns it to wall time."""
    with open(path, "w") as handle:
        handle.write(at.isoformat() if at else "")
