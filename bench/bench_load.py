"""Mixed load (issue #19): what a person waits for while every process of the platform runs.

    .venv/bin/python bench/bench_load.py [--people 200] [--seconds 240] [--ramp 60]
                                         [--capacity-steps 50,100,200,300,400] [--capacity-seconds 60]

Brings the whole system up with the local run's own supervisor (scripts/devstack.py: the OpenID provider, four
services under gunicorn, the relays, the consumers, notify's worker, the SMTP sink and nginx) on free ports, fresh
PostgreSQL databases and a throwaway vhost, with a directory of ten offices (the demo's, plus counsellors and local
contacts per office). Each simulated person signs in through the provider as a person does (its login form), waits
10-30 s between actions (a ramp-up spreads the first ones) and does the realistic mix through nginx:

  counsellor: the worklist (page), a case (page), log a contact, save a draft of the closure, submit a closure
  local contact: record a consent with a 200 kB scan        researcher: download the CSV export

Phase 1 prints p50/p95/p99 per page and API call, errors, the closure-to-registry delay (intake's outbox row of
`case.closed` to the registry consumer's inbox row of the same message, from the two databases) and the load
generator's own CPU, against the targets at 200 people: every page p95 <= 300 ms and p99 <= 1 s, closure submit
p95 <= 500 ms, closure-to-registry p95 <= 2 s, no errors.

Phase 2 (capacity) raises the number of people step by step until a page's p95 passes 300 ms and prints the
throughput of the last step within it; then the same steps against a bare Flask endpoint (../shared/bench/
baseline_app.py, GET /ping, under gunicorn with as many workers) and the ratio of the two. People in phase 2 wait
1-3 s (one such person asks as often as ten people at 10-30 s; the thread count of the generator stays sane), and the
generator's CPU is printed beside each step: when it nears a core, the generator, not the platform, is the limit.
The bare endpoint's ramp goes on doubling past the last step while the generator stays under half a core; when even
that does not saturate it, the ratio is an upper bound, and wrk (C, a few % of a core) measures the bare endpoint's raw
limit in the same run, printed with the platform's capacity as a share of it.
Exit code 1 when a phase-1 target is missed.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import requests  # noqa: E402

from bench.bench_intake import CLOSURE_ANSWERS  # noqa: E402  (one closure body for both benchmarks)

BASELINES = REPO.parent / "shared" / "bench"
PAGE_P95_MS, PAGE_P99_MS, SUBMIT_P95_MS, REGISTRY_P95_MS = 300, 1000, 500, 2000
CLOSED: set[str] = set()  # cases closed so far: a later phase's people do not close them again
SESSIONS: dict[str, requests.Session] = {}  # one sign-in per identity for the whole run
GENERATOR_LIMIT = 0.5  # of one core: beyond it the generator competes with the server for the 2 cores
SCAN = b"%PDF-1.7\n" + os.urandom(200 * 1024) + b"\n%%EOF\n"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


class Recorder:
    """Latencies (ms) per action name, errors with their first lines, completed requests; thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latencies = defaultdict(list)
        self.errors = defaultdict(int)
        self.examples = []

    def time(self, name: str, call) -> requests.Response | None:
        started = time.perf_counter()
        try:
            response = call()
        except requests.RequestException as error:
            response, failure = None, f"{type(error).__name__}"
        else:
            failure = None if response.status_code < 400 else f"HTTP {response.status_code}: {response.text[:160]}"
        elapsed = (time.perf_counter() - started) * 1000
        with self.lock:
            self.latencies[name].append(elapsed)
            if failure:
                self.errors[name] += 1
                if len(self.examples) < 10:
                    self.examples.append(f"{name}: {failure}")
        return response

    def total(self) -> int:
        with self.lock:
            return sum(len(v) for v in self.latencies.values())


def bench_directory(offices_extra: int) -> dict:
    """The demo directory plus `offices_extra` counsellors and two local contacts in each of its ten offices."""
    data = json.loads((REPO / "deploy" / "data" / "directory.json").read_text(encoding="utf-8"))
    number = 500000
    for office in data["offices"]:
        for role, count in (("counsellor", offices_extra), ("local_contact", 2)):
            for n in range(count):
                number += 1
                user_id = f"bench-{role[:5]}-{office['code']}-{n}"
                data["users"].append({"id": user_id, "name": f"Bench {role} {n}", "role": role,
                                      "email": f"{user_id}@bench.example.org", "office_code": office["code"],
                                      "job_title": "NAV-veileder", "nav_ident": f"Z{number}"})
    return data


