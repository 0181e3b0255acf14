"""Soak: the whole system under steady load for SOAK_SECONDS (default 1800), printing every process's memory.

    bash scripts/soak.sh                         # 30 minutes
    SOAK_SECONDS=240 SOAK_SAMPLE_SECONDS=20 bash scripts/soak.sh

Brings the system up with the local run's own supervisor (scripts/devstack.py) on free ports, in a temporary
data folder, on fresh PostgreSQL databases and a throwaway vhost of the machine's RabbitMQ. The load, steady:
  - SOAK_CLOSURES_PER_SECOND whole cases (opened, measures, contacts, closed) entered in intake through its
    service functions (the API's path), each one relayed -> consent, registry and notify consumers;
  - SOAK_REQUESTS_PER_SECOND signed-in HTTP requests through nginx (case list, a case, the registry's table,
    /readyz of each service).
Every SOAK_SAMPLE_SECONDS it prints each process's resident memory (RSS of the process and its children, e.g.
gunicorn's workers) in MB.

The verdict judges the trend after warm-up, not the climb out of it: the samples of the first SOAK_WARMUP_SECONDS
(default a tenth of the run, at least 60 s: imports, pools, caches and allocator arenas filling) are left out,
the rest is cut in thirds, and a process whose mean over the last third is more than SOAK_MAX_GROWTH_MB (default
1) above its mean over the middle third fails the soak (exit 1), as does a closure that did not reach the
registry or any error. The bound is also printed as the steady climb it catches (MB per hour: the thirds'
centres are a third of the judged time apart, so 10 minutes catch a climb of 20 MB/h and 30 minutes one of
about 7), and each process's least-squares slope after warm-up, to tell a step from a steady climb.
"""
from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

SECONDS = int(os.environ.get("SOAK_SECONDS", "1800"))
SAMPLE = float(os.environ.get("SOAK_SAMPLE_SECONDS", "30"))
CLOSURE_RATE = float(os.environ.get("SOAK_CLOSURES_PER_SECOND", "2"))
REQUEST_RATE = float(os.environ.get("SOAK_REQUESTS_PER_SECOND", "5"))
WARMUP = float(os.environ.get("SOAK_WARMUP_SECONDS", str(max(60.0, SECONDS / 10))))
MAX_MB = float(os.environ.get("SOAK_MAX_GROWTH_MB", "1"))


def rss_kb(pid: int) -> int:
    """RSS of a process and all its descendants (kB), from /proc."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                children = (task / "children").read_text().split()
                stack += [int(c) for c in children]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


class Load:
    def __init__(self, stack, intake_platform, base_url):
        self.stack, self.intake, self.base_url = stack, intake_platform, base_url
        self.closures = self.requests = self.errors = 0
        self.stopping = threading.Event()

    def closures_loop(self):
        from services.intake.testing import SAMPLE_CASE, enter_case
        seed = 0
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                enter_case(self.intake, "kristiansand", "kari-veileder", SAMPLE_CASE, seed=seed)
                self.closures += 1
            except Exception as error:  # noqa: BLE001 - counted and shown, the soak goes on
                self.errors += 1
                print(f"closure error: {type(error).__name__}: {str(error)[:200]}", flush=True)
            seed += 1
            self.stopping.wait(max(0.0, 1 / CLOSURE_RATE - (time.monotonic() - started)))

    def requests_loop(self):
        import requests
        session = self.sign_in()
        paths = ["/intake/", "/intake/api/v1/cases", "/registry/", "/intake/readyz", "/consent/readyz",
                 "/registry/readyz", "/notify/readyz"]
        i = 0
        while not self.stopping.is_set():
            started = time.monotonic()
            path = paths[i % len(paths)]
            i += 1
            try:
                response = session.get(self.base_url + path, timeout=10)
                self.requests += 1
                if response.status_code >= 500:
                    self.errors += 1
                    print(f"HTTP {response.status_code} on {path}", flush=True)
            except requests.RequestException as error:
                self.errors += 1
                print(f"request error on {path}: {type(error).__name__}", flush=True)
            self.stopping.wait(max(0.0, 1 / REQUEST_RATE - (time.monotonic() - started)))

    def sign_in(self):
        """Kari signs in as a person does: the platform sends her to the identity provider, whose login form takes
        her e-mail and password, and back with the session cookie."""
        from urllib.parse import urljoin

        import requests

        from tests.fixtures.tokens import login_form_action, login_name, provider_sign_in
        session = requests.Session()
        login = session.get(self.base_url + "/logg-inn", timeout=10)
        provider_sign_in(session, urljoin(login.url, login_form_action(login.text)), login_name("kari-veileder"),
                         "demo")
        return session


def slope_per_hour(times: list[float], values: list[float]) -> float:
    """Least-squares slope of values over times (seconds), per hour."""
    if len(times) < 2:
        return 0.0
    mt, mv = statistics.mean(times), statistics.mean(values)
    spread = sum((t - mt) ** 2 for t in times)
    return 3600 * sum((t - mt) * (v - mv) for t, v in zip(times, values, strict=True)) / spread if spread else 0.0


def judge(times: list[float], samples: dict[str, list[float]]) -> bool:
    """Print each process's trend after warm-up; True when one grew beyond the bound."""
    kept = [i for i, t in enumerate(times) if t >= WARMUP]
    if len(kept) < 6:
        print(f"memory: only {len(kept)} samples after the {WARMUP:.0f} s warm-up; too few to judge a trend")
        return True
    third = len(kept) // 3
    middle, last = kept[third:2 * third], kept[-third:]
    apart = statistics.mean(times[i] for i in last) - statistics.mean(times[i] for i in middle)
    print(f"memory (MB) after a {WARMUP:.0f} s warm-up: mean of the middle third (t={times[middle[0]]:.0f}-"
          f"{times[middle[-1]]:.0f} s) vs the last third (t={times[last[0]]:.0f}-{times[last[-1]]:.0f} s); "
          f"limit +{MAX_MB} MB (a steady climb of {MAX_MB * 3600 / apart:.0f} MB/h or more fails)")
    print(f"  {'process':20s} {'warm':>8s} {'middle':>8s} {'last':>8s} {'growth':>8s} {'max':>8s} {'slope':>10s}")
    grew_any = False
    for name, values in samples.items():
        mid = statistics.mean(values[i] for i in middle)
        end = statistics.mean(values[i] for i in last)
        slope = slope_per_hour([times[i] for i in kept], [values[i] for i in kept])
        grew = end - mid > MAX_MB
        grew_any |= grew
        print(f"  {name:20s} {values[kept[0]]:8.1f} {mid:8.1f} {end:8.1f} {end - mid:+8.1f} "
              f"{max(values[i] for i in kept):8.1f} {slope:+7.1f}/h{'  GROWTH' if grew else ''}")
    return grew_any


