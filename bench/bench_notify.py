"""Benchmark of the reminder sweep (a command, not a test): the set-based sweep over 100,000 active cases on SQLite
and PostgreSQL, each beside a plain SQL count over the same rows measured in the same run, as a ratio.

    .venv/bin/python bench/bench_notify.py [--db both|sqlite|postgresql] [--cases 100000] [--repeat 3] [--profile]

Data: N open cases in the research offices with their contacts and measures (what the schedule derives from them
is computed the way the handlers compute it), opened over the past 430 days, a quarter with an open-ended measure,
research consent for 80 %, interviews consent for half. Three sweeps are timed:
- first start: nothing reminded yet, so a large share of the cases falls due at once (reminders, notifications,
  mail); the worker's sweep takes that backlog in sweeps of at most SWEEP_BUDGET reminders, each its own
  transaction (the longest is what the handlers wait at most)
- steady: the next day's sweep after a day's events, applied through the real handlers (1 % of the cases log a
  contact, 0.1 % close, 0.1 % get a consent) — what the loop does all day long
- idle: the same moment swept again (inserts nothing: the unique keys hold)
Baseline: `SELECT count(*) FROM notify_cases WHERE closed_on IS NULL` (the same rows), best of --repeat, measured
before the sweeps and again beside each steady sweep. Target (issue #6): every sweep <= 2 s, the daily one <= 10 x
the count.
--profile prints each statement of the last steady sweep with its time (the way to find what is left).
"""
from __future__ import annotations

import argparse
import hashlib
import logging
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TODAY = date(2026, 11, 26)
OFFICES = ("kristiansand", "lister", "midtre-gauldal", "malvik", "bergen-vest", "hoyanger")
COUNSELLORS = {0: "kari-veileder", 4: "per-veileder", 3: "siri-veileder"}


def make_platform(db: str, tmp: Path):
    from sqlalchemy import create_engine, text

    from services.notify import tables
    from shared import directory, migrations
    from shared.clock import FixedClock
    from shared.config import load_settings
    from shared.platform import Platform
    admin, name = None, "bench_notify_" + uuid.uuid4().hex[:8]
    if db == "postgresql":
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    else:
        url = f"sqlite:///{tmp}/{name}.db"
    settings = load_settings("notify", env={"DATA_DIR": str(tmp), "NOTIFY_DATABASE_URL": url})
    migrations.upgrade("notify", url)
    platform = Platform(settings, tables.all_tables(), clock=FixedClock(datetime(2026, 11, 26, 10, tzinfo=UTC)))
    directory.load_directory(platform.engine, platform.tables, directory.read_directory_file())

    def drop():
        platform.engine.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    return platform, drop


def _uuid(*parts) -> str:
    return str(uuid.UUID(hashlib.md5(":".join(map(str, parts)).encode()).hexdigest()))