def sign_in(base_url: str, issuer: str, email: str) -> requests.Session:
    """As a browser does: /logg-inn sends it to the provider, whose login form it fills in."""
    from tests.fixtures.tokens import provider_sign_in
    session = requests.Session()
    page = session.get(base_url + "/logg-inn", timeout=30)
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    answer = provider_sign_in(session, issuer + action, email, "demo")
    if not (answer.status_code == 200 and answer.url.startswith(base_url)):
        raise RuntimeError(f"sign-in of {email} failed: {answer.status_code} {answer.url}")
    session.get(base_url + "/intake/", timeout=30)  # sets the CSRF cookie the API calls echo
    return session


class Person:
    """One simulated person: a copy of its identity's signed-in cookies, its own connection, its own cases."""

    def __init__(self, base_url, cookies, role, cases, recorder, think, rng):
        self.base, self.role, self.cases, self.recorder, self.think, self.rng = base_url, role, cases, recorder, \
            think, rng
        self.http = requests.Session()
        self.http.cookies.update(cookies)
        self.http.headers["X-CSRF-Token"] = cookies.get("hybrid_csrf", "")

    def run(self, start_at: float, stop: threading.Event, closures: list):
        stop.wait(max(0.0, start_at - time.monotonic()))
        while not stop.is_set():
            if stop.wait(self.rng.uniform(*self.think)):
                return
            getattr(self, f"act_{self.role}")(closures)

    def act_counsellor(self, closures):
        case_id = self.rng.choice(self.cases["open"]) if self.cases["open"] else None
        roll = self.rng.random()
        if roll < 0.3 or case_id is None:
            self.recorder.time("page: worklist", lambda: self.http.get(self.base + "/intake/", timeout=30))
        elif roll < 0.6:
            self.recorder.time("page: case", lambda: self.http.get(f"{self.base}/intake/saker/{case_id}", timeout=30))
        elif roll < 0.8:
            today = time.strftime("%Y-%m-%d")
            self.recorder.time("api: log a contact", lambda: self.http.post(
                f"{self.base}/intake/api/v1/cases/{case_id}/contacts", timeout=30,
                json={"contact_date": today, "party": "mentor", "form": "phone", "minutes": 20}))
        elif roll < 0.9:
            self.recorder.time("api: save a closure draft", lambda: self.http.put(
                f"{self.base}/intake/api/v1/cases/{case_id}/closure/draft", timeout=30,
                json={"closure_reason": "measure_completed", "feedback_mentor": "satisfied"}))
        else:
            self.cases["open"].remove(case_id)
            form = self.recorder.time("api: read the closure form", lambda: self.http.get(
                f"{self.base}/intake/api/v1/cases/{case_id}/closure", timeout=30))
            if form is None or form.status_code != 200:
                return
            body = {**CLOSURE_ANSWERS, "closed_on": time.strftime("%Y-%m-%d")}
            answer = self.recorder.time("api: submit a closure", lambda: self.http.post(
                f"{self.base}/intake/api/v1/cases/{case_id}/closure", json=body, timeout=30,
                headers={"If-Match": form.headers.get("ETag", ""), "Idempotency-Key": str(uuid.uuid4())}))
            if answer is not None and answer.status_code == 201:
                closures.append(case_id)
                CLOSED.add(case_id)

    def act_local_contact(self, _closures):
        case_id = self.rng.choice(self.cases["all"])
        self.recorder.time("api: record a consent with a scan", lambda: self.http.post(
            self.base + "/consent/api/v1/consents", timeout=60, files={"document": ("samtykke.pdf", SCAN)},
            data={"case_id": case_id, "signer_role": "candidate", "signer_name": "Bench Kandidat",
                  "signed_on": time.strftime("%Y-%m-%d"), "decision_research_registration": "granted"}))

    def act_researcher(self, _closures):
        self.recorder.time("api: download the CSV export", lambda: self.http.get(
            self.base + "/registry/api/v1/exports/closures.csv", timeout=120))

    def act_bare(self, _closures):
        self.recorder.time("bare: GET /ping", lambda: self.http.get(self.base + "/ping", timeout=30))


def run_people(people: list[Person], seconds: float, ramp: float) -> tuple[list, float, float]:
    """Run the people for `seconds` after a ramp; returns the submitted closures, the wall time and the generator's
    CPU seconds over it."""
    stop, closures = threading.Event(), []
    began, cpu = time.monotonic(), time.process_time()
    threads = [threading.Thread(target=p.run, args=(began + ramp * i / max(1, len(people)), stop, closures),
                                daemon=True) for i, p in enumerate(people)]
    for thread in threads:
        thread.start()
    stop.wait(ramp + seconds)
    stop.set()
    for thread in threads:
        thread.join(60)
    return closures, time.monotonic() - began, time.process_time() - cpu


