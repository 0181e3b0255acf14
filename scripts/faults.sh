#!/usr/bin/env bash
# The fault suite (tests/faults): burst, fault, drain, count -- per fault: produced, consumed, duplicates, lost.
#   bash scripts/faults.sh [pytest arguments]        FAULTS_SIZE=300 (CI, default) or e.g. FAULTS_SIZE=5000 (full)
# Starts its own throwaway RabbitMQ node and PostgreSQL server (other ports, tmp dirs); the machine's are untouched.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

bash scripts/install-system-deps.sh
ensure_venv
export FAULTS_SIZE="${FAULTS_SIZE:-300}"
exec .venv/bin/python -m pytest tests/faults -m faults -p no:cacheprovider "$@"
