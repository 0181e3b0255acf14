#!/usr/bin/env bash
# THE run command: installs what is missing, starts the whole platform on one machine, Ctrl-C stops it.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$REPO/scripts/install-system-deps.sh"
cd "$REPO"
exec .venv/bin/python scripts/devstack.py "$@"
