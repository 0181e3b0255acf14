#!/usr/bin/env bash
# THE test command (and CI's, via .ci/run): every tier -- unit, integration, end-to-end -- in one pytest run.
#   bash scripts/test.sh [pytest arguments]
# Needs: .venv (created here), RabbitMQ running (started or installed here), PostgreSQL on 127.0.0.1:5432
# (the machine's cluster, started here if down), Debian's chromium and nginx (installed here if absent).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

ensure_stack
ensure_postgresql
# The whole run (CI's) lints first; a run of chosen tests does not, so one engineer's unfinished file does not stop
# another's tests.
if [ "$#" -eq 0 ]; then
    echo "ruff check (pyproject.toml)"
    .venv/bin/ruff check .
fi
exec .venv/bin/python -m pytest "$@"
