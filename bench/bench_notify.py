"""Benchmark of the reminder sweep (a command, not a test): the set-based sweep over 100,000 active cases on
PostgreSQL, beside a plain SQL count over the same rows measured in the same run, as a ratio.

    .venv/bin/python bench/bench_notify.py [--cases 100000] [--repeat 5]

Data: N open cases in the research offices, generated in SQL, with opening, last activity, last mentor contact and
measure-end dates spread over the past 400 days and consent granted for 80 %. Three sweeps are timed:
- first: nothing reminded yet, so a large share of the cases falls due at once (reminders, notifications, mail)
- steady: the next day's sweep, with every earlier reminder in place, after a day's events (1 % of the cases
  logged a contact: their closure reminders resolve, their periods move) — what the loop does all day long
- idle: the same moment swept again (inserts nothing: the unique keys hold)
Baseline: `SELECT count(*) FROM notify_cases WHERE closed_on IS NULL` (the same rows), best of --repeat.
Target (issue #6): the sweep <= 2 s and <= 10 x the count.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def make_platform(tmp: Path):
    from sqlalchemy import create_engine, text

    from services.notify import tables
    from shared import directory, migrations
    from shared.clock import FixedClock
    from shared.config import load_settings
    from shared.platform import Platform
    name = "bench_notify_" + uuid.uuid4().hex[:8]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    settings = load_settings("notify", env={"DATA_DIR": str(tmp), "NOTIFY_DATABASE_URL": url})
    migrations.upgrade("notify", url)
    platform = Platform(settings, tables.all_tables(), clock=FixedClock(datetime(2026, 11, 26, 10, tzinfo=timezone.utc)))
    directory.load_directory(platform.engine, platform.tables, directory.read_directory_file())

    def drop():
        platform.engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return platform, drop


def generate(platform, cases: int, today: date):
    from sqlalchemy import text
    offices = ["kristiansand", "lister", "midtre-gauldal", "malvik", "bergen-vest", "hoyanger"]
    counsellors = {"kristiansand": "kari-veileder", "bergen-vest": "per-veileder", "malvik": "siri-veileder"}
    office_sql = "(ARRAY[" + ",".join(f"'{o}'" for o in offices) + "])[1 + (i % 6)]"
    counsellor_sql = ("CASE (i % 6) WHEN 0 THEN 'kari-veileder' WHEN 4 THEN 'per-veileder' WHEN 3 THEN 'siri-veileder' "
                      "ELSE 'ola-veileder' END")
    with platform.engine.begin() as conn:
        conn.execute(text(f"""
            INSERT INTO notify_cases (case_id, office, counsellor_id, mentor_relation, opened_on, closed_on,
                end_status_sent, last_activity_on, last_mentor_contact_on, closure_anchor_on, mentor_anchor_on,
                research_consent, survey_consent, updated_at, closure_pending_on, mentor_pending_on,
                consent_pending_on)
            SELECT md5(i::text)::uuid::text, {office_sql}, {counsellor_sql},
                   CASE WHEN i % 5 = 0 THEN 'none' ELSE 'colleague' END,
                   :today - (30 + i % 400), NULL, false,
                   :today - (i * 7 % 400), CASE WHEN i % 5 = 0 THEN NULL ELSE :today - (i * 11 % 400) END,
                   CASE WHEN i % 4 = 0 THEN NULL ELSE :today - (i * 7 % 400) END,
                   CASE WHEN i % 5 = 0 THEN NULL ELSE :today - (i * 11 % 400) END,
                   CASE WHEN i % 5 = 0 THEN NULL ELSE 'granted' END, NULL, now(),
                   CASE WHEN i % 4 = 0 THEN NULL ELSE :today - (i * 7 % 400) END,
                   CASE WHEN i % 5 = 0 THEN NULL ELSE :today - (i * 11 % 400) END,
                   :today - (30 + i % 400)
            FROM generate_series(1, :n) AS i"""), {"n": cases, "today": today})
        conn.execute(text("ANALYZE"))


def between_days(platform, day: date, share: int = 100):
    """What the events of a day do to the schedule, as the handlers would: 1 % of the cases log a contact (last
    activity and the closure period move to `day`, the case is marked changed for the sweep's resolve step)."""
    from sqlalchemy import text
    with platform.engine.begin() as conn:
        conn.execute(text("""
            UPDATE notify_cases SET last_activity_on = :day, closure_anchor_on = :day, closure_pending_on = :day,
                   changed = true
            WHERE closed_on IS NULL AND abs(hashtext(case_id || :day_text)) % :share = 0"""),
                     {"day": day, "day_text": day.isoformat(), "share": share})


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from sqlalchemy import text

    from services.notify.sweep import run_sweep
    today = date(2026, 11, 26)
    with tempfile.TemporaryDirectory() as tmp:
        platform, drop = make_platform(Path(tmp))
        try:
            generate(platform, args.cases, today)

            def count():
                with platform.engine.connect() as conn:
                    return conn.execute(text("SELECT count(*) FROM notify_cases WHERE closed_on IS NULL")).scalar()

            count()  # warm the cache the same way the sweep's first statement would
            counts = [timed(count) for _ in range(args.repeat)]
            baseline = min(c[0] for c in counts)
            assert counts[0][1] == args.cases

            def sweep(day, hour=10):
                now = datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc) + timedelta(hours=hour)
                with platform.engine.begin() as conn:
                    return run_sweep(conn, now, day, local_hour=hour + 1)

            first_s, first = timed(lambda: sweep(today))
            steady, idle = [], []
            for day in range(1, args.repeat + 1):
                between_days(platform, today + timedelta(days=day))  # not timed: the consumer's work
                seconds, result = timed(lambda: sweep(today + timedelta(days=day)))
                steady.append((seconds, result))
                idle.append(timed(lambda: sweep(today + timedelta(days=day), hour=11)))
            with platform.engine.connect() as conn:
                reminders = conn.execute(text("SELECT count(*) FROM reminders")).scalar()
                mails = conn.execute(text("SELECT count(*) FROM mails")).scalar()
        finally:
            drop()
    steady_median = statistics.median(s for s, _ in steady)
    idle_median = statistics.median(s for s, _ in idle)
    print(f"cases (active)            {args.cases:>10,}")
    print(f"plain count, best of {args.repeat}   {baseline * 1000:>10.1f} ms")
    print(f"first sweep               {first_s * 1000:>10.1f} ms  ({first.new_reminders:,} reminders, "
          f"{first.notifications:,} notifications, {first.mails:,} mails)  = {first_s / baseline:.1f} x count")
    print(f"steady sweep, median      {steady_median * 1000:>10.1f} ms  "
          f"({statistics.mean(r.new_reminders for _, r in steady):,.0f} new reminders a day)  "
          f"= {steady_median / baseline:.1f} x count")
    print(f"idle sweep, median        {idle_median * 1000:>10.1f} ms  "
          f"({sum(r.new_reminders for _, r in idle)} inserted)  = {idle_median / baseline:.1f} x count")
    print(f"totals after the run      {reminders:,} reminders, {mails:,} mails")
    worst = max(first_s, max(s for s, _ in steady))
    ok = worst <= 2.0 and steady_median <= 10 * baseline
    print(f"target: sweep <= 2 s ({worst:.2f} s worst) and steady <= 10 x count ({steady_median / baseline:.1f} x): "
          f"{'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
