#!/usr/bin/env bash
# THE test command: unit, integration (SQLite and PostgreSQL, real RabbitMQ on throwaway vhosts) and end-to-end
# (HTTP and headless Chromium) tiers. Extra arguments go to pytest.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$REPO/scripts/install-system-deps.sh"
cd "$REPO"
exec .venv/bin/python -m pytest "$@"
