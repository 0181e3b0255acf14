"""Second step of pseudonymisation: the registry re-keys the offices' keyed hashes (and the case, counsellor and
mentor ids) with HMAC-SHA256 under a per-project secret.

Only the ingest (the bus consumer) loads the secret: the web app that serves researchers never calls
`load_pseudonymiser`, so nothing a researcher can reach can recompute or reverse a pseudonym. The project code
is part of the HMAC input, so the same person gets different pseudonyms in different projects even if a secret
were reused. Pseudonyms are lower-case base32 (letters and 2-7): no run of digits that could look like an ID.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path

KINDS = ("candidate", "case", "counsellor", "mentor", "employer")
MIN_SECRET_BYTES = 32


class SecretUnavailable(RuntimeError):
    """The project's pseudonym secret cannot be read; the ingest must not run without it."""


def read_secret(ref: str, env=None) -> bytes:
    """`env:NAME` or `file:/path`; at least 32 bytes, never logged."""
    env = os.environ if env is None else env
    if ref.startswith("env:"):
        name = ref[4:]
        value = env.get(name)
        if not value:
            raise SecretUnavailable(f"pseudonym secret: environment variable {name} is not set")
        secret = value.encode("utf-8")
    elif ref.startswith("file:"):
        path = Path(ref[5:])
        try:
            secret = path.read_bytes().strip()
        except OSError as error:
            raise SecretUnavailable(f"pseudonym secret: cannot read {path}: {error.strerror}") from None
    else:
        raise SecretUnavailable(f"pseudonym secret ref must be env:NAME or file:PATH, not {ref.split(':')[0]!r}")
    if len(secret) < MIN_SECRET_BYTES:
        raise SecretUnavailable(f"pseudonym secret must be at least {MIN_SECRET_BYTES} bytes")
    return secret


class Pseudonymiser:
    def __init__(self, project_code: str, secret: bytes):
        self.project_code = project_code
        self._secret = secret

    def __repr__(self):  # never print the secret
        return f"Pseudonymiser(project={self.project_code!r})"

    def pseudonym(self, kind: str, value: str | None) -> str | None:
        if value is None:
            return None
        if kind not in KINDS:
            raise ValueError(f"unknown pseudonym kind {kind}")
        message = f"{self.project_code}\x1f{kind}\x1f{value}".encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()[:20]
        return base64.b32encode(digest).decode("ascii").lower()  # 32 chars, [a-z2-7]


def load_pseudonymiser(platform, env=None) -> Pseudonymiser:
    project = platform.directory.project_settings()
    if project is None:
        raise SecretUnavailable("no project settings in the directory: run `flask directory load`")
    return Pseudonymiser(project["code"], read_secret(project["pseudonym_secret_ref"], env=env))
