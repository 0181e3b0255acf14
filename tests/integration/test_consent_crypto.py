"""Encryption at rest on the real databases: office separation, bound ciphertexts, rotation and a killed rewrap."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from sqlalchemy import select, update

from services.consent import service, store
from services.consent.cipher import OfficeCipher
from services.consent.tables import OWN as T
from shared.crypto import DecryptionError, LocalKeyring
from tests.integration.test_consent_helpers import PDF, deps, open_case, record

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _row(platform, table, row_id):
    with platform.engine.connect() as conn:
        return dict(conn.execute(select(T[table]).where(T[table].c.id == row_id)).mappings().one())


def _opens(platform, record_id, document_id):
    d = deps(platform)
    return (store.open_signer_name(d.cipher, _row(platform, "records", record_id)),
            store.open_document(d.cipher, _row(platform, "documents", document_id)))


def test_personal_fields_and_scans_are_not_stored_in_clear(consent):
    case_id = open_case(consent)
    made = record(consent, case_id, "candidate", {"research_registration": "granted"}, name="Ada Kandidat",
                  national_id=None)
    row, doc = _row(consent, "records", made["record_id"]), _row(consent, "documents", made["document_id"])
    assert b"Ada Kandidat" not in row["signer_name"]
    assert PDF[:40] not in doc["content"] and len(doc["content"]) > len(PDF)
    assert row["case_id"] == case_id and row["signed_on"].isoformat() == "2026-11-20"  # queryable fields stay plain
    assert _opens(consent, made["record_id"], made["document_id"]) == ("Ada Kandidat", PDF)


def test_another_offices_key_fails(consent):
    case_id = open_case(consent)
    made = record(consent, case_id, "candidate", {"research_registration": "granted"})
    row = _row(consent, "records", made["record_id"])
    cipher = OfficeCipher(consent.keyring)
    with pytest.raises(DecryptionError):
        cipher.decrypt("bergen-vest", row["signer_name"], record=row["id"], version=1, field="signer_name")
    # Moving the row to another office in the database does not help either.
    with consent.engine.begin() as conn:
        conn.execute(update(T["records"]).where(T["records"].c.id == row["id"]).values(office="bergen-vest"))
    with pytest.raises(DecryptionError):
        store.open_signer_name(deps(consent).cipher, _row(consent, "records", made["record_id"]))


def test_swapped_ciphertexts_fail(consent):
    case_id = open_case(consent)
    first = record(consent, case_id, "candidate", {"research_registration": "granted"}, name="Ada Kandidat")
    second = record(consent, case_id, "employer", {"employer_survey": "granted"}, name="Bo Arbeidsgiver")
    a, b = _row(consent, "records", first["record_id"]), _row(consent, "records", second["record_id"])
    doc_a = _row(consent, "documents", first["document_id"])
    with consent.engine.begin() as conn:
        conn.execute(update(T["records"]).where(T["records"].c.id == b["id"]).values(signer_name=a["signer_name"]))
        conn.execute(update(T["documents"]).where(T["documents"].c.id == second["document_id"])
                     .values(content=doc_a["content"]))
    d = deps(consent)
    with pytest.raises(DecryptionError):
        store.open_signer_name(d.cipher, _row(consent, "records", second["record_id"]))
    with pytest.raises(DecryptionError):
        store.open_document(d.cipher, _row(consent, "documents", second["document_id"]))
    # A name blob presented as another field of its own row fails too (field is bound).
    with pytest.raises(DecryptionError):
        OfficeCipher(consent.keyring).decrypt("kristiansand", a["signer_name"], record=a["id"], version=1,
                                              field="signer_national_id")
    assert store.open_signer_name(d.cipher, a) == "Ada Kandidat"  # the original still opens


def test_rotation_new_version_encrypts_old_decrypts_rewrap_moves_all(consent):
    case_id = open_case(consent)
    old = record(consent, case_id, "candidate", {"research_registration": "granted"}, name="Ada Kandidat")
    consent.keyring.rotate("kristiansand")
    new = record(consent, case_id, "employer", {"employer_survey": "granted"}, name="Bo Arbeidsgiver")
    assert _row(consent, "records", old["record_id"])["key_version"] == 1
    assert _row(consent, "records", new["record_id"])["key_version"] == 2
    assert _opens(consent, old["record_id"], old["document_id"]) == ("Ada Kandidat", PDF)
    done = service.rewrap_office(consent.engine, OfficeCipher(consent.keyring), "kristiansand", batch_size=1)
    assert done == 2  # one record, one document behind
    assert _row(consent, "documents", old["document_id"])["key_version"] == 2
    _drop_key_version(consent, "kristiansand", 1)
    assert _opens(consent, old["record_id"], old["document_id"]) == ("Ada Kandidat", PDF)


def _drop_key_version(platform, office, version):
    """Prove nothing needs the old key any more: remove it from the keyring."""
    data = platform.keyring.to_dict()
    del data["offices"][office]["keks"][str(version)]
    platform._keyring = LocalKeyring(data)


def test_rewrap_killed_half_way_resumes_and_every_record_opens(consent, tmp_path):
    case_id = open_case(consent)
    made = [record(consent, case_id, "candidate", {"research_registration": "granted"}, name=f"Person {i}")
            for i in range(24)]
    consent.keyring.rotate("kristiansand")
    consent.keyring.save()
    env = {**os.environ, "DATA_DIR": str(tmp_path), "CONSENT_DATABASE_URL": consent.settings.database_url,
           "KEYRING_FILE": str(consent.settings.keyring_file), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "flask", "--app", "services.consent.wsgi", "rewrap", "--office", "kristiansand",
               "--batch-size", "4", "--pause", "0.4"]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    try:
        while len(seen) < 2:
            line = process.stdout.readline()
            assert line, f"rewrap ended early: {process.stderr.read()}"
            if "batch of" in line:
                seen.append(line)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait(10)
        process.stdout.close()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    with consent.engine.connect() as conn:
        versions = [r[0] for r in conn.execute(select(T["records"].c.key_version))]
    assert versions.count(2) >= 8 and versions.count(1) >= 1, versions  # killed half-way, batches committed whole

    finished = subprocess.run(command[:-2], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    with consent.engine.connect() as conn:
        assert {r[0] for r in conn.execute(select(T["records"].c.key_version))} == {2}
        assert {r[0] for r in conn.execute(select(T["documents"].c.key_version))} == {2}
    _drop_key_version(consent, "kristiansand", 1)
    for i, item in enumerate(made):
        assert _opens(consent, item["record_id"], item["document_id"]) == (f"Person {i}", PDF)
