"""Whether notify's view of the cases has caught up with the events, decided from looks at its queue.

A look is the number of messages ready in `notify.schedule`, or None when no broker answered. The view is caught
up once every look for `settle_seconds` found the queue empty: a restarted worker waits that long even on an empty
queue, time for a restarted consumer to apply the messages it took at once (the broker counts them as neither
ready nor gone). An empty look after an unknown or a non-empty one starts the wait again. After `max_wait_seconds`
without being caught up the worker acts anyway (OVERDUE): a reminder days late costs more than one about a case
whose closure is still on its way.
"""
from __future__ import annotations

from dataclasses import dataclass

CAUGHT_UP = "caught_up"
WAITING = "waiting"
OVERDUE = "overdue"


@dataclass
class CatchUp:
    settle_seconds: float
    max_wait_seconds: float
    started_at: float  # monotonic seconds, like every `at` below
    empty_since: float | None = None  # the first of the unbroken run of empty looks
    caught_up_at: float | None = None

    def look(self, ready: int | None, at: float) -> str:
        """Record a look taken at `at`; CAUGHT_UP, WAITING or OVERDUE."""
        if ready != 0:
            self.empty_since = None
        elif self.empty_since is None:
            self.empty_since = at
        if self.empty_since is not None and at - self.empty_since >= self.settle_seconds:
            self.caught_up_at = at
            return CAUGHT_UP
        return OVERDUE if self.waited(at) >= self.max_wait_seconds else WAITING

    def waited(self, at: float) -> float:
        """Seconds since the view was last caught up (or since the start)."""
        return at - (self.started_at if self.caught_up_at is None else self.caught_up_at)