def generate(platform, cases: int):
    """Cases with their contacts and measures; the derived dates as service.recompute_case derives them."""
    from sqlalchemy import insert, text

    from services.notify import tables as t
    from services.notify.domain.rules import derive
    now = datetime(2026, 11, 26, 9, tzinfo=UTC)
    rows, due, contacts, measures, consents = [], [], [], [], []
    for i in range(1, cases + 1):
        case_id = _uuid("case", i)
        age = 30 + i % 400
        opened = TODAY - timedelta(days=age)
        relation = "none" if i % 5 == 0 else "colleague"
        last_contact = TODAY - timedelta(days=(i * 7) % age)
        contacts.append(dict(contact_id=_uuid("contact", i), case_id=case_id, revision=1, contact_date=last_contact,
                             party="candidate", deleted=False))
        last_mentor = None
        if relation != "none":
            last_mentor = TODAY - timedelta(days=(i * 11) % age)
            contacts.append(dict(contact_id=_uuid("mentor", i), case_id=case_id, revision=1, contact_date=last_mentor,
                                 party="mentor", deleted=False))
        open_ended = i % 4 == 0
        if open_ended:
            measures.append(dict(measure_id=_uuid("measure", i), case_id=case_id, from_date=opened, to_date=None,
                                 deleted=False))
        last_activity = max(d for d in (opened, last_contact, last_mentor, open_ended and opened or None) if d)
        statuses = {}
        if i % 5:
            statuses["research_registration"] = "granted"
        if i % 2:
            statuses["interviews"] = "granted"
        consents += [dict(case_id=case_id, purpose=p, status=s, effective_at=now) for p, s in statuses.items()]
        derived = derive(opened, relation, last_activity, last_mentor, None, open_ended)
        # Still to remind for, as the handlers leave a new open case: every period (no consent_missing once the
        # consent is granted), the project end, interview points only with the interviews consent.
        for rule, period in (("closure_overdue", derived["closure_anchor_on"]),
                             ("mentor_contact_missing", derived["mentor_anchor_on"]),
                             ("consent_missing", None if "research_registration" in statuses else opened)):
            if period is not None:
                due.append(dict(rule=rule, period=period, case_id=case_id, office=OFFICES[i % 6],
                                recipient_id=COUNSELLORS.get(i % 6, "ola-veileder")))
        before_opening = opened - timedelta(days=1)
        rows.append(dict(case_id=case_id, office=OFFICES[i % 6], counsellor_id=COUNSELLORS.get(i % 6, "ola-veileder"),
                         mentor_relation=relation, opened_on=opened, closed_on=None, end_status_sent=False,
                         research_consent=statuses.get("research_registration"), survey_consent=None,
                         interview_consent=statuses.get("interviews"), updated_at=now,
                         project_end_pending_after=before_opening,
                         interview_pending_after=before_opening if "interviews" in statuses else None, **derived))
    with platform.engine.begin() as conn:
        for table, values in ((t.cases, rows), (t.due, due), (t.contacts, contacts), (t.measures, measures),
                              (t.consents, consents)):
            for start in range(0, len(values), 5000):
                conn.execute(insert(table), values[start:start + 5000])
    with platform.engine.begin() as conn:
        conn.execute(text("ANALYZE"))


def a_day_of_events(platform, day: date):
    """What a day's events do, through the real handlers (not timed: the consumer's work): 1 % of the open cases
    log a contact dated that day, 0.1 % close, 0.1 % get the research consent."""
    from sqlalchemy import select

    from services.notify import service
    from services.notify import tables as t
    now = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=8)
    with platform.engine.connect() as conn:
        open_cases = conn.execute(select(t.cases.c.case_id, t.cases.c.office, t.cases.c.counsellor_id,
                                         t.cases.c.mentor_relation, t.cases.c.opened_on)
                                  .where(t.cases.c.closed_on.is_(None)).order_by(t.cases.c.case_id)).all()
    events = 0
    with platform.engine.begin() as conn:
        for case in open_cases:
            pick = int(hashlib.md5(f"{case.case_id}:{day}".encode()).hexdigest()[:8], 16) % 1000
            if pick < 10:
                service.record_contact(conn, {"case_id": case.case_id, "contact_id": _uuid("day", day, case.case_id),
                                               "revision": 1, "contact_date": day,
                                               "party": "mentor" if pick % 2 else "candidate"}, now)
            elif pick == 10:
                service.record_closure(conn, case.office, {
                    "case_id": case.case_id, "opened_on": case.opened_on, "closed_on": day,
                    "counsellor_id": case.counsellor_id, "mentor_relation": case.mentor_relation}, now)
            elif pick == 11:
                service.record_consent(conn, "consent.granted", {"case_id": case.case_id,
                                                                  "purpose": "research_registration",
                                                                  "effective_at": now}, now)
            else:
                continue
            events += 1
    return events


