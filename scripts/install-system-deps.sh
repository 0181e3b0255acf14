#!/usr/bin/env bash
# System packages the run and test commands need, from Debian's archive. Idempotent and quick when present:
# only what is missing is installed, and `apt-get update` runs at most once.
#   bash scripts/install-system-deps.sh [--with-postgresql] [--with-containers]
set -euo pipefail

want_pg=0
want_containers=0
for option in "$@"; do
    case "$option" in
        --with-postgresql) want_pg=1 ;;
        --with-containers) want_containers=1 ;;
        *) echo "unknown option: $option" >&2; exit 64 ;;
    esac
done

missing=()
command -v rabbitmq-server >/dev/null 2>&1 || [ -x /usr/sbin/rabbitmq-server ] || missing+=(rabbitmq-server)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)   # the local OpenID provider (deploy/oidc)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if [ "$want_pg" = 1 ] && ! command -v pg_ctlcluster >/dev/null 2>&1; then
    missing+=(postgresql)
fi
if [ "$want_containers" = 1 ]; then  # scripts/containers.sh: a Docker engine, and debootstrap for a base image
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
fi

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "Missing Debian packages: ${missing[*]} -- run as root or install them: apt-get install ${missing[*]}" >&2
    exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d 101: Debian's maintainer scripts must not start system services (we start our own processes).
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; made_policy=1; fi
trap '[ "$made_policy" = 1 ] && rm -f "$policy"' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}"