def report(recorder: Recorder, wall: float, cpu: float) -> dict[str, float]:
    print(f"{'action':38} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6}")
    p95 = {}
    for name in sorted(recorder.latencies):
        values = recorder.latencies[name]
        p95[name] = percentile(values, 0.95)
        print(f"{name:38} {len(values):6d} {percentile(values, 0.5):8.0f} {p95[name]:8.0f} "
              f"{percentile(values, 0.99):8.0f} {recorder.errors[name]:6d}")
    print(f"requests {recorder.total()} in {wall:.0f} s = {recorder.total() / wall:.1f}/s; load generator CPU "
          f"{cpu:.1f} s = {100 * cpu / wall:.0f} % of one core")
    for example in recorder.examples:
        print("  error: " + example)
    return p95


def closure_delays(urls: dict, submitted: int, timeout: float = 120.0) -> list[float]:
    """Seconds from intake's outbox row of each `case.closed` to the registry's inbox row of the same message."""
    from sqlalchemy import create_engine, text
    intake, registry = create_engine(urls["intake"]), create_engine(urls["registry"])
    try:
        deadline = time.monotonic() + timeout
        while True:
            with intake.connect() as conn:
                made = dict(conn.execute(text("SELECT message_id, created_at FROM outbox "
                                              "WHERE event_type = 'case.closed'")).all())
            with registry.connect() as conn:
                seen = dict(conn.execute(text("SELECT message_id, processed_at FROM inbox "
                                              "WHERE event_type = 'case.closed'")).all())
            if (len(made) >= submitted and set(made) <= set(seen)) or time.monotonic() > deadline:
                break
            time.sleep(1)
        missing = len(set(made) - set(seen))
        if missing:
            print(f"closures not in the registry after {timeout:.0f} s: {missing}")
        return [(seen[m] - made[m]).total_seconds() for m in made if m in seen]
    finally:
        intake.dispose()
        registry.dispose()


def enter_open_cases(env: dict, owners: list[tuple[str, str]], per_owner: int) -> dict[str, list[str]]:
    """Open cases for each (office, counsellor) through intake's service functions (the API's path)."""
    from services.intake import tables as intake_tables
    from services.intake.testing import enter_case
    from shared.config import load_settings
    from shared.platform import Platform
    platform = Platform(load_settings("intake", env=env), intake_tables.all_tables())
    today = platform.clock.today()
    opened = (today - timedelta(days=120)).isoformat()
    cases, seed = {}, 700000
    for office, counsellor in owners:
        cases[counsellor] = []
        for _ in range(per_owner):
            seed += 1
            cases[counsellor].append(enter_case(platform, office, counsellor, {
                "opened_on": opened, "entry_point": "course_start", "industry": "retail", "initiator": "counsellor",
                "reasons": ["extra_follow_up"], "counsellor_knew_company": "no", "attachment_before": "none",
                "mentor_relation": "colleague",
                "measures": [{"measure": "mentor_subsidy", "from_date": opened, "to_date": None}],
                "contacts": [{"contact_date": (today - timedelta(days=100 - 30 * k)).isoformat(), "party": party,
                              "form": "phone", "minutes": 20}
                             for k, party in enumerate(("mentor", "candidate", "mentor"))]}, seed=seed)["case_id"])
    platform.engine.dispose()
    return cases


