"""Benchmark of a research data release (a command, not a test): a release of ROWS cases in every format, cut by
the command `flask … registry release cut`, against the streamed CSV export of the same rows in the same run.

    .venv/bin/python bench/bench_release.py [--rows 100000]

- ROWS synthetic closures (services.registry.demo.synthetic_payloads, pseudonymised as the ingest does) in a fresh
  PostgreSQL registry database.
- baseline: the researchers' streamed CSV export (service.stream_csv: COPY through the OS pipe) of the same rows,
  read to the end in its own process.
- the cut: `flask --app services.registry.wsgi registry release cut` in its own process (all tables, every
  format, the codebook, DDI XML, manifest, and the rows kept for re-cuts and tables).
- per format: the cut's files of that format alone (the release's rows read from the database, made k-anonymous and
  written, every table), one format after the other in a process of their own.
Wall time and the process's peak RSS (ru_maxrss from wait4) of each. Target: every format within 5 x the CSV
export's time, the cut's peak under 300 MB.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fixtures.db import create_pg_database  # noqa: E402

SECRET = "bench-release-secret-" + "x" * 40


def fill(env: dict, rows: int):
    """ROWS closures pseudonymised as the ingest does, written straight to the tables (the ingest is not measured)."""
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from services.registry import demo, tables
    from services.registry.domain import records
    from services.registry.domain.pseudonyms import Pseudonymiser
    from shared import directory as directory_module
    from shared import migrations
    from shared.config import load_settings
    from shared.platform import Platform

    migrations.upgrade("registry", env["REGISTRY_DATABASE_URL"])
    platform = Platform(load_settings("registry", env=env), tables.all_tables())
    directory_module.load_directory(platform.engine, platform.tables, directory_module.read_directory_file())
    offices = {o["code"]: o for o in directory_module.read_directory_file()["offices"]}
    pseudonymiser = Pseudonymiser("hybrid-2022", SECRET.encode())
    now = datetime.now(UTC)
    batch, seq = [], 0
    with platform.engine.begin() as conn:
        for office, payload in demo.synthetic_payloads(rows, seed=7):
            seq += 1
            row = records.to_row(payload, "case.closed", offices[office], pseudonymiser, "month")
            batch.append(dict(row, status="active", change_seq=seq, accepted_at=now))
            if len(batch) == 5000:
                conn.execute(insert(tables.closures), batch)
                batch = []
        if batch:
            conn.execute(insert(tables.closures), batch)
        conn.execute(insert(tables.changes), [{"seq": seq, "case_pseudonym": "bench", "change": "closed",
                                               "version": 1, "at": now}])
    platform.engine.dispose()


def run_measured(args, env) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, stdout) of a child process."""
    started = time.perf_counter()
    child = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = child.stdout.read()
    err = child.stderr.read()
    _pid, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise RuntimeError(f"{args[:4]} failed: {err.strip()[-2000:]}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024, out


EXPORT = """
import sys
from services.registry import service
from services.registry.app import create_app
platform = create_app().extensions["platform"]
upto = service.newest_change(platform)
size = 0
for chunk in service.stream_csv(platform, 0, upto):
    size += len(chunk)
print(size)
"""

FORMATS = """
import json, tempfile, time
from pathlib import Path
from services.registry import service, writers
from services.registry.app import create_app
from services.registry.domain import releases
platform = create_app().extensions["platform"]
times = {}
with platform.engine.connect() as conn:
    for fmt in writers.FORMATS:
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            service._release_files(conn, platform, Path(folder), "bench", 1, platform.clock.now(), "nb",
                                   lambda cases, report: releases.notes("bench", None, platform.clock.now(), 0,
                                                                        cases, [], k_anonymity=report),
                                   formats=(fmt,))
            times[fmt] = time.perf_counter() - started
print(json.dumps(times))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs of export, cut and formats on the one fill")
    options = parser.parse_args()
    url, drop = create_pg_database("bench_release_")
    tmp = Path(tempfile.mkdtemp(prefix="bench-release-"))
    env = {**os.environ, "DATA_DIR": str(tmp), "REGISTRY_DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    python = str(REPO / ".venv" / "bin" / "python")
    try:
        started = time.perf_counter()
        fill(env, options.rows)
        print(f"filled {options.rows} closures in {time.perf_counter() - started:.1f} s")
        for run in range(1, options.repeat + 1):
            print(f"run {run}:")
            csv_s, csv_mb, size = run_measured([python, "-c", EXPORT], env)
            print(f"streamed CSV export: {csv_s:.2f} s, {int(size) / 1e6:.1f} MB, peak RSS {csv_mb:.0f} MB")
            cut_s, cut_mb, out = run_measured([str(REPO / ".venv" / "bin" / "flask"), "--app",
                                               "services.registry.wsgi", "registry", "release", "cut", "--by",
                                               "bench"], env)
            print(f"release cut by the command: {cut_s:.2f} s = {cut_s / csv_s:.1f} x the CSV export, peak RSS "
                  f"{cut_mb:.0f} MB (target < 300 MB: {'met' if cut_mb < 300 else 'NOT met'}) ({out.strip()})")
            _s, formats_mb, out = run_measured([python, "-c", FORMATS], env)
            times = json.loads(out)
            for fmt, seconds in times.items():
                print(f"  {fmt:8s} {seconds:6.2f} s = {seconds / csv_s:4.1f} x the CSV export (target <= 5 x: "
                      f"{'met' if seconds <= 5 * csv_s else 'NOT met'})")
            print(f"  (formats one by one: peak RSS {formats_mb:.0f} MB)")
            ok = all(seconds <= 5 * csv_s for seconds in times.values()) and cut_mb < 300
            print("targets (each format <= 5 x CSV, cut peak < 300 MB):", "met" if ok else "NOT met", flush=True)
    finally:
        drop()


if __name__ == "__main__":
    main()
