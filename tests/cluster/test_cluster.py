"""Three RabbitMQ nodes, quorum queues replicated across them; one node stopped during a burst: nothing lost,
nothing doubled, and the relay and the consumer carry on through the remaining nodes (their list of addresses)."""
from __future__ import annotations

import os
import time

import pytest

from services.intake import tables as intake_tables
from shared.bus import probe
from tests.faults.conftest import Burst, assert_exact, count
from tests.faults.test_faults import effects, sent, settle, stop_all
from tests.fixtures.broker import ProbeProcess, wait_for

pytestmark = pytest.mark.cluster
SIZE = int(os.environ.get("CLUSTER_SIZE", "1000"))


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
