"""Researchers' API on both databases, served by an app that never holds the pseudonym secret: exports (CSV and
JSON, incremental), change feed, codebook, table 1 and the suppressed distribution tables; every other role 403."""
from __future__ import annotations

import csv
import io
import json
import re

import pytest
from stdnum.no import fodselsnummer

from services.registry import demo, handlers, service, tables
from services.registry.app import create_app
from services.registry.domain.codebook import EXPORT_COLUMNS
from shared.auth import mint_token
from shared.vocab import VOCABULARIES
from tests.fixtures.tokens import auth_header

SECRET = "api-test-secret-" + "z" * 40


@pytest.fixture
def seeded(platform_factory, db_url, monkeypatch):
    monkeypatch.setenv("REGISTRY_PSEUDONYM_SECRET", SECRET)
    platform = platform_factory("registry", tables.all_tables(), db_url)
    demo.seed(platform)
    # From here on the secret is gone, and any attempt to read one fails the test.
    monkeypatch.delenv("REGISTRY_PSEUDONYM_SECRET")

    def forbidden(*_a, **_k):
        raise AssertionError("the web app tried to read the pseudonym secret")
    monkeypatch.setattr(service, "read_secret", forbidden)
    app = create_app(platform=platform)
    return platform, app.test_client()


def _auth(platform, role="researcher", subject="rune-forsker", office=None):
    county = "agder" if role == "county_contact" else None
    return auth_header(mint_token(platform.settings, subject=subject, role=role, name="Test", office=office,
                                  county=county))


def _assert_no_national_id(text):
    for token in re.split(r"[^0-9A-Za-z]+", text):
        assert not fodselsnummer.is_valid(token), f"export has a string that passes the fnr checksum: {token}"
    for run in re.findall(r"\d{11}", text):
        assert not fodselsnummer.is_valid(run)


ENDPOINTS = ["/api/v1/exports/closures.csv", "/api/v1/exports/closures.json", "/api/v1/changes", "/api/v1/codebook",
             "/api/v1/tables/1", "/api/v1/tables/7", "/"]


@pytest.mark.parametrize("role,subject,office", [("counsellor", "kari-veileder", "kristiansand"),
                                                 ("local_contact", "lise-kontakt", "kristiansand"),
                                                 ("county_contact", "tone-fylke", None), ("admin", "admin", None)])
def test_only_researchers_get_in(seeded, role, subject, office):
    platform, client = seeded
    for path in ENDPOINTS:
        response = client.get(path, headers=_auth(platform, role, subject, office) | {"Accept": "application/json"})
        assert response.status_code == 403, path
    assert client.get("/api/v1/exports/closures.csv").status_code == 401


def test_csv_export_one_row_per_case_no_ids_and_incremental_cursor(seeded):
    platform, client = seeded
    response = client.get("/api/v1/exports/closures.csv", headers=_auth(platform))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 21 and tuple(rows[0]) == EXPORT_COLUMNS
    assert {r["mentor_measure_used"] for r in rows} == {"true"}
    assert sorted(r["outcome_summary"] for r in rows).count("same_company") == 12
    _assert_no_national_id(text)
    assert SECRET not in text
    cursor = int(response.headers["X-Registry-Cursor"])
    again = client.get(f"/api/v1/exports/closures.csv?after={cursor}", headers=_auth(platform))
    assert list(csv.DictReader(io.StringIO(again.get_data(as_text=True)))) == []
    bad = client.get("/api/v1/exports/closures.csv?after=-1", headers=_auth(platform))
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"after"}
    unknown = client.get("/api/v1/exports/closures.csv?name=x", headers=_auth(platform))
    assert unknown.status_code == 422 and set(unknown.get_json()["errors"]) == {"name"}


def test_json_export_matches_csv_and_carries_the_cursor(seeded):
    platform, client = seeded
    body = client.get("/api/v1/exports/closures.json", headers=_auth(platform)).get_data(as_text=True)
    document = json.loads(body)
    assert document["after"] == 0 and document["next_cursor"] >= 21
    assert len(document["rows"]) == 21 and set(document["rows"][0]) == set(EXPORT_COLUMNS)
    assert document["rows"][0]["mentor_measure_used"] in ("true", "false")
    _assert_no_national_id(body)


