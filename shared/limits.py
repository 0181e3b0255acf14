"""The size limits of what a client may send, defined once.

The services (shared.web's request class), the local run's nginx (rendered from these by scripts/devstack.py),
the container's nginx (deploy/containers/nginx.conf) and the Kubernetes ingress (deploy/k8s/ingress.yaml) all use
them; tests/integration/test_hostile_input.py asserts that the two typed copies agree with this module.
"""
from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB

# One uploaded document (a scanned consent form); consent's CONSENT_MAX_UPLOAD_BYTES may lower it, never raise it.
UPLOAD_MAX_BYTES = 10 * MIB
# A body without an upload: a JSON document or a URL-encoded form, and the fields beside an upload.
DATA_MAX_BYTES = 1 * MIB
# One text field of a multipart form (the longest free text a form takes is 4,000 characters).
FIELD_MAX_BYTES = 64 * KIB
# The largest request anyone may send: a document and its form. The proxies refuse anything larger themselves.
BODY_MAX_BYTES = UPLOAD_MAX_BYTES + DATA_MAX_BYTES
# Arrays and objects inside each other in a JSON body (the platform's own documents nest four deep at most).
JSON_MAX_DEPTH = 32


def nginx_size(size: int) -> str:
    """A byte count as nginx writes a size ('11m', '64k'), exact: a size that is not whole kilobytes is refused."""
    if size % MIB == 0:
        return f"{size // MIB}m"
    if size % KIB == 0:
        return f"{size // KIB}k"
    raise ValueError(f"{size} bytes is not a whole number of kilobytes")


def human_size(size: int) -> str:
    """Norwegian notation, as the error messages write it: '64 kB', '11,0 MB'."""
    if size < MIB:
        return f"{max(1, round(size / KIB))} kB"
    return f"{size / MIB:.1f}".replace(".", ",") + " MB"
