"""Registry ingest on both databases: the report's 21 cases with consent, guest offices, waiting closures,
duplicates, corrections, withdrawals and the change feed. Envelopes are built against the event contracts
(shared.bus.envelope.make_envelope) exactly as intake and consent publish them."""
from __future__ import annotations

import copy
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from services.registry import demo, handlers, service, tables
from services.registry.domain.pseudonyms import Pseudonymiser
from shared.bus.envelope import make_envelope

SECRET = "test-secret-" + "s" * 40
ENV = {"REGISTRY_PSEUDONYM_SECRET": SECRET}


@pytest.fixture
def registry(platform_factory, db_url, monkeypatch):
    monkeypatch.setenv("REGISTRY_PSEUDONYM_SECRET", SECRET)
    return platform_factory("registry", tables.all_tables(), db_url)


def _count(platform, table, *where):
    with platform.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def _rows(platform, table):
    with platform.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table)).mappings()]


def _case(data, number):
    return next(c for c in data["cases"] if c["case"] == number)


def _grant(platform, office, case_uuid):
    return handlers.process(platform, demo.consent_envelope("consent.granted", office, case_uuid))


def test_table1_cases_through_ingest_give_one_row_per_case_with_the_reports_codes_and_summary(registry):
    data = demo.load_cases()
    outcomes = demo.seed(registry)
    assert outcomes == {"accepted": 21, "granted": 21}
    rows = {r["case_pseudonym"]: r for r in _rows(registry, tables.closures)}
    assert len(rows) == 21
    by_counsellor_case = {}
    for row in rows.values():
        by_counsellor_case[(row["office"], row["industry"], row["attachment_before"], row["frequency_mentor"],
                            row["frequency_candidate"], row["frequency_employer"], row["attachment_after"],
                            row["attached_same_company"], row["reasons"], row["counsellor_knew_company"])] = row
    for case in data["cases"]:
        codes = case["codes"]
        key = (case["office"], codes["industry"], codes["attachment_before"], codes["frequency_mentor"],
               codes["frequency_candidate"], codes["frequency_employer"], codes["attachment_after"],
               codes["attached_same_company"], ";".join(sorted(codes["reasons"])), codes["counsellor_knew_company"])
        assert key in by_counsellor_case, f"case {case['case']} not found with its codes"
    summary = Counter(r["outcome_summary"] for r in rows.values())
    assert summary == Counter(data["summary"]) == Counter({"same_company": 12, "apprenticeship_other_company": 1,
                                                           "no_attachment": 5, "missing": 3})
    kinds = Counter(r["record_kind"] for r in rows.values())
    assert kinds == {"closed": 19, "project_end": 2}
    # Dates coarsened to month by default; no identifier arrived unchanged.
    for row in rows.values():
        assert len(row["opened_period"]) == 7 and len(row["closed_period"]) == 7
    payload = demo.closure_payload(_case(data, 5), data["defaults"])
    stored_values = {str(v) for r in rows.values() for v in r.values()}
    for identifier in (payload["case_id"], payload["candidate_hash"], payload["employer_hash"],
                       str(payload["mentor_id"]), payload["counsellor_id"]):
        assert identifier not in stored_values


def test_guest_office_closure_and_consent_are_refused_and_store_nothing_personal(registry):
    data = demo.load_cases()
    case = dict(_case(data, 4), office="drammen", counsellor_id="geir-veileder")
    _grant(registry, "drammen", demo.case_id(4))
    assert handlers.process(registry, demo.closure_envelope(case, data["defaults"])) == "refused"
    assert _count(registry, tables.closures) == 0
    assert _count(registry, tables.waiting) == 0
    assert _count(registry, tables.consents) == 0
    assert _count(registry, tables.versions) == 0
    log = _rows(registry, tables.log)
    assert {(r["office"], r["outcome"], r["reason"]) for r in log} == {
        ("drammen", "refused", "office_not_covered_by_research")}
    for row in log:
        assert demo.case_id(4) not in str(row) and "geir" not in str(row)


