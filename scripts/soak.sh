#!/usr/bin/env bash
# Soak: 30 minutes (SOAK_SECONDS) of steady load on the whole system, printing each process's memory over time;
# fails on memory growth or on a closure that did not reach the registry. See scripts/soak.py for the knobs.
#   bash scripts/soak.sh                 SOAK_SECONDS=240 SOAK_SAMPLE_SECONDS=20 bash scripts/soak.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

ensure_stack
ensure_postgresql
exec .venv/bin/python scripts/soak.py "$@"
