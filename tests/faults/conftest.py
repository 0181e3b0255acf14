"""The fault suite's own broker and database, and the Jepsen-style harness: burst, fault, drain, count.

Every test in tests/faults carries the `faults` marker (the default test run deselects it; scripts/faults.sh
runs it). Size: FAULTS_SIZE events per fault (300 in CI, e.g. 5000 for the full run).
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from services.intake import tables as intake_tables
from shared.bus import probe
from tests.fixtures.broker import ThrowawayBroker

from .pg_server import ThrowawayPostgres

SIZE = int(os.environ.get("FAULTS_SIZE", "300"))
# Seconds a burst may run and the system may take to catch up after a fault: 120 at the CI size, more for bigger
# bursts (at 5000, on this 2-core machine shared with other suites, a burst alone took minutes).
SETTLE = max(120, SIZE // 10)
RESULTS: list[str] = []


def report_counts(terminalreporter, title: str):
    """The counts the tests gathered in RESULTS, as a section at the end of the run (faults and cluster)."""
    if RESULTS:
        terminalreporter.section(title)
        for line in RESULTS:
            terminalreporter.write_line(line)


def pytest_terminal_summary(terminalreporter):
    report_counts(terminalreporter, "fault counts")


@pytest.fixture(scope="session")
def fault_broker(tmp_path_factory):
    """The suite's own RabbitMQ node (own node name, ports, mnesia and log dirs): restarted by a test."""
    with ThrowawayBroker(tmp_path_factory.mktemp("fault-rabbitmq")) as broker:
        yield broker


@pytest.fixture(scope="session")
def fault_pg():
    """The suite's own PostgreSQL server (initdb + pg_ctl as the postgres OS user): stopped by a test."""
    server = ThrowawayPostgres().init()
    server.start()
    try:
        yield server
    finally:
        server.destroy()


def make_vhost(broker, name, attempts=4):
    """broker.vhost(name), retried: two rabbitmqctl calls at once on this machine (other suites run theirs) now
    and then collide on the CLI's own Erlang node name ("Distribution failed")."""
    from shared.bus.admin import AdminError
    for attempt in range(attempts):
        try:
            return broker.vhost(name)
        except AdminError:
            if attempt == attempts - 1:
                raise
            time.sleep(1 + attempt)


@pytest.fixture
def fault_platform(fault_broker, fault_pg, platform_factory, request):
    """A fresh database on the suite's PostgreSQL and a fresh vhost on the suite's broker, as the probe user."""
    vhost = make_vhost(fault_broker, "f-" + request.node.name[:40].replace("[", "-").replace("]", ""))
    platform = platform_factory("intake", intake_tables.all_tables(), fault_pg.create_database(),
                                env=vhost.env("intake", "probe"))
    probe.install(platform)
    platform.vhost = vhost
    return platform


class Burst(threading.Thread):
    """A service writing events steadily (ticks of `per_tick` in one transaction each), whatever the broker or
    the database is doing; a failed transaction (database down) is retried, as a caller would retry a 503."""

    def __init__(self, platform, total=SIZE, ticks=30, interval=0.1, fail_every: int = 0):
        super().__init__(daemon=True)
        self.platform, self.total, self.ticks, self.interval = platform, total, ticks, interval
        self.fail_every = fail_every
        self.poison: list[str] = []
        self.retries = 0

    def run(self):
        per_tick = max(1, self.total // self.ticks)
        done = 0
        while done < self.total:
            n = min(per_tick, self.total - done)
            try:
                with self.platform.engine.begin() as conn:
                    poison = []
                    for sequence in range(done, done + n):
                        bad = self.fail_every and sequence % self.fail_every == self.fail_every // 2
                        payload = {"sequence": sequence, "fail": "reject"} if bad else {"sequence": sequence}
                        envelope = self.platform.emit(conn, "bus.probe", "kristiansand", payload)
                        if bad:
                            poison.append(envelope["message_id"])
                self.poison += poison
                done += n
            except DBAPIError:
                self.retries += 1
                time.sleep(0.5)
                continue
            time.sleep(self.interval)


@dataclass
class Count:
    fault: str
    produced: int
    consumed: int
    duplicates: int
    lost: int
    unexpected: int
    notes: dict = field(default_factory=dict)

    def line(self) -> str:
        extra = "".join(f" {k}={v}" for k, v in self.notes.items())
        return (f"{self.fault}: produced={self.produced} consumed={self.consumed} duplicates={self.duplicates} "
                f"lost={self.lost}{extra}")


def outbox_ids(platform) -> set[str]:
    """What was produced: the outbox is the record of every committed event."""
    outbox = platform.tables["outbox"]
    with platform.engine.connect() as conn:
        return set(conn.execute(select(outbox.c.message_id).where(outbox.c.event_type == "bus.probe")).scalars())


def count(platform, fault: str, exclude: set[str] = frozenset(), **notes) -> Count:
    produced = outbox_ids(platform) - set(exclude)
    effects = probe.effect_counts(platform)
    result = Count(fault=fault, produced=len(produced), consumed=len(produced & set(effects)),
                   duplicates=sum(c - 1 for c in effects.values()), lost=len(produced - set(effects)),
                   unexpected=len(set(effects) - produced), notes=notes)
    RESULTS.append(result.line())
    print(result.line())
    return result


def assert_exact(result: Count, expected: int):
    assert result.produced == expected, result.line()
    assert (result.duplicates, result.lost, result.unexpected) == (0, 0, 0), result.line()
    assert result.consumed == expected, result.line()
