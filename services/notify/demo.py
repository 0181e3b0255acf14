"""Demo data for the local run: notify has no cases of its own. It learns of intake's demo cases as of every case,
from the events intake publishes (intake's `demo seed`, its outbox relay, notify's consumer), so every reminder,
notification and count names a case intake has (a case notify made up would lead the counsellor's link to "Fant
ikke siden eller saken").

`demo seed` runs once those events are in (scripts/devstack.py waits for intake's outbox as it does for consent's
seed) and sweeps, so the reminders already due are on the pages at once rather than at the worker's next sweep.
"""
from __future__ import annotations

from sqlalchemy import func, select

from . import service
from . import tables as t


def seed(platform) -> dict:
    """{cases notify knows, reminders the sweep made}; repeatable (a second sweep finds nothing new to remind)."""
    with platform.engine.connect() as conn:
        cases = conn.execute(select(func.count()).select_from(t.cases)).scalar()
    return {"cases": cases, "reminders": service.sweep_once(platform).new_reminders}
