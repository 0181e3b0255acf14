#!/usr/bin/env bash
# Build a stand-in for the Python base image from Debian's own packages, for machines that reach Debian's
# mirrors but not a container registry (as here): Debian bookworm (minbase) with its Python 3.11, pip and venv,
# `python` on the PATH, and pip allowed to install into the image's Python as in the official python image
# (Debian marks its system Python "externally managed"; in a one-purpose image there is nothing to protect).
#   bash deploy/containers/base-from-debian.sh [tag]        default tag: hybrid/python-base:3.11-bookworm
# Needs: root, debootstrap, a running Docker engine.
set -euo pipefail
tag="${1:-hybrid/python-base:3.11-bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
rootfs="$(mktemp -d /tmp/hybrid-base-XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,python-is-python3,ca-certificates \
    bookworm "$rootfs" "$mirror" >/dev/null
rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
# The machine's own extra certificate authorities (e.g. an egress proxy's), so pip in the build trusts what the
# machine trusts; Debian's pip reads the system store.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$rootfs"/usr/local/share/ca-certificates/
    chroot "$rootfs" update-ca-certificates >/dev/null
fi
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
tar -C "$rootfs" -c . | docker import --change 'CMD ["python3"]' --change 'ENV LANG=C.UTF-8' - "$tag" >/dev/null
echo "$tag"
