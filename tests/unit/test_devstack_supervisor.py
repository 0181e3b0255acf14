"""The local run's supervisor (scripts/devstack.py) with a small set of fake children: a process that exits is
restarted with a doubling, capped backoff and the others are left alone; one that keeps exiting at once is
reported as a crash loop while the rest keep running; nothing is restarted once the system is asked to stop."""
from __future__ import annotations

import os
import re
import signal
import sys
import time

import pytest

from tests.fixtures.stack import _load_devstack

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]
FAILING = [sys.executable, "-c", "import sys; print('cannot start: bad setting'); sys.exit(3)"]


@pytest.fixture
def supervisor(tmp_path):
    devstack = _load_devstack()
    config = devstack.StackConfig(data_dir=tmp_path, restart_delay_seconds=0.05, restart_delay_cap_seconds=0.2,
                                  stable_after_seconds=2.0, crash_loop_after=3)
    notes = []
    stack = devstack.DevStack(config, echo=notes.append)
    stack.notes = notes
    yield stack
    stack.stop(timeout=5)


def supervise_until(stack, condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, stack.notes
        stack.supervise()
        time.sleep(0.02)


def alive(process) -> bool:
    return process.poll() is None


def test_a_killed_child_is_restarted_and_the_others_are_untouched(supervisor):
    for name in ("intake", "intake-relay", "registry-consumer"):
        supervisor.launch(name, SLEEPER, dict(os.environ))
    before = {name: process.pid for name, process in supervisor.processes.items()}
    os.kill(before["intake-relay"], signal.SIGKILL)

    supervise_until(supervisor, lambda: supervisor.processes["intake-relay"].pid != before["intake-relay"])

    after = supervisor.processes
    assert alive(after["intake-relay"])
    assert {n: p.pid for n, p in after.items() if n != "intake-relay"} == {
        n: pid for n, pid in before.items() if n != "intake-relay"}
    assert all(alive(p) for p in after.values())
    assert any(re.match(r"intake-relay was killed by SIGKILL after [\d.]+s; restarting in 0\.1s$", n)
               for n in supervisor.notes), supervisor.notes
    assert any(n.startswith("intake-relay: started again (restart 1") for n in supervisor.notes)
    log = (supervisor.config.log_dir / "supervisor.log").read_text()
    assert "intake-relay was killed by SIGKILL" in log and "started again" in log


def test_a_crash_loop_is_reported_loudly_with_a_capped_backoff_and_the_rest_keeps_running(supervisor):
    sleeper = supervisor.launch("consent", SLEEPER, dict(os.environ)).process
    crashing = supervisor.launch("registry-consumer", FAILING, dict(os.environ))

    supervise_until(supervisor, lambda: crashing.restarts >= 5)

    delays = [float(m.group(1)) for n in supervisor.notes
              if (m := re.match(r"registry-consumer exited with code 3 after [\d.]+s; restarting in ([\d.]+)s", n))]
    assert delays[:5] == [0.1, 0.1, 0.2, 0.2, 0.2]  # 0.05 doubling per quick exit, capped at 0.2 (one decimal shown)
    loud = [n for n in supervisor.notes if n.startswith("CRASH LOOP: registry-consumer")]
    assert len(loud) == 1, supervisor.notes  # said once, not at every retry
    assert "cannot start: bad setting" in loud[0]  # with the end of its log, so the cause is on screen
    assert supervisor.processes["consent"] is sleeper and alive(sleeper)


def test_a_child_that_ran_a_while_starts_its_backoff_afresh(supervisor):
    supervisor.config.stable_after_seconds = 0.3
    child = supervisor.launch("notify-worker", SLEEPER, dict(os.environ))
    for _ in range(3):
        pid = child.process.pid
        time.sleep(0.4)  # longer than stable_after_seconds: each exit counts as the first
        os.kill(pid, signal.SIGKILL)
        supervise_until(supervisor, lambda killed=pid: child.process.pid != killed)
    assert child.quick_exits == 1 and child.restarts == 3
    assert not any(n.startswith("CRASH LOOP") for n in supervisor.notes)


def test_nothing_is_restarted_once_asked_to_stop(supervisor):
    processes = [supervisor.launch(name, SLEEPER, dict(os.environ)).process for name in ("intake", "nginx")]
    supervisor.stop(timeout=5)
    supervisor.supervise()
    assert not any(alive(p) for p in processes)
    assert supervisor.processes == {}
