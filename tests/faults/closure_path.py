"""The real path as separate processes, for the fault suite and the cluster test: case closures entered in intake
(through the same service functions as the API, so the same outbox events), intake's relay and the consumers of
consent, registry and notify (`flask --app services.<svc>.wsgi outbox relay | bus consume`, the commands the run
and the containers use), each service on a database of its own and configured with a list of broker addresses.

The count per consumer: produced = intake's outbox ids whose routing key the consumer's queue is bound to;
consumed = those in the consumer's inbox; lost = produced and never consumed; duplicates = effects beyond one per
message: for the registry, log rows per message id (a second copy would add a "duplicate" log row); for consent
and notify (idempotent upserts, which a second copy would not show in their tables), effects committed beyond one
per message, from the consumers' own counters (`consumer stopped ... processed=`, counted at commit, before the
ack; so they must stop with SIGTERM).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time

from sqlalchemy import func, select

from services.consent import tables as consent_tables
from services.intake import tables as intake_tables
from services.intake.testing import SAMPLE_CASE, enter_case
from services.notify import tables as notify_tables
from services.registry import tables as registry_tables
from shared.bus import topology
from shared.config import REPO_ROOT
from tests.fixtures.broker import ProbeProcess

from .conftest import RESULTS, Count

SECRET = "faults-pseudonym-secret-0123456789abcdef"
TABLES = {"consent": consent_tables, "registry": registry_tables, "notify": notify_tables}
QUEUE = {q.service: q for q in topology.QUEUES}
# Small relay windows and consumer batches, so that a fault lands among many unconfirmed/unacked messages.
TUNING = {"INTAKE_RELAY_WINDOW": "20", "INTAKE_RELAY_BATCH": "10", "INTAKE_RELAY_LEASE_SECONDS": "2",
          **{f"{s.upper()}_CONSUMER_BATCH": "10" for s in TABLES}}


class ServiceProcess(ProbeProcess):
    """`flask --app services.<service>.wsgi <command...>` as its own process (killable with SIGKILL)."""

    def __init__(self, service, command, env, tmp_path):
        self.log_path = tmp_path / f"{service}-{command[0]}-{time.monotonic_ns()}.log"
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen([sys.executable, "-m", "flask", "--app", f"services.{service}.wsgi",
                                         *command], cwd=REPO_ROOT, env={**os.environ, **env},
                                        stdout=self.log, stderr=subprocess.STDOUT)


def _topic_regex(binding: str) -> re.Pattern:
    """A topic binding as a regex over a routing key: `*` one word, `#` zero or more words."""
    parts = [r"[^.]+" if w == "*" else r".*" if w == "#" else re.escape(w) for w in binding.split(".")]
    return re.compile(r"\.".join(parts).replace(r"\..*", r"(\..*)?") + "$")


class ClosurePath:
    """intake and the given consumers' services, each on a database from `database_url()`, with the broker
    addresses `amqp_urls(service)` (a comma-separated list)."""

    def __init__(self, platform_factory, database_url, amqp_urls, tmp_path, consumers=("registry",)):
        self.tmp_path = tmp_path
        self.intake = platform_factory("intake", intake_tables.all_tables(), database_url(),
                                       env={"INTAKE_AMQP_URLS": amqp_urls("intake")})
        self.env = {"DATA_DIR": str(tmp_path), "KEYRING_FILE": str(self.intake.settings.keyring_file),
                    "INTAKE_DATABASE_URL": self.intake.settings.database_url,
                    "INTAKE_AMQP_URLS": amqp_urls("intake"), "REGISTRY_PSEUDONYM_SECRET": SECRET, **TUNING}
        self.services = {}
        for service in consumers:
            prefix = service.upper()
            env = {f"{prefix}_AMQP_URLS": amqp_urls(service), "REGISTRY_PSEUDONYM_SECRET": SECRET}
            platform = platform_factory(service, TABLES[service].all_tables(), database_url(), env=env)
            self.services[service] = platform
            self.env.update({f"{prefix}_DATABASE_URL": platform.settings.database_url,
                             f"{prefix}_AMQP_URLS": amqp_urls(service)})
        self.processes: list[ServiceProcess] = []
        self.entered = 0

    def start(self, name: str) -> ServiceProcess:
        """"intake-relay" or "<service>-consumer"."""
        service, role = name.rsplit("-", 1)
        command = ["outbox", "relay"] if role == "relay" else ["bus", "consume"]
        process = ServiceProcess(service, command, self.env, self.tmp_path)
        self.processes.append(process)
        return process

    def enter(self, seed: int):
        enter_case(self.intake, "kristiansand", "kari-veileder", SAMPLE_CASE, seed=seed)
        self.entered += 1

    def start_burst(self, closures: int) -> tuple[threading.Thread, list]:
        """Counsellors closing `closures` cases steadily, on a thread of its own (started); returns the thread and the
        list its errors go to (to assert empty once it is joined)."""
        errors = []

        def burst():
            try:
                for seed in range(closures):
                    self.enter(seed)
                    time.sleep(0.02)
            except Exception as error:  # noqa: BLE001 - reported by the caller
                errors.append(error)
        producer = threading.Thread(target=burst, daemon=True)
        producer.start()
        return producer, errors

    # ------------------------------------------------------------ what happened
    def confirmed(self) -> int:
        """case.closed rows the relay has marked sent (confirmed by the broker)."""
        outbox = self.intake.tables["outbox"]
        with self.intake.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(outbox).where(
                outbox.c.event_type == "case.closed", outbox.c.sent_at.is_not(None))).scalar()

    def unsent(self) -> int:
        outbox = self.intake.tables["outbox"]
        with self.intake.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))).scalar()

    def produced(self, service: str) -> set[str]:
        """Outbox ids of the events routed to the service's queue."""
        patterns = [_topic_regex(b) for b in QUEUE[service].bindings]
        outbox = self.intake.tables["outbox"]
        with self.intake.engine.connect() as conn:
            rows = conn.execute(select(outbox.c.message_id, outbox.c.routing_key)).all()
        return {mid for mid, key in rows if any(p.match(key) for p in patterns)}

    def inbox(self, service: str) -> set[str]:
        platform = self.services[service]
        inbox = platform.tables["inbox"]
        with platform.engine.connect() as conn:
            return set(conn.execute(select(inbox.c.message_id).where(
                inbox.c.consumer == QUEUE[service].name)).scalars())

    def closed_cases(self, service: str) -> int:
        """Cases the service knows as closed (its own record of each case)."""
        platform = self.services[service]
        if service == "registry":
            table = platform.tables["waiting"]  # no consent recorded here: every closure waits for one
            query = select(func.count()).select_from(table)
        else:
            table = platform.tables["cases"]
            query = select(func.count()).select_from(table).where(table.c.closed_on.is_not(None))
        with platform.engine.connect() as conn:
            return conn.execute(query).scalar()

    def registry_log(self) -> dict[str, int]:
        platform = self.services["registry"]
        log = platform.tables["log"]
        with platform.engine.connect() as conn:
            rows = conn.execute(select(log.c.message_id, func.count()).where(log.c.event_type == "case.closed")
                                .group_by(log.c.message_id)).all()
        return dict(rows)

    def caught_up(self) -> bool:
        return self.unsent() == 0 and all(self.produced(s) <= self.inbox(s) for s in self.services)

    def stop(self) -> dict[str, dict]:
        """SIGTERM every live process; the consumers' final counters, summed per service."""
        totals: dict[str, dict] = {}
        for process in self.processes:
            if process.process.poll() is None:
                assert process.terminate() == 0, process.log_path.read_text()[-2000:]
            for entry in process.log_entries():
                if entry.get("msg") == "consumer stopped":
                    service = next(s for s, q in QUEUE.items() if q.name == entry.get("queue"))
                    sums = totals.setdefault(service, {"processed": 0, "duplicate": 0})
                    for key in sums:
                        sums[key] += int(entry.get(key, 0) or 0)
        return totals

    def count(self, service: str, fault: str, consumer_totals: dict | None = None, **notes) -> Count:
        produced, consumed = self.produced(service), self.inbox(service)
        if service == "registry":
            log = self.registry_log()
            duplicates = sum(c - 1 for c in log.values())
        else:
            processed = (consumer_totals or {}).get(service, {}).get("processed")
            assert processed is not None, f"no final counters from {service}'s consumer"
            duplicates = processed - len(consumed)
        if consumer_totals and service in consumer_totals:
            notes = {**notes, "redelivered_deduplicated": consumer_totals[service]["duplicate"]}
        result = Count(fault=f"{fault} [{service}]", produced=len(produced), consumed=len(produced & consumed),
                       duplicates=duplicates, lost=len(produced - consumed), unexpected=len(consumed - produced),
                       notes={"closed_cases": self.closed_cases(service), **notes})
        RESULTS.append(result.line())
        print(result.line())
        return result

    def cleanup(self):
        for process in self.processes:
            process.cleanup()
