"""Releases (issue #18 points 2 and 3), on both databases: cut by the command, immutable, with a manifest that
matches the bytes served, a DDI-Codebook 2.6 document that validates against ../shared/ddi, notes with errata since
the previous release, tables that are the same each time; an erasure deletes the files and the re-cut names the
researchers to tell; the research exemption keeps the files and lists an erratum; retention removes releases; every
download is in a hash chain that the command verifies and that notices an edit."""
from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
import xmlschema
from sqlalchemy import update

from services.registry import demo, handlers, privacy, service, tables
from services.registry.app import create_app
from shared.bus.envelope import make_envelope
from shared.clock import FixedClock
from shared.config import REPO_ROOT
from shared.privacy import run_retention
from tests.fixtures.tokens import user_auth_header

SECRET = "release-test-secret-" + "r" * 40
DDI_SCHEMA = REPO_ROOT.parent / "shared" / "ddi" / "codebook-2.6" / "schemas" / "codebook.xsd"


@pytest.fixture
def registry(platform_factory, db_url, monkeypatch):
    monkeypatch.setenv("REGISTRY_PSEUDONYM_SECRET", SECRET)
    platform = platform_factory("registry", tables.all_tables(), db_url)
    demo.seed(platform)
    app = create_app(platform=platform)
    return platform, app, app.test_client()


def _researcher(platform):
    return user_auth_header(platform, "rune-forsker")


def _admin(platform):
    return user_auth_header(platform, "admin")


