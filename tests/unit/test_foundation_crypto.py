"""Office-separated envelope encryption: what opens, what must not, and key rotation."""
from __future__ import annotations

import base64
import json
import os
import stat

import pytest

from shared import crypto
from shared.crypto import DecryptionError, LocalKeyring, UnknownKeyError


@pytest.fixture
def keyring():
    ring = LocalKeyring({})
    for office in ("kristiansand", "bergen-vest"):
        ring.ensure_office(office)
    return ring


def test_round_trip_and_ciphertext_hides_plaintext(keyring):
    blob = crypto.encrypt_text(keyring, "kristiansand", "Fødselsnummer 01019912345", table="cases", id="c1")
    assert b"01019912345" not in blob
    assert crypto.decrypt_text(keyring, "kristiansand", blob, table="cases", id="c1") == "Fødselsnummer 01019912345"
    assert crypto.encrypt_text(keyring, "kristiansand", None, id="c1") is None
    assert crypto.decrypt_text(keyring, "kristiansand", None, id="c1") is None


def test_fresh_data_key_per_record(keyring):
    first = crypto.encrypt(keyring, "kristiansand", b"same", id="c1")
    second = crypto.encrypt(keyring, "kristiansand", b"same", id="c1")
    assert first != second


def test_binding_order_does_not_matter(keyring):
    blob = crypto.encrypt(keyring, "kristiansand", b"x", table="cases", id="c1")
    assert crypto.decrypt(keyring, "kristiansand", blob, id="c1", table="cases") == b"x"


def test_another_offices_keys_do_not_open(keyring):
    blob = crypto.encrypt(keyring, "kristiansand", b"secret", id="c1")
    with pytest.raises(DecryptionError):
        crypto.decrypt(keyring, "bergen-vest", blob, id="c1")


def test_same_office_name_but_another_keyring_does_not_open(keyring):
    """Another deployment's (or a restored wrong) key for the same office code must fail, not return garbage."""
    blob = crypto.encrypt(keyring, "kristiansand", b"secret", id="c1")
    other = LocalKeyring({})
    other.ensure_office("kristiansand")
    with pytest.raises(DecryptionError):
        crypto.decrypt(other, "kristiansand", blob, id="c1")


def test_other_record_binding_fails(keyring):
    blob = crypto.encrypt(keyring, "kristiansand", b"secret", table="cases", id="c1")
    for binding in ({"table": "cases", "id": "c2"}, {"table": "contacts", "id": "c1"}, {"id": "c1"}):
        with pytest.raises(DecryptionError):
            crypto.decrypt(keyring, "kristiansand", blob, **binding)


def test_blob_moved_to_another_office_fails_even_with_that_offices_keys(keyring):
    """A row copied into another office's data (office column changed) fails there."""
    blob = crypto.encrypt(keyring, "kristiansand", b"secret", id="c1")
    with pytest.raises(DecryptionError):
        crypto.decrypt(keyring, "bergen-vest", blob, id="c1")
    with pytest.raises(UnknownKeyError):
        crypto.decrypt(keyring, "unknown-office", blob, id="c1")


def test_tampered_ciphertext_fails(keyring):
    blob = bytearray(crypto.encrypt(keyring, "kristiansand", b"secret", id="c1"))
    blob[-1] ^= 1
    with pytest.raises(DecryptionError):
        crypto.decrypt(keyring, "kristiansand", bytes(blob), id="c1")
    with pytest.raises(DecryptionError, match="not an encrypted blob"):
        crypto.decrypt(keyring, "kristiansand", b"plain text", id="c1")


def test_rotation_new_version_encrypts_old_still_decrypts(keyring):
    old = crypto.encrypt(keyring, "kristiansand", b"old", id="c1")
    assert crypto.key_version(old) == 1
    assert keyring.rotate("kristiansand") == 2
    new = crypto.encrypt(keyring, "kristiansand", b"new", id="c2")
    assert crypto.key_version(new) == 2
    assert crypto.decrypt(keyring, "kristiansand", old, id="c1") == b"old"
    assert crypto.decrypt(keyring, "kristiansand", new, id="c2") == b"new"
    # Rotation is per office: the other office stays at version 1.
    assert crypto.key_version(crypto.encrypt(keyring, "bergen-vest", b"b", id="c3")) == 1


