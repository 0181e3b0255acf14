"""Office-separated encryption: envelope encryption with AES-256-GCM and keyed hashes.

Every record gets a fresh 256-bit data key; the data key is wrapped by the office's key-encryption key (KEK)
of the current version. Associated data binds office, record and anything else the caller names, so a
ciphertext copied to another row or office fails to open. `Keyring` is the seam where a KMS or Vault transit
plugs in: it wraps and unwraps data keys and computes keyed hashes, and never hands out a KEK.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

BLOB_MAGIC = b"HE1"  # format marker: version of this blob layout


class DecryptionError(Exception):
    """The ciphertext does not open with this office's keys and this associated data."""


class UnknownKeyError(DecryptionError):
    pass


class Keyring(Protocol):
    def current_version(self, office: str) -> int: ...
    def wrap(self, office: str, data_key: bytes, aad: bytes) -> tuple[int, bytes]: ...
    def unwrap(self, office: str, version: int, wrapped: bytes, aad: bytes) -> bytes: ...
    def keyed_hash(self, office: str, value: str) -> str: ...


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class LocalKeyring:
    """Keys from a JSON keyring file or an environment variable (base64 JSON).

    Layout: {"offices": {"<office>": {"current": 2, "keks": {"1": b64, "2": b64}, "hash_key": b64}}}
    The hash key never rotates: a keyed hash must find the same value again for the project's life.
    """

    def __init__(self, data: dict, source: Path | None = None):
        self.source = source
        self._offices = {}
        for office, entry in data.get("offices", {}).items():
            keks = {int(v): base64.b64decode(k) for v, k in entry["keks"].items()}
            if any(len(k) != 32 for k in keks.values()):
                raise ValueError(f"keyring: office {office} has a key-encryption key that is not 256 bits")
            self._offices[office] = {
                "current": int(entry["current"]),
                "keks": keks,
                "hash_key": base64.b64decode(entry["hash_key"]),
            }

    @classmethod
    def from_file(cls, path: Path | str) -> LocalKeyring:
        path = Path(path)
        with open(path, encoding="utf-8") as handle:
            return cls(json.load(handle), source=path)

    @classmethod
    def from_env(cls, value: str) -> LocalKeyring:
        return cls(json.loads(base64.b64decode(value)))

    def _office(self, office: str):
        try:
            return self._offices[office]
        except KeyError:
            raise UnknownKeyError(f"no keys for office {office!r}") from None

    def offices(self):
        return sorted(self._offices)

    def current_version(self, office):
        return self._office(office)["current"]

    def wrap(self, office, data_key, aad):
        entry = self._office(office)
        version = entry["current"]
        nonce = os.urandom(12)
        wrapped = nonce + AESGCM(entry["keks"][version]).encrypt(nonce, data_key, _wrap_aad(office, version, aad))
        return version, wrapped

    def unwrap(self, office, version, wrapped, aad):
        entry = self._office(office)
        kek = entry["keks"].get(version)
        if kek is None:
            raise UnknownKeyError(f"office {office!r} has no key version {version}")
        try:
            return AESGCM(kek).decrypt(wrapped[:12], wrapped[12:], _wrap_aad(office, version, aad))
        except InvalidTag:
            raise DecryptionError("data key does not unwrap with this office's key") from None

    def keyed_hash(self, office, value):
        return hmac.new(self._office(office)["hash_key"], value.encode(), hashlib.sha256).hexdigest()

    # --- key management (local keyring only; a KMS does this on its side) ---
    def to_dict(self):
        return {"offices": {
            office: {"current": e["current"], "keks": {str(v): _b64(k) for v, k in e["keks"].items()},
                     "hash_key": _b64(e["hash_key"])}
            for office, e in self._offices.items()}}

    def ensure_office(self, office):
        if office not in self._offices:
            self._offices[office] = {"current": 1, "keks": {1: os.urandom(32)}, "hash_key": os.urandom(32)}
            return True
        return False

    def rotate(self, office):
        entry = self._office(office)
        new_version = max(entry["keks"]) + 1
        entry["keks"][new_version] = os.urandom(32)
        entry["current"] = new_version
        return new_version

    def save(self, path: Path | str | None = None):
        path = Path(path or self.source)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
            json.dump(self.to_dict(), handle, indent=1)
        os.replace(tmp, path)  # atomic: a crash never leaves half a keyring


