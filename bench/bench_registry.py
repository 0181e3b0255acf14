"""Benchmark of the registry (a command, not a test): the researchers' CSV export streamed over HTTP, and the
ingest through the real bus, each beside its raw-stack baseline from ../shared/bench measured in the same run.

    .venv/bin/python bench/bench_registry.py [--rows 1000000] [--events 5000]

- export: ROWS closure rows in a fresh PostgreSQL registry database; the registry app under gunicorn (one sync
  worker); a real HTTP client (requests, streaming) reads the whole body of GET /api/v1/exports/closures.csv as a
  researcher. Rate = rows / wall time; the worker's peak RSS = VmHWM from /proc/<worker pid>/status.
  Baseline: baseline_export.py (COPY ... TO STDOUT WITH CSV of the same number of closure-shaped rows, and a
  server-side cursor + csv.writer) on the same database server. Target: >= 0.12 x COPY, worker peak < 100 MB.
- ingest: EVENTS consent.granted (published as the consent service's broker user) then EVENTS case.closed (as
  intake's) on a throwaway vhost; the registry consumer (`drain`, the same code `flask bus consume` runs) validates,
  pseudonymises (HMAC), checks the office and consent, writes inbox + row + version + change + log, commits, acks.
  Rate = 2 x EVENTS / consume time. Baseline: baseline_bus.py consume+ack. Ratio printed.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fixtures.db import create_pg_database  # noqa: E402

# The benchmark signs its requests with the local issuer, which only an explicit local demo accepts (the web
# services and the bench process read it from the environment).
os.environ.setdefault("DEMO_MODE", "true")

BASELINES = REPO.parent / "shared" / "bench"
SECRET = "bench-secret-" + "x" * 40


def run_baseline(script: str, *args, attempts: int = 3) -> dict[str, float]:
    """Run a baseline script; retried because baseline_bus.py shares its queue name with any other run of it."""
    for attempt in range(attempts):
        done = subprocess.run([sys.executable, str(BASELINES / script), *map(str, args)], capture_output=True,
                              text=True, timeout=1800)
        if done.returncode == 0:
            return {key: float(value) for key, value in re.findall(r"(\w+_per_s)=([\d.]+)", done.stdout)}
        print(f"baseline {script} failed (attempt {attempt + 1}): {done.stderr.strip().splitlines()[-1:]}",
              file=sys.stderr)
        time.sleep(5)
    raise RuntimeError(f"baseline {script} failed {attempts} times")


def registry_platform(url, tmp, env_extra=None):
    from services.registry import tables
    from shared import directory as directory_module
    from shared import migrations
    from shared.config import load_settings
    from shared.platform import Platform
    env = {"DATA_DIR": str(tmp), "REGISTRY_DATABASE_URL": url, "LOG_LEVEL": "WARNING", "DEMO_MODE": "true",
           **(env_extra or {})}
    migrations.upgrade("registry", url)
    platform = Platform(load_settings("registry", env=env), tables.all_tables())
    directory_module.load_directory(platform.engine, platform.tables, directory_module.read_directory_file())
    return platform, env


FILL_SQL = """
INSERT INTO registry_closures SELECT
  md5('c' || g), 1, 'closed', 'active', g, (ARRAY['kristiansand','lister','malvik','bergen-vest'])[1 + g % 4],
  (ARRAY['agder','agder','trondelag','vestland'])[1 + g % 4], md5('k' || g), md5('v' || (g % 500)), md5('m' || g),
  md5('e' || (g % 20000)), '2019-0' || (1 + g % 9), '2020-0' || (1 + g % 9), 'measure_completed', 'course_start',
  'service', 'counsellor', 'extra_follow_up;extra_training', 'yes', 'work_training', 'colleague', true,
  'mentor_subsidy:2019-01:2020-01', 'monthly', 'weekly', 'monthly', 'even', 'at_company;phone', '6_12_months',
  g % 40, g % 900, 'permanent_without_wage_subsidy', 'yes', 'same_company', '2022-1', 'c1=achieved;c2=partly',
  'satisfied', 'very_satisfied', now()
