"""A three-node RabbitMQ cluster on this one machine, for the cluster test (scripts/cluster.sh).

Three nodes of Debian's rabbitmq-server, each with its own node name, AMQP port and distribution port (chosen
apart: the default distribution port is AMQP + 20000, so both are set explicitly), mnesia and log folders under a
tmp dir, and the machine's Erlang cookie (so rabbitmqctl reaches them). Nodes 2 and 3 join node 1; the topology
(vhost, exchanges, quorum queues, policies, users) is applied once the three are clustered, so every quorum queue
has a member on each node. The machine's own node (rabbit@localhost) is never touched.
"""
from __future__ import annotations

import os
import socket
import time
from urllib.parse import quote

import pytest

from shared.bus import admin, topology
from tests.faults.conftest import report_counts
from tests.fixtures.broker import BusVhost, ThrowawayBroker

BASE_PORT = int(os.environ.get("CLUSTER_BASE_PORT", "5781"))  # AMQP 5781-5783, distribution 25791-25793


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


class ClusterNode(ThrowawayBroker):
    def __init__(self, base_dir, name: str, port: int, dist_port: int):
        super().__init__(base_dir)
        self.node, self.port, self.dist_port = f"{name}@localhost", port, dist_port
        (base_dir / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{port}\n"
                                                "cluster_partition_handling = pause_minority\n")
        self.env.update(RABBITMQ_NODENAME=self.node, RABBITMQ_NODE_PORT=str(port), RABBITMQ_DIST_PORT=str(dist_port))


class Cluster:
    def __init__(self, nodes: list[ClusterNode]):
        self.nodes = nodes

    def ctl(self, node: ClusterNode, *args, timeout=120):
        for attempt in range(4):  # a concurrent rabbitmqctl elsewhere on the machine may collide (CLI node name)
            try:
                return admin.rabbitmqctl(*args, node=node.node, timeout=timeout)
            except admin.AdminError as error:
                if "Distribution failed" not in str(error) or attempt == 3:
                    raise
                time.sleep(1 + attempt)

    def start(self):
        first, *others = self.nodes
        first.start()
        for node in others:
            node.start()
            self.ctl(node, "stop_app")
            self.ctl(node, "reset")
            self.ctl(node, "join_cluster", first.node)
            self.ctl(node, "start_app")
        self.ctl(first, "await_online_nodes", str(len(self.nodes)), "--timeout", "60")

    def running_nodes(self, via: ClusterNode) -> list[str]:
        import json
        status = json.loads(self.ctl(via, "cluster_status", "--formatter", "json"))
        return sorted(status["running_nodes"])

    def apply(self, vhost: str) -> BusVhost:
        for attempt in range(4):
            try:
                admin.apply(vhost, "", node=self.nodes[0].node, admin_user="guest")
                break
            except admin.AdminError as error:
                if "Distribution failed" not in str(error) or attempt == 3:
                    raise
                time.sleep(1 + attempt)
        return BusVhost(vhost=vhost, user_prefix="", host="127.0.0.1", port=self.nodes[0].port,
                        node=self.nodes[0].node)

    def urls(self, vhost: BusVhost, user: str) -> str:
        """The comma-separated list of broker addresses a service is configured with (<SVC>_AMQP_URLS)."""
        password = topology.dev_password(user)
        return ",".join(f"amqp://{user}:{password}@127.0.0.1:{n.port}/{quote(vhost.vhost, safe='')}"
                        for n in self.nodes)

    def quorum_members(self, vhost: str) -> dict[str, list[str]]:
        out = self.ctl(self.nodes[1], "list_queues", "-p", vhost, "name", "type", "members", "--formatter", "json")
        import json
        return {q["name"]: sorted(q["members"]) for q in json.loads(out) if q["type"] == "quorum"}

    def stop(self):
        for node in reversed(self.nodes):
            node.stop()


def pytest_terminal_summary(terminalreporter):
    report_counts(terminalreporter, "cluster counts")


@pytest.fixture(scope="session")
def rabbit_cluster(tmp_path_factory):
    ports = [BASE_PORT + i for i in range(3)]
    dist = [p + 20010 for p in ports]  # below the ephemeral range; not any node's default (AMQP + 20000)
    busy = [p for p in ports + dist if not _port_free(p)]
    if busy:
        pytest.fail(f"ports {busy} are taken; set CLUSTER_BASE_PORT")
    base = tmp_path_factory.mktemp("cluster")
    nodes = []
    for i in range(3):
        d = base / f"hc{i + 1}"
        d.mkdir()
        nodes.append(ClusterNode(d, f"hc{i + 1}-{os.getpid()}", ports[i], dist[i]))
    cluster = Cluster(nodes)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
