"""The run and test commands' broker decision (scripts/common.sh), with fake rabbitmq-server/rabbitmqctl.

The machine's broker is never touched: the commands are overridable (RABBITMQ_SERVER_CMD, RABBITMQCTL).
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from shared.config import REPO_ROOT

COMMON = REPO_ROOT / "scripts" / "common.sh"


def bash(script: str, **env) -> subprocess.CompletedProcess:
    full = {"PATH": os.environ["PATH"], **env}
    return subprocess.run(["bash", "-c", f"set -euo pipefail; source {COMMON}; {script}"], env=full,
                          capture_output=True, text=True, timeout=60)


def fake(path: Path, body: str) -> str:
    path.write_text("#!/usr/bin/env bash\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


def test_absent_server_means_install(tmp_path):
    result = bash("broker_action", RABBITMQ_SERVER_CMD=str(tmp_path / "no-such-server"), RABBITMQCTL="true")
    assert result.stdout.strip() == "install"


def test_installed_but_not_answering_means_start(tmp_path):
    server = fake(tmp_path / "server", "exit 0")
    ctl = fake(tmp_path / "ctl", "exit 69")  # what rabbitmqctl status returns when no node runs
    assert bash("broker_action", RABBITMQ_SERVER_CMD=server, RABBITMQCTL=ctl).stdout.strip() == "start"


def test_answering_means_running(tmp_path):
    server = fake(tmp_path / "server", "exit 0")
    assert bash("broker_action", RABBITMQ_SERVER_CMD=server, RABBITMQCTL="true").stdout.strip() == "running"


def test_ensure_broker_starts_a_stopped_broker_detached_and_waits_for_it(tmp_path):
    started = tmp_path / "started"
    calls = tmp_path / "calls"
    server = fake(tmp_path / "server", f'echo "server $*" >> {calls}; (sleep 2; touch {started}) &')
    # status and await_startup fail until the node has "booted" (the flag file exists).
    ctl = fake(tmp_path / "ctl", f'echo "ctl $*" >> {calls}; [ -e {started} ]')
    result = bash("ensure_broker", RABBITMQ_SERVER_CMD=server, RABBITMQCTL=ctl)
    assert result.returncode == 0, result.stderr
    assert "Starting RabbitMQ (rabbitmq-server -detached)" in result.stdout
    log = calls.read_text().splitlines()
    assert log.count("server -detached") == 1
    assert log[0] == "ctl -q status" and log[-1].startswith("ctl -q await_startup")


def test_ensure_broker_leaves_a_running_broker_alone(tmp_path):
    calls = tmp_path / "calls"
    server = fake(tmp_path / "server", f'echo "server $*" >> {calls}')
    ctl = fake(tmp_path / "ctl", f'echo "ctl $*" >> {calls}')
    result = bash("ensure_broker", RABBITMQ_SERVER_CMD=server, RABBITMQCTL=ctl)
    assert result.returncode == 0 and "Starting" not in result.stdout
    assert not any(line.startswith("server") for line in calls.read_text().splitlines())
