"""Envelope encryption and keyed hashes: one office's key never opens another office's data."""
from __future__ import annotations

import base64
import json

import pytest

from shared import crypto
from shared.crypto import DecryptionError, LocalKeyring, UnknownKeyError


@pytest.fixture
def keyring():
    ring = LocalKeyring({})
    for office in ("kristiansand", "bergen-vest"):
        ring.ensure_office(office)
    return ring


def test_round_trip_with_a_fresh_data_key_per_record(keyring):
    first = crypto.encrypt(keyring, "kristiansand", b"12345678901", table="cases", record="a")
    second = crypto.encrypt(keyring, "kristiansand", b"12345678901", table="cases", record="a")
    assert first != second and b"12345678901" not in first
    assert crypto.decrypt(keyring, "kristiansand", first, table="cases", record="a") == b"12345678901"
    assert crypto.decrypt_text(keyring, "kristiansand",
                               crypto.encrypt_text(keyring, "kristiansand", "Åse Ødegård", record="b"),
                               record="b") == "Åse Ødegård"
    assert crypto.encrypt_text(keyring, "kristiansand", None, record="b") is None


def test_another_offices_key_does_not_open_it(keyring):
    blob = crypto.encrypt(keyring, "kristiansand", b"secret", record="a")
    with pytest.raises(DecryptionError):
        crypto.decrypt(keyring, "bergen-vest", blob, record="a")
    with pytest.raises(UnknownKeyError):
        crypto.decrypt(keyring, "malvik", blob, record="a")


def test_a_ciphertext_moved_to_another_record_does_not_open(keyring):
    blob_a = crypto.encrypt(keyring, "kristiansand", b"for a", record="a")
    blob_b = crypto.encrypt(keyring, "kristiansand", b"for b", record="b")
    with pytest.raises(DecryptionError):
        crypto.decrypt(keyring, "kristiansand", blob_a, record="b")
    # Swap the bulk ciphertexts between two records' envelopes: the tag or the data key refuses.
    header = len(crypto.BLOB_MAGIC) + 6
    wrapped_len = int.from_bytes(blob_a[header - 2:header], "big")
    split = header + wrapped_len + 12
    spliced = blob_b[:split] + blob_a[split:]
    with pytest.raises(DecryptionError):
        crypto.decrypt(keyring, "kristiansand", spliced, record="b")


def test_a_flipped_bit_is_detected(keyring):
    blob = bytearray(crypto.encrypt(keyring, "kristiansand", b"secret", record="a"))
    blob[-1] ^= 1
    with pytest.raises(DecryptionError):
        crypto.decrypt(keyring, "kristiansand", bytes(blob), record="a")
    with pytest.raises(DecryptionError, match="not an encrypted blob"):
        crypto.decrypt(keyring, "kristiansand", b"plain text", record="a")


def test_rotation_new_version_encrypts_old_still_decrypts_and_rewrap_moves_it(keyring):
    old = crypto.encrypt(keyring, "kristiansand", b"before", record="a")
    assert crypto.key_version(old) == 1
    assert keyring.rotate("kristiansand") == 2
    new = crypto.encrypt(keyring, "kristiansand", b"after", record="c")
    assert crypto.key_version(new) == 2
    assert crypto.decrypt(keyring, "kristiansand", old, record="a") == b"before"
    rewrapped = crypto.rewrap(keyring, "kristiansand", old, record="a")
    assert crypto.key_version(rewrapped) == 2
    assert crypto.decrypt(keyring, "kristiansand", rewrapped, record="a") == b"before"
    assert crypto.rewrap(keyring, "kristiansand", rewrapped, record="a") is rewrapped  # already current
    # Other offices are untouched by one office's rotation.
    assert keyring.current_version("bergen-vest") == 1


def test_keyed_hash_is_stable_per_office_and_differs_across_offices(keyring):
    one = keyring.keyed_hash("kristiansand", "12345678901")
    assert one == keyring.keyed_hash("kristiansand", "12345678901")
    assert one != keyring.keyed_hash("kristiansand", "12345678902")
    assert one != keyring.keyed_hash("bergen-vest", "12345678901")
    keyring.rotate("kristiansand")
    assert keyring.keyed_hash("kristiansand", "12345678901") == one  # the hash key never rotates


def test_keyring_file_and_environment_round_trip(keyring, tmp_path):
    blob = crypto.encrypt(keyring, "kristiansand", b"kept", record="a")
    path = tmp_path / "keyring.json"
    keyring.save(path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    from_file = crypto.load_keyring(path, env={})
    assert crypto.decrypt(from_file, "kristiansand", blob, record="a") == b"kept"
    encoded = base64.b64encode(json.dumps(keyring.to_dict()).encode()).decode()
    from_env = crypto.load_keyring(tmp_path / "absent.json", env={"KEYRING_JSON_B64": encoded})
    assert crypto.decrypt(from_env, "kristiansand", blob, record="a") == b"kept"


def test_a_short_key_in_the_file_is_refused():
    with pytest.raises(ValueError, match="not 256 bits"):
        LocalKeyring({"offices": {"x": {"current": 1, "keks": {"1": base64.b64encode(b"short").decode()},
                                        "hash_key": base64.b64encode(b"h" * 32).decode()}}})
