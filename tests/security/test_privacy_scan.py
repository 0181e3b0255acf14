"""The privacy scan can fail: a national ID or a candidate name in a log record, a mail or an export is found."""
import logging

from services.intake.testing import fake_national_id

from . import conftest
from .privacy_scan import findings_in_text, findings_in_tree


def test_a_logged_national_id_is_caught_by_the_session_scan():
    fnr = fake_national_id(4242)
    before = len(conftest.LOG_FINDINGS)
    logging.getLogger("services.intake").warning("opened case for %s", fnr)
    caught = conftest.LOG_FINDINGS[before:]
    del conftest.LOG_FINDINGS[before:]  # the injection proves the scan; it must not fail this run
    assert caught and "national id" in caught[0][1] and fnr not in caught[0][1]


def test_a_logged_name_in_structured_fields_is_caught(caplog):
    from shared.logs import log_event
    caplog.set_level(logging.INFO)  # the services log at INFO (configure_logging); so does this record
    before = len(conftest.LOG_FINDINGS)
    log_event(logging.getLogger("services.consent"), "recorded", who="Fiktiv Testesen")
    caught = conftest.LOG_FINDINGS[before:]
    del conftest.LOG_FINDINGS[before:]
    assert caught and "candidate name" in caught[0][1]


def test_scanner_on_text_checks_the_checksum():
    fnr = fake_national_id(7)
    assert findings_in_text(f"x {fnr} y")
    wrong = fnr[:-1] + str((int(fnr[-1]) + 1) % 10)
    assert not findings_in_text(f"x {wrong} y")   # 11 digits that fail the checksum are not a national ID
    assert not findings_in_text("case 1234567890123")


def test_scanner_reads_mails_exports_and_registry_databases(tmp_path):
    fnr = fake_national_id(9)
    (tmp_path / "mail").mkdir()
    (tmp_path / "mail" / "1.msg").write_text(f"Til: x\n\nKandidat {fnr}")
    (tmp_path / "closures.csv").write_text("id,name\n1,Demo Demodatter\n")
    (tmp_path / "registry.db").write_bytes(b"\x00SQLite" + fnr.encode())
    (tmp_path / "intake.db").write_bytes(b"\x00ciphertext only")
    found = findings_in_tree(tmp_path)
    assert {p.rsplit("/", 1)[-1] for p, _ in found} == {"1.msg", "closures.csv", "registry.db"}
    for planted in ("mail/1.msg", "closures.csv", "registry.db"):  # planted here; must not fail the session scan
        (tmp_path / planted).unlink()
