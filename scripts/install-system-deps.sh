#!/usr/bin/env bash
# Installs and starts what the platform needs from the machine, where absent: Python venv with the pinned
# requirements, RabbitMQ and PostgreSQL (Debian packages), nginx and Chromium. Idempotent and quick when all
# is present. Sourced by scripts/run.sh and scripts/test.sh.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then
    echo "[deps] apt-get update"; apt-get update -qq; apt_updated=1
  fi
  echo "[deps] apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

need_packages=()
command -v rabbitmq-server >/dev/null || need_packages+=(rabbitmq-server)
[ -x /usr/sbin/nginx ] || need_packages+=(nginx-light)
command -v chromium >/dev/null || need_packages+=(chromium)
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need_packages+=(postgresql)
command -v python3 >/dev/null || need_packages+=(python3 python3-venv)
if [ ${#need_packages[@]} -gt 0 ]; then apt_install "${need_packages[@]}"; fi

# RabbitMQ: start it if it is not running (never restarted when it is).
if ! rabbitmqctl -q status >/dev/null 2>&1; then
  echo "[deps] starting RabbitMQ"
  rabbitmq-server -detached
  for _ in $(seq 1 60); do rabbitmqctl -q await_startup >/dev/null 2>&1 && break; sleep 1; done
  rabbitmqctl -q await_startup
fi

# PostgreSQL: start the machine's cluster if it is down (tests use it; the local run defaults to SQLite).
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "[deps] starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi

# Python virtualenv with the pinned requirements; reinstalled when the requirement files change.
stamp=".venv/.requirements.sha"
want="$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)"
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[deps] installing Python requirements into .venv"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
  echo "$want" > "$stamp"
fi