def _wrap_aad(office: str, version: int, aad: bytes) -> bytes:
    return b"wrap|" + office.encode() + b"|" + str(version).encode() + b"|" + aad


def associated_data(office: str, **binding) -> bytes:
    """Canonical associated data: the office plus the record's identity (sorted, so order never matters)."""
    parts = [f"office={office}"] + [f"{k}={binding[k]}" for k in sorted(binding)]
    return ";".join(parts).encode()


def encrypt(keyring: Keyring, office: str, plaintext: bytes, **binding) -> bytes:
    """Encrypt with a fresh data key; the blob carries the key version and the wrapped data key."""
    aad = associated_data(office, **binding)
    data_key = AESGCM.generate_key(bit_length=256)
    version, wrapped = keyring.wrap(office, data_key, aad)
    nonce = os.urandom(12)
    ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, aad)
    return BLOB_MAGIC + struct.pack(">IH", version, len(wrapped)) + wrapped + nonce + ciphertext


def _header(blob: bytes) -> tuple[int, int]:
    """(key version, wrapped key length), read without touching the bulk of the blob."""
    if not blob.startswith(BLOB_MAGIC) or len(blob) < len(BLOB_MAGIC) + 6:
        raise DecryptionError("not an encrypted blob of this platform")
    return struct.unpack(">IH", blob[3:9])


def _parse(blob: bytes):
    version, wrapped_len = _header(blob)
    wrapped = blob[9:9 + wrapped_len]
    nonce = blob[9 + wrapped_len:21 + wrapped_len]
    return version, wrapped, nonce, blob[21 + wrapped_len:]


def decrypt(keyring: Keyring, office: str, blob: bytes, **binding) -> bytes:
    aad = associated_data(office, **binding)
    version, wrapped, nonce, ciphertext = _parse(blob)
    data_key = keyring.unwrap(office, version, wrapped, aad)
    try:
        return AESGCM(data_key).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise DecryptionError("ciphertext does not open with this binding") from None


def key_version(blob: bytes) -> int:
    return _header(blob)[0]  # not _parse: that would copy a scan's whole ciphertext to read six bytes


def rewrap(keyring: Keyring, office: str, blob: bytes, **binding) -> bytes:
    """Re-wrap the data key under the office's current KEK; the bulk ciphertext is untouched (cheap for scans)."""
    aad = associated_data(office, **binding)
    version, wrapped, nonce, ciphertext = _parse(blob)
    if version == keyring.current_version(office):
        return blob
    data_key = keyring.unwrap(office, version, wrapped, aad)
    new_version, new_wrapped = keyring.wrap(office, data_key, aad)
    return BLOB_MAGIC + struct.pack(">IH", new_version, len(new_wrapped)) + new_wrapped + nonce + ciphertext


def encrypt_text(keyring, office, text: str | None, **binding) -> bytes | None:
    return None if text is None else encrypt(keyring, office, text.encode("utf-8"), **binding)


def decrypt_text(keyring, office, blob: bytes | None, **binding) -> str | None:
    return None if blob is None else decrypt(keyring, office, blob, **binding).decode("utf-8")


def load_keyring(path: Path | str, env=None) -> LocalKeyring:
    """KEYRING_JSON_B64 in the environment wins (containers); otherwise the keyring file."""
    env = os.environ if env is None else env
    if env.get("KEYRING_JSON_B64"):
        return LocalKeyring.from_env(env["KEYRING_JSON_B64"])
    return LocalKeyring.from_file(path)
