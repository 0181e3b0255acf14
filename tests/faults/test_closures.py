"""The same Jepsen-style count on the real path: case closures entered in intake (through the same service
functions as the API, so the same outbox events), relayed by intake's relay, consumed by the registry's consumer
(`flask ... outbox relay` / `flask ... bus consume`, the commands the run and the containers use; closure_path.py).

Count per fault: produced = intake's case.closed outbox ids; consumed = the registry's inbox ids for them;
every effect exactly once = one registry log row per message id and one waiting record per case (no consent is
recorded here, so each closure waits for consent; a second copy would add a log row "duplicate").
"""
from __future__ import annotations

import signal
import time

import pytest

from tests.fixtures.broker import wait_for

from .closure_path import ClosurePath
from .conftest import SETTLE, SIZE, make_vhost

pytestmark = pytest.mark.faults
CLOSURES = max(30, SIZE // 3)  # entering a whole case costs ~10x a probe event


@pytest.fixture
def closure_path(fault_broker, fault_pg, platform_factory, request, tmp_path):
    vhost = make_vhost(fault_broker, "c-" + request.node.name[:40].replace("[", "-").replace("]", ""))
    path = ClosurePath(platform_factory, fault_pg.create_database, vhost.url, tmp_path, consumers=("registry",))
    yield path
    path.cleanup()


@pytest.mark.parametrize("fault", ["sigkill-intake-relay", "sigkill-registry-consumer", "broker-restart"])
def test_closures_through_intake_to_registry(fault, closure_path, fault_broker):
    path = closure_path
    relay, consumer = path.start("intake-relay"), path.start("registry-consumer")
    producer, errors = path.start_burst(CLOSURES)
    if fault == "sigkill-intake-relay":
        wait_for(lambda: path.confirmed() >= CLOSURES // 3, SETTLE, interval=0.02, what="the relay under way")
        relay.kill()
        path.start("intake-relay")
    elif fault == "sigkill-registry-consumer":
        wait_for(lambda: len(path.registry_log()) >= CLOSURES // 3, SETTLE, interval=0.02, what="the consumer")
        consumer.process.send_signal(signal.SIGKILL)
        consumer.process.wait(10)
        path.start("registry-consumer")
    else:
        wait_for(lambda: path.confirmed() >= CLOSURES // 4, SETTLE, interval=0.02, what="the burst flowing")
        fault_broker.restart()
    producer.join(max(300, CLOSURES))  # a closure took up to ~0.7 s with the machine loaded
    assert not errors, errors
    wait_for(lambda: path.confirmed() == CLOSURES, SETTLE, interval=0.2, what="every closure confirmed")
    wait_for(path.caught_up, SETTLE, interval=0.2, what="every closure consumed")
    time.sleep(1.0)
    result = path.count("registry", f"closures-{fault}")
    assert result.produced == CLOSURES
    assert (result.duplicates, result.lost, result.unexpected) == (0, 0, 0), result.line()
    assert set(path.registry_log()) == path.produced("registry"), result.line()
    assert path.closed_cases("registry") == CLOSURES, result.line()
