"""Notify's worker (`flask … notify run`): every NOTIFY_LOOP_SECONDS one round — a look at notify's queue, then,
only when the view of the cases has caught up with the events (`domain.catch_up`), the sweep and the delivery.

Reminders, digests and the mails already queued all depend on the cases' state, which is only as fresh as the
events the consumer has applied: while events wait in `notify.schedule` (the consumer stopped, or just started
after an outage) or while no broker answers, a round sends nothing and leaves what is due for a later round.
"""
from __future__ import annotations

import logging
import time

from prometheus_client import Counter, Gauge

from shared.logs import log_event

from . import backlog, service
from .config import load_notify_config
from .domain.catch_up import OVERDUE, WAITING, CatchUp
from .handlers import QUEUE

log = logging.getLogger("notify")

ROUNDS = Counter("notify_rounds_total", "Worker rounds by what the view of the cases allowed: caught_up (swept "
                 "and delivered), waiting (postponed: events not yet applied, or no broker answered), overdue "
                 "(acted on after NOTIFY_CATCH_UP_MAX_HOURS without catching up)", ["outcome"])
EVENTS_WAITING = Gauge("notify_events_waiting", "Messages ready in notify.schedule at the worker's last look "
                       "(-1: no broker answered)")


def events_waiting(platform) -> int | None:
    """Messages ready in notify's queue now; None when no broker answers."""
    return backlog.events_waiting(platform.settings, QUEUE)


def new_catch_up(config, now: float | None = None) -> CatchUp:
    return CatchUp(config.catch_up_seconds, config.catch_up_max_hours * 3600.0,
                   time.monotonic() if now is None else now)


def run_round(platform, config, contacts, catch_up: CatchUp, look=events_waiting, now: float | None = None) -> str:
    """One round: look, then sweep and deliver unless the view is still catching up; returns the verdict."""
    now = time.monotonic() if now is None else now
    ready = look(platform)
    EVENTS_WAITING.set(-1 if ready is None else ready)
    verdict = catch_up.look(ready, now)
    ROUNDS.labels(verdict).inc()
    if verdict == WAITING:
        log_event(log, "round postponed: events not yet applied", events_waiting=ready,
                  waited_seconds=round(catch_up.waited(now)))
        return verdict
    if verdict == OVERDUE:
        log_event(log, "acting on a view not known to be caught up", level=logging.WARNING, events_waiting=ready,
                  waited_seconds=round(catch_up.waited(now)))
    service.sweep_once(platform, config)
    service.deliver_once(platform, config, contacts)
    return verdict


def run_loop(platform, config=None, rounds=None, stop=None, look=events_waiting) -> None:
    """A round every NOTIFY_LOOP_SECONDS; safe to kill at any moment (each step is its own transaction)."""
    config = config or load_notify_config(platform.settings)
    contacts = service.contacts_source(platform, config)
    catch_up = new_catch_up(config)
    done = 0
    while rounds is None or done < rounds:
        if stop is not None and stop():
            return
        try:
            run_round(platform, config, contacts, catch_up, look)
        except Exception as error:  # a database hiccup must not end the loop; it is retried next round
            log_event(log, "round failed", level=logging.ERROR, error_type=type(error).__name__)
        done += 1
        if rounds is None or done < rounds:
            time.sleep(config.loop_seconds)