def registry_received(stack) -> int:
    from sqlalchemy import create_engine, text
    engine = create_engine(stack.config.env["REGISTRY_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM inbox WHERE event_type = 'case.closed'")).scalar()
    finally:
        engine.dispose()


def main() -> int:
    import tempfile

    from services.intake import tables as intake_tables
    from shared.config import SERVICES, load_settings
    from shared.platform import Platform
    from tests.fixtures.broker import VhostPool
    from tests.fixtures.db import create_pg_database
    from tests.fixtures.stack import _load_devstack, free_port

    devstack = _load_devstack()

    pool, drops = VhostPool(), []
    vhost = pool.take()
    env = {"BUS_ADMIN_URL": vhost.admin_url, "LOG_LEVEL": "WARNING"}
    for service in SERVICES:
        url, drop = create_pg_database()
        drops.append(drop)
        env[f"{service.upper()}_DATABASE_URL"] = url
        env.update(vhost.env(service))
    data_dir = Path(tempfile.mkdtemp(prefix="soak-"))
    config = devstack.StackConfig(data_dir=data_dir, proxy_port=free_port(), smtp_port=free_port(), workers=2,
                                  env=env, service_ports={s: free_port() for s in SERVICES},
                                  oidc_port=free_port(), oidc_admin_port=free_port())
    stack = devstack.DevStack(config, echo=lambda *a: print(*a, flush=True))
    load = None
    try:
        print(f"soak: {SECONDS}s, sample every {SAMPLE}s, {CLOSURE_RATE} closures/s, {REQUEST_RATE} requests/s",
              flush=True)
        stack.prepare()
        stack.start()
        stack.wait_ready(timeout=180)
        intake = Platform(load_settings("intake", env=stack.service_env()), intake_tables.all_tables())
        load = Load(stack, intake, config.base_url)
        threads = [threading.Thread(target=load.closures_loop, daemon=True),
                   threading.Thread(target=load.requests_loop, daemon=True)]
        for t in threads:
            t.start()
        names = sorted(stack.processes)
        print("t(s)  " + " ".join(f"{n[:17]:>17}" for n in names) + "   closures requests errors", flush=True)
        samples, times = {n: [] for n in names}, []
        began = time.monotonic()
        while time.monotonic() - began < SECONDS:
            time.sleep(min(SAMPLE, max(0.0, SECONDS - (time.monotonic() - began))))
            times.append(time.monotonic() - began)
            row = []
            for n in names:
                mb = rss_kb(stack.processes[n].pid) / 1024
                samples[n].append(mb)
                row.append(f"{mb:17.1f}")
            print(f"{times[-1]:5.0f} " + " ".join(row) +
                  f"   {load.closures:8d} {load.requests:8d} {load.errors:6d}", flush=True)
            for n in names:
                if stack.processes[n].poll() is not None:
                    print(f"process {n} exited ({stack.processes[n].returncode})", flush=True)
                    return 1
        load.stopping.set()
        for t in threads:
            t.join(30)
        deadline = time.monotonic() + 120
        while registry_received(stack) < load.closures and time.monotonic() < deadline:
            time.sleep(1)
        received = registry_received(stack)
        print(f"\nclosures entered={load.closures} received by registry={received} requests={load.requests} "
              f"errors={load.errors}")
        failed = received != load.closures or load.errors > 0
        failed |= judge(times, samples)
        print("soak " + ("FAILED" if failed else "passed"))
        return 1 if failed else 0
    finally:
        if load:
            load.stopping.set()
        stack.stop()
        for drop in drops:
            drop()
        pool.close()


if __name__ == "__main__":
    sys.exit(main())
