#!/usr/bin/env bash
# The three-node RabbitMQ cluster test (tests/cluster): starts three rabbitmq-server nodes of its own on this
# machine (AMQP 5781-5783, distribution 25791-25793; CLUSTER_BASE_PORT moves them), clusters them, applies the
# topology (quorum queues replicated on all three), stops one node during a burst and counts; then tears down.
# Bursts: the bus probe (CLUSTER_SIZE events), and the services themselves (CLUSTER_SIZE/4 case closures through
# intake's relay to the consumers of consent, registry and notify, each given the three addresses).
#   bash scripts/cluster.sh [pytest arguments]        CLUSTER_SIZE=1000 events per burst
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

bash scripts/install-system-deps.sh
ensure_venv
ensure_postgresql
exec .venv/bin/python -m pytest tests/cluster -m cluster -p no:cacheprovider "$@"
