"""Restart RabbitMQ during a burst: consumed event ids equal produced event ids, no duplicate effects.

Runs on a RabbitMQ node of the test's own (ThrowawayBroker); the machine's broker is never stopped.
"""
import os
import threading
import time

import pytest
from sqlalchemy import func, select

from services.intake import tables as intake_tables
from shared.bus import probe
from tests.fixtures.broker import ProbeProcess, wait_for

pytestmark = pytest.mark.slow


def test_broker_restart_during_a_burst_loses_and_duplicates_nothing(throwaway_broker, db_url, platform_factory,
                                                                    tmp_path, probe_processes):
    vhost = throwaway_broker.vhost("burst-" + db_url.split(":")[0])
    platform = platform_factory("intake", intake_tables.all_tables(), db_url, env=vhost.env("intake", "probe"))
    probe.install(platform)
    outbox = platform.tables["outbox"]

    def sent():
        with platform.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_not(None))).scalar()

    per_tick, ticks = int(os.environ.get("BUS_BURST_PER_TICK", "40")), int(os.environ.get("BUS_BURST_TICKS", "100"))
    produced: list[str] = []

    def producer():  # a service writing events steadily, whatever the broker is doing (~ticks x 0.1 s)
        for tick in range(ticks):
            produced.extend(probe.produce(platform, per_tick, start=tick * per_tick))
            time.sleep(0.1)

    relay = ProbeProcess("relay", platform, tmp_path, INTAKE_RELAY_LEASE_SECONDS=2)
    consumer = ProbeProcess("consume", platform, tmp_path, INTAKE_CONSUMER_BATCH=100)
    probe_processes += [relay, consumer]
    burst = threading.Thread(target=producer)
    burst.start()
    try:
        wait_for(lambda: sent() >= per_tick * ticks // 5, 60, what="the burst to be flowing")
        before = sent()
        # The service must still be writing when the broker goes down (the restart itself takes seconds).
        assert burst.is_alive(), "the burst ended before the restart: raise BUS_BURST_TICKS"
        produced_at_restart = len(produced)
        throwaway_broker.restart()
        assert len(produced) > produced_at_restart, "no event was written while the broker restarted"
    finally:
        burst.join()
    total = per_tick * ticks
    assert len(produced) == total
    wait_for(lambda: sent() == total, 90, interval=0.2, what="every outbox row confirmed after the restart")
    wait_for(lambda: sum(probe.effect_counts(platform).values()) >= total, 90, interval=0.2, what="every effect")
    time.sleep(0.5)  # a late duplicate, if any, would show now
    assert relay.terminate() == 0 and consumer.terminate() == 0

    effects = probe.effect_counts(platform)
    assert set(effects) == set(produced)  # consumed ids == produced ids
    assert set(effects.values()) == {1}  # no duplicate effects
    assert before < total
    relay_log = relay.log_entries()
    assert any(e.get("msg") == "broker connection closed" for e in relay_log), "the relay never saw the restart"