def test_incremental_pull_reports_corrections_and_withdrawals(seeded, monkeypatch):
    platform, client = seeded
    cursor = int(client.get("/api/v1/exports/closures.csv", headers=_auth(platform)).headers["X-Registry-Cursor"])
    monkeypatch.undo()  # the ingest (not the web app) gets its secret back
    monkeypatch.setenv("REGISTRY_PSEUDONYM_SECRET", SECRET)
    data = demo.load_cases()
    case4, case5 = (next(c for c in data["cases"] if c["case"] == n) for n in (4, 5))
    from shared.bus.envelope import make_envelope
    payload = demo.closure_payload(case4, data["defaults"], version=2)
    payload.update(supersedes_version=1, attachment_after="permanent_with_wage_subsidy")
    corrected = make_envelope("case.corrected", case4["office"], payload, producer="intake")
    assert handlers.process(platform, corrected) == "accepted"
    withdrawal = demo.consent_envelope("consent.withdrawn", case5["office"], demo.case_id(5), data_policy="erase")
    assert handlers.process(platform, withdrawal) == "erased"
    feed = client.get(f"/api/v1/changes?after={cursor}", headers=_auth(platform)).get_json()
    assert [c["change"] for c in feed["changes"]] == ["corrected", "withdrawn_erased"]
    delta = list(csv.DictReader(io.StringIO(client.get(f"/api/v1/exports/closures.csv?after={cursor}",
                                                       headers=_auth(platform)).get_data(as_text=True))))
    assert [(r["version"], r["attachment_after"]) for r in delta] == [("2", "permanent_with_wage_subsidy")]
    assert feed["changes"][0]["case_pseudonym"] == delta[0]["case_pseudonym"]
    everything = client.get("/api/v1/exports/closures.csv", headers=_auth(platform)).get_data(as_text=True)
    assert feed["changes"][1]["case_pseudonym"] not in everything


def test_codebook_covers_every_column_with_nb_and_en(seeded):
    platform, client = seeded
    book = client.get("/api/v1/codebook", headers=_auth(platform)).get_json()
    assert [c["name"] for c in book["columns"]] == list(EXPORT_COLUMNS)
    for column in book["columns"]:
        assert column["description"]["nb"] and column["description"]["en"]
        if column.get("vocabulary") in VOCABULARIES:
            assert [c["code"] for c in column["codes"]] == list(VOCABULARIES[column["vocabulary"]])
            assert all(c["nb"] and c["en"] for c in column["codes"])
    offices = next(c for c in book["columns"] if c["name"] == "office")
    assert "drammen" not in {c["code"] for c in offices["codes"]}
    assert book["small_count_threshold"] == 5


def test_table1_one_row_per_case_and_distributions_suppressed(seeded):
    platform, client = seeded
    table1 = client.get("/api/v1/tables/1", headers=_auth(platform)).get_json()
    assert len(table1["rows"]) == 21 and "n" not in table1["columns"]
    for table_id in ("3", "4", "5", "6", "7", "outcome"):
        for by in ("office", "county", "period"):
            table = client.get(f"/api/v1/tables/{table_id}?by={by}", headers=_auth(platform)).get_json()
            values = [v for row in table["rows"] for v in row["cells"] + [row["total"]] + row.get("party_totals", [])]
            values += table["totals"]["cells"] + [table["totals"]["total"]] + table["totals"].get("party_totals", [])
            assert all(v is None or v == 0 or v >= 5 for v in values), (table_id, by, values)
    # Table 5 as the report has it: frequency, intensity and contact forms, a column each for candidate and mentor
    table5 = client.get("/api/v1/tables/5?by=county", headers=_auth(platform)).get_json()
    assert [p["label"]["nb"] for p in table5["parties"]] == ["Bruker", "Mentor"]
    assert [c["party"] for c in table5["columns"]] == ["candidate", "mentor"] * (len(table5["columns"]) // 2)
    assert [r["group"] for r in table5["rows"]] == ["frequency"] * 8 + ["intensity"] * 5 + ["forms"] * 5
    assert table5["totals"]["party_totals"] == [21, 21]
    # the report's cases have no contact log: frequency as in table 1, intensity "no contact", no forms
    assert next(r for r in table5["rows"] if r["code"] == "no_contact")["party_totals"] == [21, 21]
    assert all(r["party_totals"] == [0, 0] for r in table5["rows"] if r["group"] == "forms")
    outcome = client.get("/api/v1/tables/outcome?by=county", headers=_auth(platform)).get_json()
    assert outcome["totals"]["total"] == 21
    same = next(r for r in outcome["rows"] if r["code"] == "same_company")
    assert same["total"] == 12
    csv_text = client.get("/api/v1/tables/7?by=office&format=csv", headers=_auth(platform)).get_data(as_text=True)
    assert ":" in csv_text
    assert client.get("/api/v1/tables/9", headers=_auth(platform)).status_code == 404
    assert client.get("/api/v1/tables/7?by=person", headers=_auth(platform)).status_code == 422


def test_pages_render_charts_in_norwegian_without_inline_script(seeded):
    platform, client = seeded
    page = client.get("/", headers=_auth(platform)).get_data(as_text=True)
    assert "Forskningsdata" in page and page.count('<figure class="chart"') == 3
    scripts = re.findall(r"<script[^>]*>", page)
    assert scripts and all(re.fullmatch(r'<script src="/[^"]+" defer>', tag) for tag in scripts), scripts  # none inline
    assert "style=" not in page
    for path in ("/tabeller/1", "/tabeller/5?by=county", "/kodebok"):
        assert client.get(path, headers=_auth(platform)).status_code == 200