def _cut(app):
    result = app.test_cli_runner().invoke(args=["registry", "release", "cut", "--by", "admin"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _case(number):
    data = demo.load_cases()
    return next(c for c in data["cases"] if c["case"] == number), data


def _pseudonym(platform, number):
    return service.ingest_context(platform, platform.engine.connect()).pseudonymiser.pseudonym(
        "case", demo.case_id(number))


def test_a_release_cut_by_the_command_is_immutable_and_described(registry):
    platform, app, client = registry
    cut = _cut(app)
    assert cut["release"] == "r1v1" and cut["cases"] == 21
    listing = client.get("/api/v1/releases", headers=_admin(platform)).get_json()["releases"]
    assert [r["id"] for r in listing] == ["r1v1"]
    record = listing[0]
    assert record["codebook_version"] and record["cut_at"] and record["status"] == "published"
    names = {entry["file"] for entry in record["manifest"]}
    for table in ("cases", "measures", "assessments"):
        assert {f"{table}.{fmt}" for fmt in ("json", "csv", "parquet", "sav", "dta")} <= names
    assert {"codebook.json", "ddi.xml", "notes.json"} <= names
    for entry in record["manifest"]:
        response = client.get(f"/api/v1/releases/r1v1/files/{entry['file']}", headers=_researcher(platform))
        assert response.status_code == 200
        body = response.get_data()
        assert len(body) == entry["bytes"] and hashlib.sha256(body).hexdigest() == entry["sha256"]
        assert response.headers["X-Content-SHA256"] == entry["sha256"]
        if entry["file"].endswith(".json") and entry["rows"] is not None:
            assert len(json.loads(body)["rows"]) == entry["rows"]
    ddi = client.get("/api/v1/releases/r1v1/files/ddi.xml", headers=_researcher(platform)).get_data(as_text=True)
    xmlschema.XMLSchema(str(DDI_SCHEMA)).validate(ddi)
    assert "reasons__extra_follow_up" in ddi
    # The admin sees records, never files; researchers cannot cut.
    assert client.get("/api/v1/releases/r1v1/files/cases.csv", headers=_admin(platform)).status_code == 403
    assert client.post("/api/v1/releases", json={}, headers=_researcher(platform)).status_code == 403
    assert client.get("/api/v1/releases/r9v1", headers=_admin(platform)).status_code == 404
    assert client.get("/api/v1/releases/r1v1/files/nothing.csv", headers=_researcher(platform)).status_code == 404

    table = client.get("/api/v1/releases/r1v1/tables/4?by=county", headers=_researcher(platform)).get_json()
    case4, data = _case(4)
    payload = demo.closure_payload(case4, data["defaults"], version=2)
    payload.update(supersedes_version=1, attachment_before="permanent_employee")
    assert handlers.process(platform, make_envelope("case.corrected", case4["office"], payload,
                                                    producer="intake")) == "accepted"
    again = client.get("/api/v1/releases/r1v1/tables/4?by=county", headers=_researcher(platform)).get_json()
    assert again == table and table["release"] == "r1v1" and table["totals"]["total"] == 21
    cases = json.loads(client.get("/api/v1/releases/r1v1/files/cases.json",
                                  headers=_researcher(platform)).get_data())
    assert "permanent_employee" not in {r["attachment_before"] for r in cases["rows"]}  # it kept version 1


def test_the_next_release_lists_corrections_and_withdrawals_since_the_previous(registry):
    platform, app, client = registry
    _cut(app)
    case4, data = _case(4)
    payload = demo.closure_payload(case4, data["defaults"], version=2)
    payload["supersedes_version"] = 1
    handlers.process(platform, make_envelope("case.corrected", case4["office"], payload, producer="intake"))
    case6, _ = _case(6)
    marked = demo.consent_envelope("consent.withdrawn", case6["office"], demo.case_id(6),
                                   data_policy="research_exemption")
    assert handlers.process(platform, marked) == "marked"
    cut = _cut(app)
    assert cut["release"] == "r2v1"
    notes = client.get("/api/v1/releases/r2v1", headers=_admin(platform)).get_json()["notes"]
    assert notes["previous_release"] == "r1v1"
    assert {(e["case_pseudonym"], e["change"]) for e in notes["errata"]} == {
        (_pseudonym(platform, 4), "corrected"), (_pseudonym(platform, 6), "withdrawn_marked")}
    # The research exemption keeps the earlier release's files.
    assert client.get("/api/v1/releases/r1v1/files/cases.sav", headers=_researcher(platform)).status_code == 200


def test_an_erasure_deletes_the_files_and_the_recut_names_the_researchers_to_tell(registry):
    platform, app, client = registry
    _cut(app)
    assert client.get("/api/v1/releases/r1v1/files/cases.sav", headers=_researcher(platform)).status_code == 200
    case5, _ = _case(5)
    erased = _pseudonym(platform, 5)
    withdrawal = demo.consent_envelope("consent.withdrawn", case5["office"], demo.case_id(5), data_policy="erase")
    assert handlers.process(platform, withdrawal) == "erased"
    for name in ("cases.sav", "cases.json", "measures.parquet"):
        assert client.get(f"/api/v1/releases/r1v1/files/{name}", headers=_researcher(platform)).status_code == 410
    record = client.get("/api/v1/releases/r1v1", headers=_admin(platform)).get_json()
    assert record["status"] == "withdrawn" and record["manifest"]  # the record and manifest stay
    result = app.test_cli_runner().invoke(args=["registry", "release", "recut"])
    assert result.exit_code == 0, result.output
    done = json.loads(result.output)
    assert done == {"release": "r1v2", "recut_of": "r1v1", "tell": ["rune-forsker"]}
    new = client.get("/api/v1/releases/r1v2", headers=_admin(platform)).get_json()
    assert new["cursor"] == record["cursor"] and new["notes"]["cases"] == 20
    assert {"case_pseudonym": erased, "change": "withdrawn_erased", "seq": None} in new["notes"]["errata"]
    cases = client.get("/api/v1/releases/r1v2/files/cases.json", headers=_researcher(platform)).get_data(as_text=True)
    assert erased not in cases
    assert client.get("/api/v1/releases/r1v1", headers=_admin(platform)).get_json()["status"] == "superseded"
    assert client.get("/api/v1/releases/r1v1/tables/4", headers=_researcher(platform)).status_code == 410
    table = client.get("/api/v1/releases/r1v2/tables/outcome?by=county", headers=_researcher(platform)).get_json()
    assert table["totals"]["total"] == 20


def test_retention_removes_releases(registry):
    platform, app, client = registry
    _cut(app)
    platform.clock = FixedClock(datetime(2030, 1, 2, 12, 0, tzinfo=UTC))
    result = run_retention(platform, privacy.retention_steps, tables.privacy_log)
    assert result["removed"]["releases"] == 1 and result["removed"]["release_files"] >= 18
    assert client.get("/api/v1/releases", headers=_admin(platform)).get_json()["releases"] == []


def test_the_download_log_is_a_hash_chain_the_command_verifies(registry):
    platform, app, client = registry
    _cut(app)
    for name in ("cases.sav", "cases.dta", "measures.csv"):
        client.get(f"/api/v1/releases/r1v1/files/{name}", headers=_researcher(platform))
    log = client.get("/api/v1/downloads", headers=_admin(platform)).get_json()
    assert [(e["researcher"], e["file"]) for e in log["entries"]] == [
        ("rune-forsker", "cases.sav"), ("rune-forsker", "cases.dta"), ("rune-forsker", "measures.csv")]
    assert log["problems"] == [] and len({e["sha256"] for e in log["entries"]}) == 3
    assert client.get("/api/v1/downloads", headers=_researcher(platform)).status_code == 403
    verify = app.test_cli_runner().invoke(args=["registry", "downloads", "verify"])
    assert verify.exit_code == 0 and "3 entries" in verify.output
    with platform.engine.begin() as conn:
        conn.execute(update(tables.downloads).where(tables.downloads.c.seq == 2).values(researcher="someone-else"))
    verify = app.test_cli_runner().invoke(args=["registry", "downloads", "verify"])
    assert verify.exit_code == 1 and "entry 2: content does not match its hash (edited)" in verify.output
    assert client.get("/api/v1/downloads", headers=_admin(platform)).get_json()["problems"]
