"""When the pattern follower (services/registry/patterns.py) searches: once the registry's data has settled.

Each ingest batch moves the change cursor and makes the unfiltered suppression pattern out of date; searching it
after every batch would run a 20 s search per batch beside the ingest. The follower waits until the data version
(the cursor and what else the pattern reads that can change without it) has stood still for `quiet_seconds`, or
until it has waited `max_wait_seconds` since the first version it has not searched, so that a steady trickle of
closures (never quiet for long) still gets a pattern now and then.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Settling:
    quiet_seconds: float
    max_wait_seconds: float
    done: object = None  # the version whose pattern was searched last (None: none yet)
    seen: object = None  # the newest version looked at
    seen_since: float | None = None  # monotonic seconds, like every `at` below: when `seen` was first looked at
    waiting_since: float | None = None  # the first look at a version not searched yet

    def look(self, version, at: float) -> bool:
        """Record a look at the data version taken at `at`; True when its pattern is to be searched now."""
        if version != self.seen:
            self.seen, self.seen_since = version, at
        if version == self.done:
            self.waiting_since = None
            return False
        if self.waiting_since is None:
            self.waiting_since = at
        return at - self.seen_since >= self.quiet_seconds or at - self.waiting_since >= self.max_wait_seconds

    def searched(self, version) -> None:
        """The pattern of `version` is kept: nothing to do until the version moves on."""
        self.done, self.waiting_since = version, None
