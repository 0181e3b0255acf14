"""Second step of pseudonymisation: the registry re-keys the offices' keyed hashes (and the case, counsellor and
mentor ids) with HMAC-SHA256 under a per-project secret.

The project code is part of the HMAC input, so the same person gets different pseudonyms in different projects even
if a secret were reused. Pseudonyms are lower-case base32 (letters and 2-7): no run of digits that could look like
an ID. Only the ingest holds a Pseudonymiser (services.registry.service.IngestContext reads the secret).
"""
from __future__ import annotations

import base64
import hashlib
import hmac

KINDS = ("candidate", "case", "counsellor", "mentor", "employer")


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
