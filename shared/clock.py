"""A clock that tests can set, used for every date rule (overdue, expiry, office hours, holidays).

`CLOCK=system` is the wall clock. `CLOCK=file:/path` reads an ISO-8601 instant from that file, so a test
can move time for running services without restarting them; an absent or empty file means wall time.
"""
from __future__ import annotations

import os
from datetime import datetime, timezone


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def today(self):
        return self.now().date()


class FixedClock(SystemClock):
    """For unit tests: time stands still until moved."""

    def __init__(self, at: datetime):
        self.at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)

    def now(self):
        return self.at

    def set(self, at: datetime):
        self.at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)


class FileClock(SystemClock):
    def __init__(self, path: str):
        self.path = path
        self._cache = (None, None)

    def now(self):
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            return datetime.now(timezone.utc)
        if self._cache[0] != mtime:
            with open(self.path) as handle:
                text = handle.read().strip()
            value = datetime.fromisoformat(text) if text else None
            if value is not None and value.tzinfo is None:
                value = value.replace(tzinfo=timezone.utc)
            self._cache = (mtime, value)
        return self._cache[1] or datetime.now(timezone.utc)


def clock_from_setting(setting: str):
    if setting == "system":
        return SystemClock()
    return FileClock(setting.removeprefix("file:"))


def set_file_clock(path, at: datetime | None):
    """Move a FileClock (used by tests and the demo); None returns it to wall time."""
    with open(path, "w") as handle:
        handle.write(at.isoformat() if at else "")
