"""Wiring: the sweep and the delivery with the platform's clock and notify's config (used by CLI, loop, tests)."""
from __future__ import annotations

import logging
import time

from shared.logs import log_event

from .calendar import is_working_day
from .config import load_notify_config
from .intake_client import IntakeContacts, NoIntake
from .mailer import deliver_due
from .sweep import BURST, SWEEP_BUDGET, run_sweep

log = logging.getLogger("notify")


def contacts_source(platform, config):
    return IntakeContacts(config.intake_url, platform.settings) if config.intake_url else NoIntake()


def sweep_once(platform, config=None, budget=SWEEP_BUDGET):
    config = config or load_notify_config(platform.settings)
    now = platform.clock.now()
    local = config.window.local(now)
    result = None
    while result is None or result.backlog:  # a backlog goes in several sweeps, each its own short transaction
        started = time.perf_counter()
        with platform.engine.begin() as conn:
            swept = run_sweep(conn, now, local.date(), interview_notice_days=config.interview_notice_days,
                              local_hour=local.hour, digest_hour=config.digest_hour,
                              county_weekday=config.county_digest_weekday, working_day=is_working_day(local.date()),
                              budget=budget)
        swept.longest_seconds = time.perf_counter() - started  # how long the handlers were held off
        result = swept if result is None else result.add(swept)
    if result.new_reminders > BURST and platform.engine.dialect.name == "postgresql":
        # A burst left as many dead rows in the due queue (and, for a common date, in the cases) as it reminded;
        # the next sweeps' range scans would walk them until autovacuum comes by. VACUUM runs outside a transaction.
        with platform.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE) notify_due, notify_cases")
    log_event(log, "sweep", sweeps=result.sweeps, longest_ms=round(result.longest_seconds * 1000),
              reminders=result.reminders, notifications=result.notifications,
              escalations=result.escalations, mails=result.mails, digests=result.digests,
              county_digests=result.county_digests)
    return result


def deliver_once(platform, config=None, contacts=None, limit=200):
    config = config or load_notify_config(platform.settings)
    result = deliver_due(platform, config, contacts or contacts_source(platform, config), limit=limit)
    if result.sent or result.failed or result.dead or result.cancelled:
        log_event(log, "delivery", sent=result.sent, failed=result.failed, dead=result.dead,
                  cancelled=result.cancelled)
    return result


def run_loop(platform, config=None, rounds=None, stop=None):
    """Sweep, then deliver, every NOTIFY_LOOP_SECONDS; safe to kill at any moment (each step is its own transaction)."""
    config = config or load_notify_config(platform.settings)
    contacts = contacts_source(platform, config)
    done = 0
    while rounds is None or done < rounds:
        if stop is not None and stop():
            return
        try:
            sweep_once(platform, config)
            deliver_once(platform, config, contacts)
        except Exception as error:  # a database hiccup must not end the loop; it is retried next round
            log_event(log, "round failed", level=logging.ERROR, error_type=type(error).__name__)
        done += 1
        if rounds is None or done < rounds:
            time.sleep(config.loop_seconds)
