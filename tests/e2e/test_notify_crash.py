"""notify killed with SIGKILL and restarted, as separate processes (`flask notify run`, its queue on a throwaway
vhost of the real broker) on the settable file clock: exactly one mail per rule and period when killed outside the
SMTP window, at most one repeat with the same Message-ID when killed inside it (after the server stored the mail,
before notify's commit), and nothing twice when killed in the middle of a sweep. Every event is delivered twice."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from services.notify import tables as t
from services.notify.domain.delivery import message_id
from shared.clock import set_file_clock
from shared.config import REPO_ROOT
from tests.fixtures.db import service_env
from tests.integration.test_notify_support import (  # noqa: F401 (smtp_sink_fixture: the smtp_sink fixture)
    case_opened,
    deliver_event,
    notify_env,
    smtp_sink_fixture,
)

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # Thursday 11:00 in Oslo
FLASK = str(Path(sys.executable).with_name("flask"))


class NotifyProcess:
    def __init__(self, env):
        self.env = env
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([FLASK, "--app", "services.notify.wsgi", "notify", "run"], cwd=REPO_ROOT,
                                     env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    def kill(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        if self.proc:
            self.proc.wait(10)

    def wait_dead(self, timeout=30):
        self.proc.wait(timeout)


@pytest.fixture
def world(platform_factory, db_url, tmp_path, smtp_sink, bus_vhost):
    sink = smtp_sink()
    clock_file = tmp_path / "clock"
    set_file_clock(clock_file, NOW)
    # The worker acts once it sees its queue empty (the events below are applied without the broker).
    extra = notify_env(sink, NOTIFY_COUNTY_DIGEST_WEEKDAY="4", CLOCK=f"file:{clock_file}", NOTIFY_CATCH_UP_SECONDS="0",
                       **bus_vhost.env("notify"))
    platform = platform_factory("notify", t.all_tables(), db_url, env=extra)
    env = dict(os.environ, **service_env("notify", db_url, tmp_path, **extra))
    env.pop("PYTEST_CURRENT_TEST", None)
    cases = [uuid.uuid4() for _ in range(3)]
    for case in cases:
        for _ in range(2):  # each event delivered twice
            deliver_event(platform, case_opened(case, date(2026, 9, 1), relation="none"))
    processes = []

    def spawn():
        process = NotifyProcess(env).start()
        processes.append(process)
        return process
    yield platform, sink, spawn, cases
    for process in processes:
        process.kill()


def expected_ids(platform, cases):
    """One per (rule, case, period) — closure overdue and consent missing for each case — to Kari."""
    ids = set()
    for case in cases:
        for rule in ("closure_overdue", "consent_missing"):
            ids.add(message_id(f"notice:reminder:{rule}:{case}:2026-09-01:kari-veileder", "notify.hybrid.local"))
    return ids


def wait_all_sent(platform, count, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with platform.engine.connect() as conn:
            sent = conn.execute(select(func.count()).where(t.mails.c.status == "sent")).scalar()
        if sent >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"only {sent} of {count} mails sent within {timeout}s")


def test_killed_inside_the_smtp_window_repeats_one_mail_once_with_the_same_message_id(world):
    platform, sink, spawn, cases = world
    first = spawn()
    killed = []

    def kill_after_store(sink_, envelope):
        if not killed:  # the server has stored the mail; notify has not committed: kill it now
            killed.append(envelope.content)
            os.kill(first.proc.pid, signal.SIGKILL)
    sink.after_store = kill_after_store
    first.wait_dead()
    sink.after_store = None
    assert len(sink.raw) == 1
    spawn()
    wait_all_sent(platform, 6)
    counts = Counter(sink.message_ids())
    assert set(counts) == expected_ids(platform, cases)
    assert sorted(counts.values()) == [1, 1, 1, 1, 1, 2]  # the one in the window, once more
    repeated = [mid for mid, n in counts.items() if n == 2][0]
    assert repeated == sink.messages[0]["Message-ID"]


def test_killed_outside_the_smtp_window_sends_every_mail_exactly_once(world):
    platform, sink, spawn, cases = world
    first = spawn()
    state = {"n": 0}

    def kill_before_second(sink_, envelope):
        state["n"] += 1
        if state["n"] == 2:  # the first mail is committed; the second is not yet accepted
            os.kill(first.proc.pid, signal.SIGKILL)
            return "drop"
    sink.before_accept = kill_before_second
    first.wait_dead()
    sink.before_accept = None
    spawn()
    wait_all_sent(platform, 6)
    counts = Counter(sink.message_ids())
    assert set(counts) == expected_ids(platform, cases)
    assert set(counts.values()) == {1}
    with platform.engine.connect() as conn:  # and one reminder per rule and period, whatever was redelivered
        assert conn.execute(select(func.count()).select_from(t.reminders)).scalar() == 6


def test_killed_in_the_middle_of_a_sweep_leaves_nothing_half_done(world, db_url):
    """PostgreSQL: the test holds a lock on the notification table so the sweep stops half-way (reminders
    inserted, notifications not), kills it there, then lets a fresh process run: one reminder and one mail per rule
    and period."""
    if not db_url.startswith("postgresql"):
        pytest.skip("the mid-sweep stop uses a PostgreSQL table lock; SQLite's sweep takes its lock up front")
    platform, sink, spawn, cases = world
    blocker = create_engine(db_url)
    with blocker.connect() as conn:
        transaction = conn.begin()
        conn.execute(text("LOCK TABLE notifications IN ACCESS EXCLUSIVE MODE"))
        process = spawn()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with blocker.connect() as probe:  # its own transaction: pg_stat_activity is a per-transaction snapshot
                waiting = probe.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()")).scalar()
            if waiting:
                break
            time.sleep(0.1)
        assert waiting, "the sweep never reached the notification table"
        with blocker.connect() as probe:  # half-way indeed: it has written reminders in its open transaction
            assert probe.execute(text(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE c.relname = 'reminders' AND l.mode = 'RowExclusiveLock' AND l.granted")).scalar() == 1
        process.kill()
        transaction.rollback()
    blocker.dispose()
    with platform.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.reminders)).scalar() == 0  # rolled back whole
    spawn()
    wait_all_sent(platform, 6)
    counts = Counter(sink.message_ids())
    assert set(counts) == expected_ids(platform, cases) and set(counts.values()) == {1}
