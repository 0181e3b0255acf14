"""The same Jepsen-style count on the real path: case closures entered in intake (through the same service
functions as the API, so the same outbox events), relayed by intake's relay, consumed by the registry's consumer
(`flask ... outbox relay` / `flask ... bus consume`, the commands the run and the containers use).

Count per fault: produced = intake's case.closed outbox ids; consumed = the registry's inbox ids for them;
every effect exactly once = one registry log row per message id and one waiting record per case (no consent is
recorded here, so each closure waits for consent; a second copy would add a log row "duplicate").
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import func, select

from services.intake import tables as intake_tables
from services.intake.testing import enter_case
from services.registry import tables as registry_tables
from shared.config import REPO_ROOT
from tests.fixtures.broker import ProbeProcess, wait_for

from .conftest import RESULTS, SIZE, Count, make_vhost

pytestmark = pytest.mark.faults
CLOSURES = max(30, SIZE // 3)  # entering a whole case costs ~10x a probe event
SECRET = "faults-pseudonym-secret-0123456789abcdef"

CASE = {
    "opened_on": "2026-02-02", "entry_point": "course_start", "industry": "retail", "initiator": "counsellor",
    "reasons": ["extra_follow_up"], "counsellor_knew_company": "no", "attachment_before": "none",
    "mentor_relation": "colleague",
    "measures": [{"measure": "mentor_subsidy", "from_date": "2026-02-09", "to_date": "2026-05-09"}],
    "contacts": [{"contact_date": "2026-02-09", "party": "mentor", "form": "at_company", "minutes": 45}],
    "closure": {"closed_on": "2026-05-11", "closure_reason": "measure_completed",
                "attachment_after": "permanent_without_wage_subsidy", "attached_same_company": "yes",
                "feedback_mentor": "satisfied", "feedback_counsellor": "very_satisfied"},
}


class ServiceProcess(ProbeProcess):
    """`flask --app services.<service>.wsgi <command...>` as its own process (killable with SIGKILL)."""

    def __init__(self, service, command, env, tmp_path):
        self.log_path = tmp_path / f"{service}-{command[0]}-{time.monotonic_ns()}.log"
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen([sys.executable, "-m", "flask", "--app", f"services.{service}.wsgi",
                                         *command], cwd=REPO_ROOT, env={**os.environ, **env},
                                        stdout=self.log, stderr=subprocess.STDOUT)


@pytest.fixture
def closure_path(fault_broker, fault_pg, platform_factory, request, tmp_path):
    vhost = make_vhost(fault_broker, "c-" + request.node.name[:40].replace("[", "-").replace("]", ""))
    intake = platform_factory("intake", intake_tables.all_tables(), fault_pg.create_database(),
                              env=vhost.env("intake"))
    registry = platform_factory("registry", registry_tables.all_tables(), fault_pg.create_database(),
                                env={**vhost.env("registry"), "REGISTRY_PSEUDONYM_SECRET": SECRET})
    env = {"DATA_DIR": str(tmp_path), "KEYRING_FILE": str(intake.settings.keyring_file),
           "INTAKE_DATABASE_URL": intake.settings.database_url, "INTAKE_AMQP_URLS": ",".join(intake.settings.amqp_urls),
           "REGISTRY_DATABASE_URL": registry.settings.database_url,
           "REGISTRY_AMQP_URLS": ",".join(registry.settings.amqp_urls), "REGISTRY_PSEUDONYM_SECRET": SECRET,
           "INTAKE_RELAY_WINDOW": "20", "INTAKE_RELAY_BATCH": "10", "INTAKE_RELAY_LEASE_SECONDS": "2",
           "REGISTRY_CONSUMER_BATCH": "10"}
    started = []

    def start(kind):
        process = (ServiceProcess("intake", ["outbox", "relay"], env, tmp_path) if kind == "relay"
                   else ServiceProcess("registry", ["bus", "consume"], env, tmp_path))
        started.append(process)
        return process
    yield intake, registry, start
    for process in started:
        process.cleanup()


def closed_ids(intake) -> set[str]:
    outbox = intake.tables["outbox"]
    with intake.engine.connect() as conn:
        return set(conn.execute(select(outbox.c.message_id).where(outbox.c.event_type == "case.closed")).scalars())


def confirmed(intake) -> int:
    outbox = intake.tables["outbox"]
    with intake.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(outbox).where(
            outbox.c.event_type == "case.closed", outbox.c.sent_at.is_not(None))).scalar()


def registry_log(registry) -> dict[str, int]:
    log = registry.tables["log"]
    with registry.engine.connect() as conn:
        rows = conn.execute(select(log.c.message_id, func.count()).where(log.c.event_type == "case.closed")
                            .group_by(log.c.message_id)).all()
    return dict(rows)


def waiting_records(registry) -> int:
    with registry.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(registry.tables["waiting"])).scalar()


def inbox_ids(registry) -> set[str]:
    inbox = registry.tables["inbox"]
    with registry.engine.connect() as conn:
        return set(conn.execute(select(inbox.c.message_id).where(inbox.c.event_type == "case.closed")).scalars())


@pytest.mark.parametrize("fault", ["sigkill-intake-relay", "sigkill-registry-consumer", "broker-restart"])
def test_closures_through_intake_to_registry(fault, closure_path, fault_broker):
    intake, registry, start = closure_path
    relay, consumer = start("relay"), start("consumer")
    errors = []

    def burst():  # counsellors closing cases steadily
        try:
            for seed in range(CLOSURES):
                enter_case(intake, "kristiansand", "kari-veileder", CASE, seed=seed)
                time.sleep(0.02)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
    producer = threading.Thread(target=burst)
    producer.start()
    if fault == "sigkill-intake-relay":
        wait_for(lambda: confirmed(intake) >= CLOSURES // 3, 120, interval=0.02, what="the relay under way")
        relay.kill()
        start("relay")
    elif fault == "sigkill-registry-consumer":
        wait_for(lambda: len(registry_log(registry)) >= CLOSURES // 3, 120, interval=0.02, what="the consumer")
        consumer.process.send_signal(signal.SIGKILL)
        consumer.process.wait(10)
        start("consumer")
    else:
        wait_for(lambda: confirmed(intake) >= CLOSURES // 4, 120, interval=0.02, what="the burst flowing")
        fault_broker.restart()
    producer.join(300)
    assert not errors, errors
    wait_for(lambda: confirmed(intake) == CLOSURES, 120, interval=0.2, what="every closure confirmed")
    wait_for(lambda: len(inbox_ids(registry)) >= CLOSURES, 120, interval=0.2, what="every closure consumed")
    time.sleep(1.0)
    produced, consumed, log = closed_ids(intake), inbox_ids(registry), registry_log(registry)
    result = Count(fault=f"closures-{fault}", produced=len(produced), consumed=len(produced & consumed),
                   duplicates=sum(c - 1 for c in log.values()), lost=len(produced - consumed),
                   unexpected=len(consumed - produced), notes={"waiting_records": waiting_records(registry)})
    RESULTS.append(result.line())
    print(result.line())
    assert result.produced == CLOSURES
    assert (result.duplicates, result.lost, result.unexpected) == (0, 0, 0), result.line()
    assert set(log) == produced and waiting_records(registry) == CLOSURES, result.line()
