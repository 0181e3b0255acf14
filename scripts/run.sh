#!/usr/bin/env bash
# THE run command: the whole system on this machine, at http://127.0.0.1:8080/. Stop with Ctrl-C.
#   bash scripts/run.sh
# Creates .venv and installs the requirements (when missing or changed), installs and starts RabbitMQ when
# needed, applies the broker definitions, migrates, loads offices, users and demo data, and runs the four
# services under gunicorn with their relays and consumers, a local SMTP sink and nginx (scripts/devstack.py).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

ensure_stack
echo "Applying the broker definitions (vhost, exchanges, quorum queues, users, topic permissions)"
.venv/bin/python -m shared.bus.admin apply

# devstack.py owns the processes: it restarts one that exits (with backoff, logged in data/run/logs/supervisor.log)
# and stops them all on Ctrl-C / SIGTERM. exec keeps one signal path.
exec .venv/bin/python scripts/devstack.py run "$@"
