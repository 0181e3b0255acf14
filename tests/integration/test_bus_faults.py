"""Reliability promises under faults: database down under a consumer, SIGKILL of a consumer and of the relay.

Each fault test checks what a user would notice: every produced event has exactly one effect, nothing is lost,
nothing is acknowledged before its effect is committed.
"""
import os
import threading
import time

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import create_engine, func, select, text

from services.intake import tables as intake_tables
from shared.bus import probe
from shared.bus.consumer import Consumer, drain
from shared.bus.relay import relay_pending
from shared.db import read_only
from tests.fixtures.broker import ProbeProcess, wait_for
from tests.fixtures.db import PG_ADMIN_URL


def sent_count(platform):
    t = platform.tables["outbox"]
    with platform.engine.connect() as conn:
        read_only(conn)
        return conn.execute(select(func.count()).select_from(t).where(t.c.sent_at.is_not(None))).scalar()


def effect_total(platform):
    # Read-only: on SQLite a polling read must not wait behind the consumer's write lock, or the kill lands late.
    with platform.engine.connect() as conn:
        read_only(conn)
        return conn.execute(select(func.count()).select_from(probe.probe_effects)).scalar()


def test_consumer_killed_mid_batch_and_restarted_applies_every_event_once(probe_platform, bus_vhost, tmp_path,
                                                                         probe_processes):
    count = int(os.environ.get("BUS_FAULT_EVENTS", "1500"))
    ids = probe.produce(probe_platform, count)
    assert relay_pending(probe_platform) == count
    consumer_env = {"INTAKE_CONSUMER_BATCH": 50, "PROBE_HANDLER_DELAY_MS": 1}
    first = ProbeProcess("consume", probe_platform, tmp_path, **consumer_env)
    probe_processes.append(first)
    wait_for(lambda: effect_total(probe_platform) >= count // 3, 60, what="the consumer to be under way")
    first.kill()
    done_before = effect_total(probe_platform)
    assert done_before < count, "killed too late to prove anything"

    second = ProbeProcess("consume", probe_platform, tmp_path, **consumer_env)
    probe_processes.append(second)
    wait_for(lambda: effect_total(probe_platform) >= count, 60, what="all effects")
    time.sleep(0.3)  # a duplicate effect, if any, would show now
    assert second.terminate() == 0  # graceful SIGTERM
    assert probe.effect_counts(probe_platform) == {mid: 1 for mid in ids}
    stopped = [e for e in second.log_entries() if e.get("msg") == "consumer stopped"]
    assert stopped and stopped[0]["processed"] == count - done_before
    assert bus_vhost.ready("bus.probe") == 0


def test_relay_killed_mid_burst_and_restarted_publishes_every_event(probe_platform, bus_vhost, tmp_path,
                                                                    probe_processes):
    count = int(os.environ.get("BUS_FAULT_EVENTS", "1500")) * 2
    ids = probe.produce(probe_platform, count)
    relay_env = {"INTAKE_RELAY_WINDOW": 40, "INTAKE_RELAY_BATCH": 20, "INTAKE_RELAY_LEASE_SECONDS": 1}
    first = ProbeProcess("relay", probe_platform, tmp_path, **relay_env)
    probe_processes.append(first)
    wait_for(lambda: sent_count(probe_platform) >= count // 3, 60, interval=0.01, what="the relay to be under way")
    first.kill()
    assert sent_count(probe_platform) < count, "killed too late to prove anything"

    second = ProbeProcess("relay", probe_platform, tmp_path, **relay_env)
    probe_processes.append(second)
    wait_for(lambda: sent_count(probe_platform) == count, 60, what="every row marked sent")
    assert second.terminate() == 0

    stats = drain(probe_platform, probe.probe_spec(), idle_seconds=0.5)
    assert stats.processed == count  # published at least once; extra copies (in flight at the kill) deduplicated
    assert probe.effect_counts(probe_platform) == {mid: 1 for mid in ids}


@pytest.fixture
def blockable_pg(pg_url):
    """A PostgreSQL database of the shared server that the test can make unreachable (never the server itself)."""
    name = pg_url.rsplit("/", 1)[1]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")

    def set_down(down: bool):
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"false" if down else "true"}'))
            if down:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
    yield pg_url, set_down
    set_down(False)
    admin.dispose()


def test_database_down_under_a_running_consumer_nothing_acked_and_recovers(blockable_pg, bus_vhost,
                                                                          platform_factory):
    pg_url, set_database_down = blockable_pg
    platform = platform_factory("intake", intake_tables.all_tables(), pg_url, env=bus_vhost.env("intake", "probe"))
    probe.install(platform)
    ids = probe.produce(platform, 200)
    assert relay_pending(platform) == 200

    set_database_down(True)
    retries_before = REGISTRY.get_sample_value("bus_consumer_retries_total", {"queue": "bus.probe"}) or 0
    consumer = Consumer(platform, probe.probe_spec(), batch=50)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        time.sleep(3)  # several failed attempts with backoff
        assert consumer.stats.processed == 0 and thread.is_alive()
        assert REGISTRY.get_sample_value("bus_consumer_retries_total", {"queue": "bus.probe"}) - retries_before >= 2
        # prefetch (2 x batch) delivered and held unacknowledged; the rest still ready
        assert bus_vhost.ready("bus.probe") == 200 - consumer.prefetch

        set_database_down(False)
        wait_for(lambda: consumer.stats.processed == 200, 60, what="recovery on its own")
    finally:
        consumer.request_stop()
        thread.join(15)
    assert not thread.is_alive()
    assert probe.effect_counts(platform) == {mid: 1 for mid in ids}
    assert bus_vhost.ready("bus.probe") == 0  # the consumer's connection is closed: unacked would be back