def platform_people(stack, directory: dict, count: int, think, recorder, cases: dict, rng) -> list[Person]:
    """`count` people: one researcher, a local contact per 20, the rest counsellors, spread over the offices."""
    users = {u["id"]: u for u in directory["users"]}
    counsellors = [u for u in cases]
    contacts = [u["id"] for u in directory["users"] if u["id"].startswith("bench-local")]

    def session_of(user_id):
        if user_id not in SESSIONS:
            SESSIONS[user_id] = sign_in(stack.config.base_url, stack.config.oidc_issuer, users[user_id]["email"])
        return SESSIONS[user_id].cookies.get_dict()

    office_cases = defaultdict(list)
    for counsellor in counsellors:
        office_cases[users[counsellor]["office_code"]] += cases[counsellor]
    people = [Person(stack.config.base_url, session_of("rune-forsker"), "researcher", {}, recorder, think, rng)]
    for i in range(1, count):
        if i % 20 == 0:
            contact = contacts[(i // 20) % len(contacts)]
            mine = {"all": office_cases[users[contact]["office_code"]] or [str(uuid.uuid4())]}
            people.append(Person(stack.config.base_url, session_of(contact), "local_contact", mine, recorder,
                                 think, rng))
        else:
            counsellor = counsellors[i % len(counsellors)]
            # Each person closes only cases of its own slice, so two people of one identity never race on a case.
            slice_ = cases[counsellor][(i // len(counsellors))::max(1, count // len(counsellors) + 1)]
            people.append(Person(stack.config.base_url, session_of(counsellor), "counsellor",
                                 {"open": [c for c in slice_ if c not in CLOSED]}, recorder, think, rng))
    return people


def capacity(make_people, steps: list[int], seconds: float, label: str,
             beyond: bool = False) -> tuple[float, int, bool]:
    """Raise the people until a page's p95 passes PAGE_P95_MS; the throughput (requests/s, every kind) of the last
    step within it, its people and whether the step after it broke the target with the generator under its limit
    (a clean saturation). With `beyond`, keep doubling past the last step while the generator stays under
    GENERATOR_LIMIT of a core (past that, the generator measures itself, not the server)."""
    best, best_people = 0.0, 0
    steps = list(steps)
    while steps:
        count = steps.pop(0)
        recorder = Recorder()
        people = make_people(count, recorder)
        _closures, wall, cpu = run_people(people, seconds, ramp=min(10.0, seconds / 4))
        rate = recorder.total() / wall
        worst = max((percentile(v, 0.95) for k, v in recorder.latencies.items() if k.startswith(("page", "bare"))),
                    default=0.0)
        errors = sum(recorder.errors.values())
        print(f"{label}: {count:5d} people  {rate:7.1f} req/s  worst page p95 {worst:6.0f} ms  errors {errors}  "
              f"generator CPU {100 * cpu / wall:3.0f} %", flush=True)
        if worst > PAGE_P95_MS or errors:
            # A step lost with the generator over its limit says nothing of the server's saturation.
            return best, best_people, cpu / wall < GENERATOR_LIMIT
        best, best_people = rate, count
        if beyond and not steps and cpu / wall < GENERATOR_LIMIT:
            steps.append(2 * count)
    return best, best_people, False


def raw_limit(base: str, seconds: int = 20) -> float:
    """The bare endpoint's own limit: wrk (C, a few % of a core) with 64 keep-alive connections, requests/s."""
    out = subprocess.run(["wrk", "-t2", "-c64", f"-d{seconds}s", base + "/ping"], capture_output=True, text=True,
                         check=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def start_bare(workers: int) -> tuple[subprocess.Popen, str]:
    from tests.fixtures.stack import free_port
    port = free_port()
    db = Path(tempfile.mkdtemp(prefix="bench-load-bare-")) / "bare.db"
    process = subprocess.Popen([str(REPO / ".venv" / "bin" / "gunicorn"), "-w", str(workers), "-b",
                                f"127.0.0.1:{port}", "--chdir", str(BASELINES), "baseline_app:app"],
                               env={**os.environ, "DATABASE_URL": f"sqlite:///{db}"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if requests.get(base + "/ping", timeout=1).ok:
                return process, base
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError("the bare endpoint did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=240, help="phase 1 after the ramp")
    parser.add_argument("--ramp", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per service")
    parser.add_argument("--counsellors-per-office", type=int, default=5)
    parser.add_argument("--cases-per-counsellor", type=int, default=30)
    parser.add_argument("--capacity-steps", default="50,100,200,300,400", help="people per step; empty: no phase 2")
    parser.add_argument("--capacity-seconds", type=float, default=60)
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")

    from shared.config import SERVICES
    from tests.fixtures.broker import VhostPool
    from tests.fixtures.db import create_pg_database
    from tests.fixtures.stack import _load_devstack, free_port

    devstack = _load_devstack()
    rng = random.Random(19)
    workdir = Path(tempfile.mkdtemp(prefix="bench-load-"))
    directory = bench_directory(args.counsellors_per_office)
    directory_file = workdir / "directory.json"
    directory_file.write_text(json.dumps(directory, ensure_ascii=False), encoding="utf-8")
    pool, drops = VhostPool(), []
    vhost = pool.take()
    env = {"BUS_ADMIN_URL": vhost.admin_url, "LOG_LEVEL": "WARNING", "DIRECTORY_FILE": str(directory_file)}
    urls = {}
    for service in SERVICES:
        urls[service], drop = create_pg_database("bench_load_")
        drops.append(drop)
        env[f"{service.upper()}_DATABASE_URL"] = urls[service]
        env.update(vhost.env(service))
    config = devstack.StackConfig(data_dir=workdir / "stack", proxy_port=free_port(), smtp_port=free_port(),
                                  workers=args.workers, env=env, oidc_port=free_port(), oidc_admin_port=free_port(),
                                  service_ports={s: free_port() for s in SERVICES})
    stack = devstack.DevStack(config, echo=lambda *a: None)
    bare = None
    try:
        stack.prepare()
        for service in SERVICES:
            stack.flask(service, "directory", "load", "--file", str(directory_file))
        stack.flask("consent", "templates", "load")  # the consent forms the local contacts record against
        stack.start()
        stack.wait_ready(timeout=180)
        owners = [(u["office_code"], u["id"]) for u in directory["users"] if u["id"].startswith("bench-couns")]
        research_offices = {o["code"] for o in directory["offices"] if o["covered_by_research"]}
        print(f"offices {len(directory['offices'])} ({len(research_offices)} in research), counsellors "
              f"{len(owners)}, {args.cases_per_counsellor} open cases each; gunicorn workers {args.workers} per "
              f"service; machine load {os.getloadavg()[0]:.1f}", flush=True)
        cases = enter_open_cases(stack.service_env(), owners, args.cases_per_counsellor)

        print(f"\n== phase 1: {args.people} people, think 10-30 s, ramp {args.ramp:.0f} s, then {args.seconds:.0f} s")
        recorder = Recorder()
        people = platform_people(stack, directory, args.people, (10, 30), recorder, cases, rng)
        closures, wall, cpu = run_people(people, args.seconds, args.ramp)
        p95 = report(recorder, wall, cpu)
        delays = closure_delays(urls, len(closures))
        delay_p95 = percentile(delays, 0.95) * 1000 if delays else float("nan")
        print(f"closure to registry: {len(delays)} of {len(closures)} submitted; p50 "
              f"{percentile(delays, 0.5) * 1000:.0f} ms, p95 {delay_p95:.0f} ms")
        pages = {k: v for k, v in p95.items() if k.startswith("page")}
        checks = {
            f"every page p95 <= {PAGE_P95_MS} ms": all(v <= PAGE_P95_MS for v in pages.values()),
            f"every page p99 <= {PAGE_P99_MS} ms": all(percentile(recorder.latencies[k], 0.99) <= PAGE_P99_MS
                                                       for k in pages),
            f"closure submit p95 <= {SUBMIT_P95_MS} ms": p95.get("api: submit a closure", 0) <= SUBMIT_P95_MS,
            f"closure to registry p95 <= {REGISTRY_P95_MS} ms": bool(delays) and delay_p95 <= REGISTRY_P95_MS
            and len(delays) == len(closures),
            "no errors": not any(recorder.errors.values()),
        }
        for name, met in checks.items():
            print(f"  {'met' if met else 'NOT MET':8} {name}")

        steps = [int(s) for s in args.capacity_steps.split(",") if s.strip()]
        if steps:
            print(f"\n== phase 2: capacity, people waiting 1-3 s, {args.capacity_seconds:.0f} s a step")
            platform_rate, platform_people_count, _broke = capacity(
                lambda n, rec: platform_people(stack, directory, n, (1, 3), rec, cases, rng), steps,
                args.capacity_seconds, "platform")
            bare, bare_base = start_bare(args.workers)
            bare_rate, bare_people, bare_broke = capacity(
                lambda n, rec: [Person(bare_base, {}, "bare", {}, rec, (1, 3), rng) for _ in range(n)], steps,
                args.capacity_seconds, "bare Flask", beyond=True)
            ratio = platform_rate / bare_rate if bare_rate else float("nan")
            print(f"capacity within p95 {PAGE_P95_MS} ms: platform {platform_rate:.1f} req/s "
                  f"({platform_people_count} people at 1-3 s = about {10 * platform_people_count} at 10-30 s), "
                  f"bare Flask {bare_rate:.1f} req/s ({bare_people} people); ratio {ratio:.2f}"
                  + ("" if bare_broke else " (an upper bound: the generator, not the bare endpoint, ran out first)"))
            if shutil.which("wrk"):
                limit = raw_limit(bare_base)
                print(f"bare Flask's raw limit (wrk, 64 connections): {limit:.0f} req/s; "
                      f"platform capacity = {platform_rate / limit:.3f} of it")
        return 0 if all(checks.values()) else 1
    finally:
        if bare:
            bare.terminate()
        stack.stop()
        for drop in drops:
            drop()
        pool.close()


if __name__ == "__main__":
    sys.exit(main())