def test_duplicate_delivery_and_same_version_redelivered_under_new_id_are_stored_once(registry):
    data = demo.load_cases()
    case = _case(data, 16)
    _grant(registry, case["office"], demo.case_id(16))
    envelope = demo.closure_envelope(case, data["defaults"])
    assert handlers.process(registry, envelope) == "accepted"
    assert handlers.process(registry, copy.deepcopy(envelope)) == "redelivery"  # inbox: same message id
    again = dict(copy.deepcopy(envelope), message_id=str(uuid.uuid4()))  # a producer retry with a new id
    assert handlers.process(registry, again) == "duplicate"
    assert _count(registry, tables.closures) == 1
    assert _count(registry, tables.versions) == 1
    assert _count(registry, tables.changes) == 1


def test_closure_waits_for_consent_holding_only_keyed_hashes_then_is_accepted(registry):
    data = demo.load_cases()
    case = _case(data, 9)
    envelope = demo.closure_envelope(case, data["defaults"])
    assert handlers.process(registry, envelope) == "waiting"
    assert _count(registry, tables.closures) == 0
    held = _rows(registry, tables.waiting)
    assert len(held) == 1
    payload = envelope["payload"]
    text = str(held)
    for identifier in (payload["case_id"], payload["candidate_hash"], payload["employer_hash"], payload["mentor_id"],
                       payload["counsellor_id"]):
        assert identifier not in text
    assert _grant(registry, case["office"], demo.case_id(9)) == "released"
    assert _count(registry, tables.waiting) == 0
    assert _count(registry, tables.closures) == 1


def test_waiting_closure_is_dropped_after_consent_wait_days_on_the_platform_clock(registry):
    data = demo.load_cases()
    handlers.process(registry, demo.closure_envelope(_case(data, 9), data["defaults"]))
    with registry.engine.connect() as conn:
        wait_days = registry.directory.project_settings(conn)["consent_wait_days"]
    registry.clock.set(registry.clock.now() + timedelta(days=wait_days - 1))
    assert service.purge_waiting(registry) == 0
    registry.clock.set(registry.clock.now() + timedelta(days=2))
    assert service.purge_waiting(registry) == 1
    assert _count(registry, tables.waiting) == 0
    assert _count(registry, tables.log, tables.log.c.reason == "consent_wait_expired") == 1
    # Consent arriving after the drop finds nothing to release.
    assert _grant(registry, _case(data, 9)["office"], demo.case_id(9)) == "granted"
    assert _count(registry, tables.closures) == 0


def test_correction_replaces_current_keeps_history_and_is_reported_by_the_change_feed(registry):
    data = demo.load_cases()
    case = _case(data, 15)
    _grant(registry, case["office"], demo.case_id(15))
    handlers.process(registry, demo.closure_envelope(case, data["defaults"]))
    cursor = service.newest_change(registry)
    payload = demo.closure_payload(case, data["defaults"], version=2)
    payload.update(attachment_after="permanent_with_wage_subsidy", supersedes_version=1)
    corrected = make_envelope("case.corrected", case["office"], payload, producer="intake")
    assert handlers.process(registry, corrected) == "accepted"
    current = _rows(registry, tables.closures)
    assert len(current) == 1 and current[0]["version"] == 2
    assert current[0]["attachment_after"] == "permanent_with_wage_subsidy"
    assert sorted(r["version"] for r in _rows(registry, tables.versions)) == [1, 2]
    feed = service.changes_since(registry, cursor, 100)
    assert [c["change"] for c in feed["changes"]] == ["corrected"]
    # An older version arriving late goes to history only.
    late = demo.closure_envelope(case, data["defaults"])
    assert handlers.process(registry, late) == "duplicate"
    assert _rows(registry, tables.closures)[0]["version"] == 2


