"""Three RabbitMQ nodes, quorum queues replicated across them; one node stopped during a burst: nothing lost,
nothing doubled, and every process carries on through the remaining nodes (its list of addresses).

Two kinds of burst: the bus probe (a relay and a consumer of the bus's own test event, many small events), and
the real services (case closures entered in intake, intake's relay, the consumers of consent, registry and notify:
tests/faults/closure_path.py, the same harness as the fault suite's closures-* tests).
"""
from __future__ import annotations

import os
import time

import pytest

from services.intake import tables as intake_tables
from shared.bus import probe
from tests.faults.closure_path import ClosurePath
from tests.faults.conftest import Burst, assert_exact, count
from tests.faults.test_faults import effects, sent, settle, stop_all
from tests.fixtures.broker import ProbeProcess, wait_for
from tests.fixtures.db import create_pg_database

pytestmark = pytest.mark.cluster
SIZE = int(os.environ.get("CLUSTER_SIZE", "1000"))
CLOSURES = max(60, SIZE // 4)  # a whole case costs ~10x a probe event


def test_cluster_forms_and_quorum_queues_have_a_member_on_every_node(rabbit_cluster):
    expected = sorted(n.node for n in rabbit_cluster.nodes)
    assert rabbit_cluster.running_nodes(rabbit_cluster.nodes[2]) == expected
    rabbit_cluster.apply("members")
    members = rabbit_cluster.quorum_members("members")
    assert {"consent.cases", "registry.ingest", "notify.schedule", "bus.probe"} <= set(members)
    assert all(m == expected for m in members.values()), members


@pytest.mark.parametrize("victim", [0, 1])
def test_a_node_stopped_during_a_burst_loses_nothing(victim, rabbit_cluster, pg_url, platform_factory, tmp_path,
                                                      probe_processes):
    """victim 0 is the first address in every list (where relay and consumer are connected); victim 1 is another
    member of the queue's quorum."""
    vhost = rabbit_cluster.apply(f"burst-{victim}")
    urls = rabbit_cluster.urls(vhost, "probe")
    platform = platform_factory("intake", intake_tables.all_tables(), pg_url, env={"INTAKE_AMQP_URLS": urls})
    probe.install(platform)
    processes = [ProbeProcess("relay", platform, tmp_path, INTAKE_RELAY_LEASE_SECONDS=2, INTAKE_RELAY_WINDOW=100),
                 ProbeProcess("consume", platform, tmp_path, INTAKE_CONSUMER_BATCH=50)]
    probe_processes += processes
    burst = Burst(platform, total=SIZE, ticks=60)
    burst.start()
    node = rabbit_cluster.nodes[victim]
    try:
        wait_for(lambda: effects(platform) >= SIZE // 4, 120, interval=0.02, what="the burst to be flowing")
        at_stop = sent(platform)
        node.stop()
        assert burst.is_alive(), "the burst ended before the node stopped"
        survivors = [n for n in rabbit_cluster.nodes if n is not node]
        settle(platform, burst, SIZE)
        assert rabbit_cluster.running_nodes(survivors[0]) == sorted(n.node for n in survivors)
        assert all(p.process.poll() is None for p in processes), "a relay or consumer gave up"
        totals = stop_all(processes)
        if victim == 0:  # both were connected to the stopped node: they moved to the next address
            assert any(e.get("msg") == "broker connection closed" for e in processes[0].log_entries())
        result = count(platform, f"cluster-node-{victim + 1}-stopped", sent_before_stop=at_stop,
                       redelivered_deduplicated=totals["duplicate"])
        assert_exact(result, SIZE)
    finally:
        if node.process is None:
            node.start()  # back into the cluster for the next test
            rabbit_cluster.ctl(rabbit_cluster.nodes[0 if victim else 1], "await_online_nodes", "3", "--timeout", "60")


@pytest.fixture
def pg_databases():
    """create() -> the URL of a fresh database on the machine's PostgreSQL; all dropped after the test."""
    drops = []

    def create():
        url, drop = create_pg_database()
        drops.append(drop)
        return url
    yield create
    for drop in drops:
        drop()


def test_services_carry_on_when_the_first_node_stops_during_a_burst(rabbit_cluster, platform_factory, pg_databases,
                                                                     tmp_path):
    """The services themselves, each configured with the three addresses (<SVC>_AMQP_URLS): the first node, where
    every one of them is connected, is stopped while counsellors close cases; each moves to the next address."""
    vhost = rabbit_cluster.apply("services")
    path = ClosurePath(platform_factory, pg_databases, lambda service: rabbit_cluster.urls(vhost, service), tmp_path,
                       consumers=("consent", "registry", "notify"))
    node = rabbit_cluster.nodes[0]
    try:
        processes = [path.start(name) for name in ("intake-relay", "consent-consumer", "registry-consumer",
                                                   "notify-consumer")]
        producer, errors = path.start_burst(CLOSURES)
        wait_for(lambda: len(path.inbox("registry")) >= CLOSURES // 4, 180, interval=0.05,
                 what="the closures to be flowing")
        confirmed_at_stop = path.confirmed()
        node.stop()
        assert producer.is_alive(), "the burst ended before the node stopped"
        producer.join(300)
        assert not errors, errors
        wait_for(path.caught_up, 180, interval=0.5, what="every event confirmed and consumed")
        time.sleep(1.0)  # a late duplicate would show
        survivors = [n for n in rabbit_cluster.nodes if n is not node]
        assert rabbit_cluster.running_nodes(survivors[0]) == sorted(n.node for n in survivors)
        assert all(p.process.poll() is None for p in processes), "a relay or consumer gave up"
        for process in processes:
            entries = process.log_entries()
            assert any(e.get("brokers") == 3 for e in entries), "not configured with the three addresses"
            assert any(e.get("msg") in ("broker connection closed", "broker connection lost") for e in entries), \
                f"{process.log_path.name} never lost its connection to the stopped node"
        totals = path.stop()
        for service in ("consent", "registry", "notify"):
            result = path.count(service, "cluster-node-1-stopped-services", consumer_totals=totals,
                                closures=CLOSURES, confirmed_at_stop=confirmed_at_stop)
            assert result.produced > 0
            assert (result.duplicates, result.lost, result.unexpected) == (0, 0, 0), result.line()
            assert result.consumed == result.produced, result.line()
            assert path.closed_cases(service) == CLOSURES, result.line()
        assert len(path.produced("registry")) == CLOSURES
    finally:
        path.cleanup()
        if node.process is None:
            node.start()  # back into the cluster for the next test
            rabbit_cluster.ctl(rabbit_cluster.nodes[1], "await_online_nodes", "3", "--timeout", "60")