FROM generate_series(1, %(n)s) g
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_pids(master: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    except OSError:
        return []


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure_export(rows: int):
    import requests
    from sqlalchemy import text

    from shared.auth import mint_token
    tmp = Path(tempfile.mkdtemp(prefix="bench-registry-"))
    url, drop = create_pg_database("bench_registry_")
    gunicorn = None
    try:
        platform, env = registry_platform(url, tmp)
        with platform.engine.begin() as conn:
            conn.execute(text(FILL_SQL.replace("%(n)s", str(int(rows)))))
            conn.execute(text("INSERT INTO registry_changes (seq, case_pseudonym, change, version, at) "
                              "VALUES (:n, 'x', 'closed', 1, now())"), {"n": rows})
            conn.execute(text("ANALYZE registry_closures"))
        token = mint_token(platform.settings, subject="rune-forsker", role="researcher", name="Bench")
        # Reference: COPY of the registry's own (wider: 38 columns, ~530 bytes a row) export query to /dev/null.
        from services.registry.store import export_copy_sql
        raw = platform.engine.raw_connection()
        started = time.perf_counter()
        with raw.cursor() as cursor, open(os.devnull, "wb") as sink:
            cursor.copy_expert(export_copy_sql(platform.engine.dialect, 0, rows), sink, size=1 << 18)
        own_copy = rows / (time.perf_counter() - started)
        raw.rollback()
        raw.close()
        platform.engine.dispose()
        baseline = run_baseline("baseline_export.py", rows, url.replace("postgresql://", "postgresql://"))

        port = free_port()
        gunicorn = subprocess.Popen([str(REPO / ".venv" / "bin" / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}",
                                     "--timeout", "600", "services.registry.wsgi:app"],
                                    cwd=REPO, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code < 500:
                    break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        workers = worker_pids(gunicorn.pid)
        start_rss = max(vm_hwm_mb(p) for p in workers)
        started = time.perf_counter()
        received = newlines = 0
        with requests.get(f"http://127.0.0.1:{port}/api/v1/exports/closures.csv",
                          headers={"Authorization": f"Bearer {token}"}, stream=True, timeout=600) as response:
            response.raise_for_status()
            for chunk in response.iter_content(chunk_size=1 << 20):
                received += len(chunk)
                newlines += chunk.count(b"\n")
        seconds = time.perf_counter() - started
        peak = max(vm_hwm_mb(p) for p in worker_pids(gunicorn.pid))
        assert newlines == rows + 1, f"got {newlines - 1} rows of {rows}"
        return {"rows": rows, "bytes": received, "seconds": seconds, "rows_per_s": rows / seconds,
                "worker_peak_rss_mb": peak, "worker_rss_before_mb": start_rss, "workers": workers,
                "copy_rows_per_s": baseline["copy_csv_rows_per_s"], "own_copy_rows_per_s": own_copy,
                "cursor_rows_per_s": baseline.get("cursor_csv_rows_per_s")}
    finally:
        if gunicorn is not None:
            gunicorn.send_signal(signal.SIGTERM)
            gunicorn.wait(30)
        drop()


def measure_ingest(events: int):
    from sqlalchemy import func, select

    from services.registry import demo, handlers
    from shared import migrations
    from shared.bus import admin, topology
    from shared.bus.consumer import drain
    from shared.bus.relay import relay_pending
    from shared.config import load_settings
    from shared.platform import Platform, new_metadata, platform_tables

    tag = uuid.uuid4().hex[:8]
    vhost, prefix = f"bench-{tag}", f"bench{tag}-"
    admin.apply(vhost, prefix, passwords={u: topology.dev_password(u) for u in topology.broker_users()})
    tmp = Path(tempfile.mkdtemp(prefix="bench-registry-ingest-"))
    url, drop = create_pg_database("bench_registry_")
    platforms = []
    try:
        def amqp(user):
            return f"amqp://{prefix}{user}:{user}-dev@127.0.0.1:5672/{vhost}"
        producers = {}
        for service in ("intake", "consent"):
            purl = f"sqlite:///{tmp}/{service}.db"
            migrations.upgrade(service, purl)
            env = {"DATA_DIR": str(tmp), f"{service.upper()}_DATABASE_URL": purl, "LOG_LEVEL": "WARNING",
                   f"{service.upper()}_AMQP_URLS": amqp(service)}
            producers[service] = Platform(load_settings(service, env=env), platform_tables(new_metadata()))
            platforms.append(producers[service])
        os.environ["REGISTRY_PSEUDONYM_SECRET"] = SECRET
        registry, _env = registry_platform(url, tmp, {"REGISTRY_AMQP_URLS": amqp("registry")})
        platforms.append(registry)
        data = demo.load_cases()
        at = datetime(2026, 11, 1, tzinfo=UTC)
        offices = ["kristiansand", "lister", "malvik", "bergen-vest"]
        template = data["cases"][1]
        with producers["consent"].engine.begin() as cconn, producers["intake"].engine.begin() as iconn:
            for i in range(events):
                case_uuid = str(uuid.uuid4())
                office = offices[i % 4]
                producers["consent"].emit(cconn, "consent.granted", office, {
                    "case_id": case_uuid, "purpose": "research_registration", "template_version": 1,
                    "effective_at": at, "expires_on": None})
                payload = demo.closure_payload(dict(template, case=i + 1000, candidate=i), data["defaults"])
                payload["case_id"] = case_uuid
                producers["intake"].emit(iconn, "case.closed", office, payload)
        assert relay_pending(producers["consent"]) == events
        assert relay_pending(producers["intake"]) == events
        stats = drain(registry, handlers.consumer_spec(), idle_seconds=1.0)
        with registry.engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(registry.tables["closures"])).scalar_one()
        assert stats.processed == 2 * events and stored == events, (stats, stored)
        baseline = run_baseline("baseline_bus.py", 20000)
        return {"events": 2 * events, "ingest_per_s": 2 * events / (stats.last_at - stats.first_at),
                "consume_ack_per_s": baseline["consume_acked_per_s"]}
    finally:
        for platform in platforms:
            platform.engine.dispose()
        drop()
        admin.delete_vhosts([vhost], [prefix])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-export", action="store_true")
    args = parser.parse_args(argv)
    if not args.skip_export:
        report_export(measure_export(args.rows))
    if not args.skip_ingest:
        report_ingest(measure_ingest(args.events))
    return 0


def report_export(export):
    print(f"export: {export['rows']} rows, {export['bytes'] / 1e6:.0f} MB in {export['seconds']:.2f} s = "
          f"{export['rows_per_s']:.0f} rows/s over HTTP; COPY baseline {export['copy_rows_per_s']:.0f} rows/s; "
          f"cursor+csv baseline {export['cursor_rows_per_s']:.0f} rows/s; COPY of the registry's own export query "
          f"to /dev/null {export['own_copy_rows_per_s']:.0f} rows/s")
    print(f"export_ratio_to_copy={export['rows_per_s'] / export['copy_rows_per_s']:.2f} (target >= 0.12)  "
          f"worker_peak_rss_mb={export['worker_peak_rss_mb']:.1f} "
          f"(before the request {export['worker_rss_before_mb']:.1f}; target < 100)")


def report_ingest(result):
    print(f"ingest: {result['events']} events at {result['ingest_per_s']:.0f} msg/s through the bus; "
          f"consume+ack baseline {result['consume_ack_per_s']:.0f} msg/s")
    print(f"ingest_ratio_to_consume_ack={result['ingest_per_s'] / result['consume_ack_per_s']:.2f}")


if __name__ == "__main__":
    sys.exit(main())