@pytest.mark.parametrize("policy", ["erase", "research_exemption"])
def test_withdrawal_erases_or_marks_bars_later_closures_and_is_reported(registry, policy):
    data = demo.load_cases()
    case = _case(data, 11)
    _grant(registry, case["office"], demo.case_id(11))
    handlers.process(registry, demo.closure_envelope(case, data["defaults"]))
    cursor = service.newest_change(registry)
    withdrawn = demo.consent_envelope("consent.withdrawn", case["office"], demo.case_id(11), data_policy=policy)
    assert handlers.process(registry, withdrawn) == ("erased" if policy == "erase" else "marked")
    rows = _rows(registry, tables.closures)
    if policy == "erase":
        assert rows == [] and _count(registry, tables.versions) == 0
    else:
        assert [r["status"] for r in rows] == ["withdrawn_marked"]
    feed = service.changes_since(registry, cursor, 100)
    assert [c["change"] for c in feed["changes"]] == ["withdrawn_erased" if policy == "erase" else "withdrawn_marked"]
    # Later closures of the case, and a new grant, are barred.
    payload = demo.closure_payload(case, data["defaults"], version=2)
    payload["supersedes_version"] = 1
    corrected = make_envelope("case.corrected", case["office"], payload, producer="intake")
    assert handlers.process(registry, corrected) == "refused"
    assert _grant(registry, case["office"], demo.case_id(11)) == "refused"
    assert len(_rows(registry, tables.closures)) == (0 if policy == "erase" else 1)
    assert _count(registry, tables.log, tables.log.c.reason == "consent_withdrawn") == 1


def test_same_candidate_same_pseudonym_across_cases_and_different_in_another_project(registry, platform_factory,
                                                                                     tmp_path):
    data = demo.load_cases()
    first = dict(_case(data, 3), candidate="same")
    second = dict(_case(data, 13), candidate="same", office="kristiansand")
    for case in (first, second):
        _grant(registry, case["office"], demo.case_id(case["case"]))
        handlers.process(registry, demo.closure_envelope(case, data["defaults"]))
    rows = _rows(registry, tables.closures)
    assert len(rows) == 2 and len({r["candidate_pseudonym"] for r in rows}) == 1
    assert len({r["case_pseudonym"] for r in rows}) == 2
    with registry.engine.begin() as conn:
        here = service.ingest_context(registry, conn).pseudonymiser
    other = Pseudonymiser("another-project", SECRET.encode())
    value = demo.closure_payload(first, data["defaults"])["candidate_hash"]
    assert here.pseudonym("candidate", value) == rows[0]["candidate_pseudonym"]
    assert other.pseudonym("candidate", value) != rows[0]["candidate_pseudonym"]
    assert here.pseudonym("employer", value) != here.pseudonym("candidate", value)


def test_consent_for_another_purpose_or_expired_consent(registry):
    data = demo.load_cases()
    case = _case(data, 20)
    other = demo.consent_envelope("consent.granted", case["office"], demo.case_id(20), purpose="interviews")
    assert handlers.process(registry, other) == "ignored"
    assert handlers.process(registry, demo.closure_envelope(case, data["defaults"])) == "waiting"
    _grant(registry, case["office"], demo.case_id(20))
    expired = demo.consent_envelope("consent.expired", case["office"], demo.case_id(20))
    assert handlers.process(registry, expired) == "expired"
    assert _count(registry, tables.closures) == 1  # expiry is not withdrawal: stored data stays
    payload = demo.closure_payload(case, data["defaults"], version=2)
    payload["supersedes_version"] = 1
    corrected = make_envelope("case.corrected", case["office"], payload, producer="intake")
    assert handlers.process(registry, corrected) == "waiting"


def test_ingest_refuses_to_run_without_the_secret(platform_factory, db_url, monkeypatch):
    monkeypatch.delenv("REGISTRY_PSEUDONYM_SECRET", raising=False)
    platform = platform_factory("registry", tables.all_tables(), db_url)
    data = demo.load_cases()
    from sqlalchemy.exc import OperationalError
    with pytest.raises(OperationalError, match="pseudonym secret unavailable"):
        handlers.process(platform, demo.closure_envelope(_case(data, 1), data["defaults"]))
    assert _count(platform, tables.closures) == 0
    assert _count(platform, platform.tables["inbox"]) == 0  # rolled back: the message will be retried


def test_purge_waiting_cli_drops_on_the_platform_clock(registry):
    from services.registry.app import create_app
    data = demo.load_cases()
    handlers.process(registry, demo.closure_envelope(_case(data, 2), data["defaults"]))
    runner = create_app(platform=registry).test_cli_runner()
    assert "dropped 0 closure(s)" in runner.invoke(args=["registry", "purge-waiting"]).output
    registry.clock.set(registry.clock.now() + timedelta(days=91))
    assert "dropped 1 closure(s)" in runner.invoke(args=["registry", "purge-waiting"]).output
    assert _count(registry, tables.waiting) == 0