def test_rewrap_moves_to_current_version_without_changing_plaintext(keyring):
    old = crypto.encrypt(keyring, "kristiansand", b"payload", id="c1")
    keyring.rotate("kristiansand")
    keyring.rotate("kristiansand")
    rewrapped = crypto.rewrap(keyring, "kristiansand", old, id="c1")
    assert crypto.key_version(rewrapped) == 3
    assert crypto.decrypt(keyring, "kristiansand", rewrapped, id="c1") == b"payload"
    # Only the wrapped data key changed: the bulk ciphertext (nonce + body at the tail) is the same bytes.
    assert rewrapped[-len(b"payload") - 16 - 12:] == old[-len(b"payload") - 16 - 12:]
    # Already current: untouched. A wrong binding cannot be rewrapped either.
    assert crypto.rewrap(keyring, "kristiansand", rewrapped, id="c1") is rewrapped
    with pytest.raises(DecryptionError):
        crypto.rewrap(keyring, "kristiansand", old, id="other")


def test_keyed_hash_stable_per_office_different_across_offices(keyring):
    first = keyring.keyed_hash("kristiansand", "01019912345")
    assert first == keyring.keyed_hash("kristiansand", "01019912345")
    assert first != keyring.keyed_hash("kristiansand", "01019912346")
    assert first != keyring.keyed_hash("bergen-vest", "01019912345")
    assert "01019912345" not in first and len(first) == 64
    keyring.rotate("kristiansand")  # the hash key never rotates: lookups keep working
    assert keyring.keyed_hash("kristiansand", "01019912345") == first


def test_keyring_file_round_trip_and_mode_0600(keyring, tmp_path):
    blob = crypto.encrypt(keyring, "kristiansand", b"kept", id="c1")
    hashed = keyring.keyed_hash("bergen-vest", "v")
    path = tmp_path / "keys" / "keyring.json"
    keyring.save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    loaded = LocalKeyring.from_file(path)
    assert loaded.offices() == ["bergen-vest", "kristiansand"]
    assert crypto.decrypt(loaded, "kristiansand", blob, id="c1") == b"kept"
    assert loaded.keyed_hash("bergen-vest", "v") == hashed
    # Saving again (after a rotation) keeps the mode and leaves no temporary file behind.
    loaded.rotate("kristiansand")
    loaded.save()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["keyring.json"]
    assert LocalKeyring.from_file(path).current_version("kristiansand") == 2


def test_keyring_from_environment_wins_over_file(keyring, tmp_path):
    value = base64.b64encode(json.dumps(keyring.to_dict()).encode()).decode()
    loaded = crypto.load_keyring(tmp_path / "absent.json", env={"KEYRING_JSON_B64": value})
    blob = crypto.encrypt(keyring, "bergen-vest", b"e", id="x")
    assert crypto.decrypt(loaded, "bergen-vest", blob, id="x") == b"e"


@pytest.mark.parametrize("length", [16, 24, 31, 33])
def test_kek_not_256_bits_is_refused(length):
    data = {"offices": {"kristiansand": {"current": 1, "keks": {"1": base64.b64encode(os.urandom(length)).decode()},
                                         "hash_key": base64.b64encode(os.urandom(32)).decode()}}}
    with pytest.raises(ValueError, match="not 256 bits"):
        LocalKeyring(data)


def test_unknown_key_version_fails(keyring):
    blob = bytearray(crypto.encrypt(keyring, "kristiansand", b"x", id="c1"))
    blob[3:7] = (9).to_bytes(4, "big")
    with pytest.raises(UnknownKeyError, match="no key version 9"):
        crypto.decrypt(keyring, "kristiansand", bytes(blob), id="c1")