class StatementTimer:
    """Time per statement on the engine (for --profile)."""

    def __init__(self, engine):
        from sqlalchemy import event
        self.engine, self.event, self.times, self.on = engine, event, defaultdict(list), False
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        if self.on:
            self.times[" ".join(statement.split())[:150]].append(time.perf_counter() - conn.info["bench_started"])

    def report(self):
        total = sum(sum(v) for v in self.times.values())
        print(f"  statements of the last steady sweep: {sum(len(v) for v in self.times.values())}, "
              f"{total * 1000:.1f} ms in the database")
        for statement, times in sorted(self.times.items(), key=lambda kv: -sum(kv[1]))[:25]:
            print(f"  {sum(times) * 1000:8.1f} ms  x{len(times):<3} {statement}")


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def run(db: str, cases: int, repeat: int, profile: bool):
    from sqlalchemy import text

    from services.notify.config import load_notify_config
    from services.notify.service import SWEEP_BUDGET, sweep_once
    with tempfile.TemporaryDirectory() as tmp:
        platform, drop = make_platform(db, Path(tmp))
        try:
            started = time.perf_counter()
            generate(platform, cases)
            print(f"[{db}] {cases:,} cases generated in {time.perf_counter() - started:.1f} s")

            def count():
                with platform.engine.connect() as conn:
                    return conn.execute(text("SELECT count(*) FROM notify_cases WHERE closed_on IS NULL")).scalar()

            count()  # warm the cache the same way the sweep's first statement would
            counts = [timed(count) for _ in range(repeat)]
            assert counts[0][1] == cases

            config = load_notify_config(platform.settings)

            def sweep(day, hour=10):
                """What the worker does (its transaction, and on PostgreSQL a vacuum after a burst), 11:00 in Oslo."""
                platform.clock.set(datetime.combine(day, datetime.min.time(), tzinfo=UTC)
                                   + timedelta(hours=hour))
                return sweep_once(platform, config)

            first_s, first = timed(lambda: sweep(TODAY))
            timer = StatementTimer(platform.engine) if profile else None
            steady, idle, events = [], [], []
            for day_number in range(1, repeat + 1):
                day = TODAY + timedelta(days=day_number)
                events.append(a_day_of_events(platform, day))
                counts += [timed(count) for _ in range(2)]
                if timer:
                    timer.times.clear()
                    timer.on = True
                steady.append(timed(lambda day=day: sweep(day)))
                if timer:
                    timer.on = False
                idle.append(timed(lambda day=day: sweep(day, hour=11)))
            with platform.engine.connect() as conn:
                reminders = conn.execute(text("SELECT count(*) FROM reminders")).scalar()
                mails = conn.execute(text("SELECT count(*) FROM mails")).scalar()
        finally:
            drop()
    baseline = min(c[0] for c in counts)
    steady_median = statistics.median(s for s, _ in steady)
    idle_median = statistics.median(s for s, _ in idle)
    print(f"[{db}] plain count, best of {len(counts)}   {baseline * 1000:>9.1f} ms")
    print(f"[{db}] first start (backlog)     {first_s * 1000:>9.1f} ms in {first.sweeps} sweeps of at most "
          f"{SWEEP_BUDGET:,} reminders, the longest {first.longest_seconds * 1000:.0f} ms  "
          f"({first.new_reminders:,} reminders, {first.notifications:,} notifications, {first.mails:,} mails)")
    print(f"[{db}] steady sweep, median      {steady_median * 1000:>9.1f} ms  "
          f"= {steady_median / baseline:8.1f} x count  (each: {', '.join(f'{s * 1000:.0f}' for s, _ in steady)} ms; "
          f"{statistics.mean(r.new_reminders for _, r in steady):,.0f} new reminders a day after "
          f"{statistics.mean(events):,.0f} events)")
    print(f"[{db}] idle sweep, median        {idle_median * 1000:>9.1f} ms  = {idle_median / baseline:8.1f} x count  "
          f"({sum(r.new_reminders for _, r in idle)} inserted)")
    print(f"[{db}] totals after the run      {reminders:,} reminders, {mails:,} mails")
    if timer:
        timer.report()
    worst = max(max(s for s, _ in steady), max(s for s, _ in idle), first.longest_seconds)
    ok = worst <= 2.0 and steady_median <= 10 * baseline and idle_median <= 10 * baseline
    print(f"[{db}] target: every sweep <= 2 s ({worst:.2f} s the longest, first start included) and the daily sweep "
          f"<= 10 x count (steady {steady_median / baseline:.1f} x, idle {idle_median / baseline:.1f} x): "
          f"{'met' if ok else 'NOT met'}")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("both", "sqlite", "postgresql"), default="both")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="time each statement of the last steady sweep")
    args = parser.parse_args()
    logging.getLogger("notify").setLevel(logging.WARNING)  # the worker's one log line per sweep
    results = [run(db, args.cases, args.repeat, args.profile)
               for db in (("sqlite", "postgresql") if args.db == "both" else (args.db,))]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
