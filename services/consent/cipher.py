"""The seam between consent storage and encryption.

`OfficeCipher` is what the service uses: shared.crypto envelope encryption (fresh data key per blob, wrapped by
the office's current key-encryption key, associated data binding office, row id, row version and field).
`NullCipher` stores plaintext through the very same code path; it exists only so the benchmark can measure what
encryption costs, and nothing in the app or the CLI wires it.
"""
from __future__ import annotations

from shared import crypto


class OfficeCipher:
    def __init__(self, keyring):
        self._keyring = keyring  # a Keyring, or a callable returning one (the platform loads its keyring lazily)

    @property
    def keyring(self):
        return self._keyring() if callable(self._keyring) else self._keyring

    def encrypt(self, office: str, data: bytes, **binding) -> bytes:
        return crypto.encrypt(self.keyring, office, data, **binding)

    def decrypt(self, office: str, blob: bytes, **binding) -> bytes:
        return crypto.decrypt(self.keyring, office, blob, **binding)

    def blob_version(self, blob: bytes) -> int:
        return crypto.key_version(blob)

    def current_version(self, office: str) -> int:
        return self.keyring.current_version(office)

    def rewrap(self, office: str, blob: bytes, **binding) -> bytes:
        return crypto.rewrap(self.keyring, office, blob, **binding)


class NullCipher:
    """Benchmark only: identity 'encryption' with the same interface."""

    def encrypt(self, office, data, **binding):
        return bytes(data)

    def decrypt(self, office, blob, **binding):
        return bytes(blob)

    def blob_version(self, blob):
        return 0

    def current_version(self, office):
        return 0

    def rewrap(self, office, blob, **binding):
        return blob
