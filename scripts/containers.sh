#!/usr/bin/env bash
# The service image, built and run: installs a Docker engine if absent (Debian's docker.io) and starts it,
# builds deploy/containers/Dockerfile, then runs tests/containers: every role the manifests use (migrate,
# load-directory, web, relay) from the image against this machine's PostgreSQL and RabbitMQ.
#   bash scripts/containers.sh [pytest arguments]
# The base image is the official python:3.11-slim-bookworm where a registry answers; where none does (as on this
# project's machines: PyPI and Debian only), a stand-in is built from Debian's packages
# (deploy/containers/base-from-debian.sh). HYBRID_BASE_IMAGE forces one.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

bash scripts/install-system-deps.sh --with-containers
ensure_venv
ensure_node_modules  # the image copies the pages' npm files (Aksel's CSS, the font) from node_modules
ensure_broker
ensure_postgresql

if ! docker info >/dev/null 2>&1; then
    log="${TMPDIR:-/tmp}/hybrid-dockerd.log"
    echo "Starting the Docker engine (log: $log)"
    nohup dockerd >"$log" 2>&1 &
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { echo "the Docker engine did not start: see $log" >&2; exit 1; }
fi

base="${HYBRID_BASE_IMAGE:-}"
if [ -z "$base" ]; then
    if timeout 60 docker pull -q python:3.11-slim-bookworm >/dev/null 2>&1; then
        base=python:3.11-slim-bookworm
    else
        base=hybrid/python-base:3.11-bookworm
        if ! docker image inspect "$base" >/dev/null 2>&1; then
            echo "No registry answers: building $base from Debian's packages"
            bash deploy/containers/base-from-debian.sh "$base" >/dev/null
        fi
    fi
fi
echo "Building hybrid-platform:local on $base"
start=$(date +%s)
docker build -q --network host --build-arg "BASE_IMAGE=$base" -f deploy/containers/Dockerfile \
    -t hybrid-platform:local . >/dev/null
echo "  built in $(( $(date +%s) - start )) s: $(docker image inspect -f '{{.Size}}' hybrid-platform:local | \
    awk '{printf "%.0f MB", $1 / 1e6}')"
HYBRID_IMAGE=hybrid-platform:local exec .venv/bin/python -m pytest tests/containers -m containers \
    -p no:cacheprovider "$@"
