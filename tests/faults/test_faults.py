"""Jepsen-style fault checks on the bus: produce a burst, inject a fault, drain, count.

Every check ends with the same count (printed per fault and in the session summary): every produced event id
consumed, every effect present exactly once -- produced == consumed, duplicates == 0, lost == 0.
Relays and consumers run as separate processes (`python -m shared.bus.probe relay|consume`) so that they can
be killed with SIGKILL; the broker and PostgreSQL are the suite's own instances (conftest.py).
"""
from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from shared.bus import probe
from tests.fixtures.broker import ProbeProcess, wait_for

from .conftest import SETTLE, SIZE, Burst, assert_exact, count
from .tcp_proxy import SeverableProxy

pytestmark = pytest.mark.faults

RELAY_ENV = {"INTAKE_RELAY_WINDOW": 40, "INTAKE_RELAY_BATCH": 20, "INTAKE_RELAY_LEASE_SECONDS": 2}
CONSUMER_ENV = {"INTAKE_CONSUMER_BATCH": 25}


def sent(platform) -> int:
    outbox = platform.tables["outbox"]
    with platform.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_not(None))).scalar()


def effects(platform) -> int:
    with platform.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(probe.probe_effects)).scalar()


def settle(platform, burst: Burst, expected_effects: int):
    """Wait for the burst to end, every row to be confirmed and every effect to land; then a pause in which a
    late duplicate would show."""
    burst.join(SETTLE * max(1, burst.total // SIZE))
    assert not burst.is_alive(), "the burst never finished"
    wait_for(lambda: sent(platform) == burst.total, SETTLE, interval=0.2, what="every outbox row confirmed")
    wait_for(lambda: effects(platform) >= expected_effects, SETTLE, interval=0.2, what="every effect")
    time.sleep(1.0)


def stop_all(processes) -> dict:
    """SIGTERM each live process; return the summed counters from their 'stopped' log lines."""
    totals = {"processed": 0, "duplicate": 0, "rejected": 0, "sent": 0}
    for p in processes:
        if p.process.poll() is None:
            assert p.terminate() == 0
        for entry in p.log_entries():
            if entry.get("msg") in ("consumer stopped", "relay stopped"):
                for key in totals:
                    totals[key] += int(entry.get(key, 0) or 0)
    return totals


def start(kind, platform, tmp_path, processes, **env):
    defaults = RELAY_ENV if kind == "relay" else CONSUMER_ENV
    process = ProbeProcess(kind, platform, tmp_path, **{**defaults, **env})
    processes.append(process)
    return process


@pytest.mark.parametrize("victim", ["relay", "consumer"])
def test_sigkill_mid_burst(victim, fault_platform, tmp_path, probe_processes):
    """SIGKILL of the relay / the consumer while the burst flows; a fresh one takes over."""
    platform = fault_platform
    relay = start("relay", platform, tmp_path, probe_processes)
    consumer_env = {"PROBE_HANDLER_DELAY_MS": 2} if victim == "consumer" else {}  # a kill lands inside a batch
    consumer = start("consume", platform, tmp_path, probe_processes, **consumer_env)
    burst = Burst(platform)
    burst.start()
    progress = (lambda: sent(platform)) if victim == "relay" else (lambda: effects(platform))
    wait_for(lambda: progress() >= SIZE // 3, SETTLE, interval=0.01, what=f"the {victim} to be under way")
    (relay if victim == "relay" else consumer).kill()
    at_kill = progress()
    assert at_kill < SIZE, "killed too late to prove anything"
    start("relay" if victim == "relay" else "consume", platform, tmp_path, probe_processes, **consumer_env)
    settle(platform, burst, SIZE)
    totals = stop_all(probe_processes)
    result = count(platform, f"sigkill-{victim}", at_kill=at_kill, redelivered_deduplicated=totals["duplicate"])
    assert_exact(result, SIZE)


def test_two_relays_and_two_consumers_share_the_work(fault_platform, tmp_path, probe_processes):
    """Several instances on the same outbox and queue: the work is shared, no effect is doubled; and one of
    each is SIGKILLed mid-burst, the other carries on alone."""
    platform = fault_platform
    relays = [start("relay", platform, tmp_path, probe_processes) for _ in range(2)]
    consumers = [start("consume", platform, tmp_path, probe_processes, PROBE_HANDLER_DELAY_MS=1) for _ in range(2)]
    burst = Burst(platform, total=SIZE * 2, ticks=40)
    burst.start()
    wait_for(lambda: effects(platform) >= SIZE // 2, SETTLE, interval=0.02, what="the burst to be flowing")
    relays[0].kill()
    consumers[0].kill()
    settle(platform, burst, SIZE * 2)
    survivors = stop_all([relays[1], consumers[1]])
    killed_relay_share = SIZE * 2 - survivors["sent"]  # rows confirmed by the killed relay
    killed_consumer_share = SIZE * 2 - survivors["processed"]  # effects committed by the killed consumer
    result = count(platform, "two-relays-two-consumers", relay_shares=f"{killed_relay_share}+{survivors['sent']}",
                   consumer_shares=f"{killed_consumer_share}+{survivors['processed']}")
    assert_exact(result, SIZE * 2)
    assert 0 < killed_relay_share < SIZE * 2, "the first relay took no share of the work"
    assert 0 < killed_consumer_share < SIZE * 2, "the first consumer took no share of the work"


def test_broker_restart_mid_burst(fault_platform, fault_broker, tmp_path, probe_processes):
    platform = fault_platform
    start("relay", platform, tmp_path, probe_processes)
    start("consume", platform, tmp_path, probe_processes)
    burst = Burst(platform, ticks=60)
    burst.start()
    wait_for(lambda: sent(platform) >= SIZE // 4, SETTLE, interval=0.02, what="the burst to be flowing")
    before = sent(platform)
    fault_broker.restart()
    assert before < SIZE
    settle(platform, burst, SIZE)
    assert all(p.process.poll() is None for p in probe_processes), "a relay or consumer gave up"
    totals = stop_all(probe_processes)
    result = count(platform, "broker-restart", sent_before_restart=before,
                   redelivered_deduplicated=totals["duplicate"])
    assert_exact(result, SIZE)


def test_postgres_stopped_under_a_running_consumer(fault_platform, fault_pg, tmp_path, probe_processes):
    """The database goes away under the consumer (and the relay and the producer) and comes back: nothing was
    acknowledged early, so nothing is lost; the processes recover on their own."""
    platform = fault_platform
    start("relay", platform, tmp_path, probe_processes)
    consumer = start("consume", platform, tmp_path, probe_processes, PROBE_HANDLER_DELAY_MS=2)
    burst = Burst(platform, ticks=40)
    burst.start()
    wait_for(lambda: effects(platform) >= SIZE // 4, SETTLE, interval=0.02, what="the consumer to be under way")
    fault_pg.stop("fast")
    time.sleep(4)  # several failed attempts with backoff
    alive_while_down = consumer.process.poll() is None
    fault_pg.start()
    settle(platform, burst, SIZE)
    assert alive_while_down and all(p.process.poll() is None for p in probe_processes), "a process gave up"
    totals = stop_all(probe_processes)
    result = count(platform, "postgres-stopped", producer_retries=burst.retries,
                   redelivered_deduplicated=totals["duplicate"])
    assert_exact(result, SIZE)


def test_relay_connection_cut_before_confirms(fault_platform, fault_broker, tmp_path, probe_processes):
    """The relay talks to the broker through a proxy that first swallows the broker's confirms and then cuts
    the connection: the published-but-unconfirmed rows stay unsent and go again; the consumer drops the copies."""
    platform = fault_platform
    proxy = SeverableProxy("127.0.0.1", fault_broker.port)
    try:
        via_proxy = platform.vhost.url("probe").replace(f":{fault_broker.port}/", f":{proxy.port}/")
        start("relay", platform, tmp_path, probe_processes, INTAKE_AMQP_URLS=via_proxy)
        start("consume", platform, tmp_path, probe_processes)
        burst = Burst(platform, ticks=40)
        burst.start()
        wait_for(lambda: sent(platform) >= SIZE // 4, SETTLE, interval=0.02, what="the relay to be under way")
        proxy.hold()
        # Confirms that passed the proxy just before the hold may still be on their way into the outbox; once
        # those have landed, the count must stand still while the relay keeps publishing into the void.
        time.sleep(0.5)
        confirmed_at_hold = sent(platform)
        time.sleep(0.8)
        assert sent(platform) == confirmed_at_hold, "a confirm got through the held proxy"
        assert proxy.swallowed_bytes > 0, "the relay published nothing while the proxy held its confirms"
        cut = proxy.sever()
        assert cut >= 1
        settle(platform, burst, SIZE)
        reconnects = proxy.accepted - 1
    finally:
        proxy.close()
    totals = stop_all(probe_processes)
    result = count(platform, "relay-connection-cut", connections_cut=cut, reconnects=reconnects,
                   redelivered_deduplicated=totals["duplicate"])
    assert_exact(result, SIZE)
    assert reconnects >= 1


def test_poison_message_goes_to_the_dead_letter_queue_without_holding_up_the_rest(fault_platform, tmp_path,
                                                                                 probe_processes):
    platform = fault_platform
    start("relay", platform, tmp_path, probe_processes)
    start("consume", platform, tmp_path, probe_processes)
    burst = Burst(platform, fail_every=max(10, SIZE // 5))  # a handful of poison messages among good ones
    burst.start()
    burst.join(SETTLE)
    good = SIZE - len(burst.poison)
    assert burst.poison
    settle(platform, burst, good)
    wait_for(lambda: platform.vhost.ready("bus.probe.dead") == len(burst.poison), 30, interval=0.2,
             what="every poison message in the dead-letter queue")
    totals = stop_all(probe_processes)
    effects_of_poison = set(probe.effect_counts(platform)) & set(burst.poison)
    result = count(platform, "poison-message", exclude=set(burst.poison), poison=len(burst.poison),
                   dead_lettered=platform.vhost.ready("bus.probe.dead"), rejected=totals["rejected"])
    assert not effects_of_poison
    assert_exact(result, good)
    assert platform.vhost.ready("bus.probe") == 0
