"""k-anonymity of a release's row-level files (issue #18 point 4), on both databases: the report's 21 cases and a
synthetic cohort entered through the ingest (each with its own employer and mentor, so the raw rows are far from
k-anonymous), cut into a release; in every file of the cases table, loaded back as a researcher would (.json, .csv,
.parquet, .sav, .dta), no combination of the quasi-identifiers occurs fewer than k times, the release notes count
exactly the values the files have recoded and blanked, and the measures of a case with blanked periods have none.
k is the project's setting: a larger k gives larger groups."""
from __future__ import annotations

import csv
import json
import math
from collections import Counter

import pyarrow.parquet as pq
import pyreadstat
import pytest
from sqlalchemy import select, update

from services.registry import demo, service, store, tables
from services.registry.domain import anonymity
from services.registry.domain.anonymity import QUASI_IDENTIFIERS

SECRET = "k-anonymity-test-secret-" + "k" * 40
FORMATS = ("json", "csv", "parquet", "sav", "dta")


@pytest.fixture
def registry(platform_factory, db_url, monkeypatch):
    monkeypatch.setenv("REGISTRY_PSEUDONYM_SECRET", SECRET)
    platform = platform_factory("registry", tables.all_tables(), db_url)
    demo.seed(platform)
    demo.seed_cohort(platform, 90)
    monkeypatch.delenv("REGISTRY_PSEUDONYM_SECRET")
    return platform


def _set_k(platform, k):
    project = platform.tables["project"]
    with platform.engine.begin() as conn:
        settings = conn.execute(select(project.c.settings)).scalar_one()
        conn.execute(update(project).values(settings={**settings, "k_anonymity": k}))


def _loaded(platform, tmp_path, release, fmt, book):
    """The cases file's rows as {variable: value}, codes as codes, blanks as None, whatever the format."""
    path = tmp_path / f"{release}-cases.{fmt}"
    path.write_bytes(service.download(platform, release, f"cases.{fmt}", "rune-forsker"))
    variables = {v["name"]: v for v in book["tables"]["cases"]}
    if fmt == "json":
        return json.loads(path.read_text(encoding="utf-8"))["rows"]
    if fmt == "csv":
        with open(path, encoding="utf-8", newline="") as handle:
            return [{k: v or None for k, v in row.items()} for row in csv.DictReader(handle)]
    if fmt == "parquet":
        return pq.read_table(path).to_pylist()
    frame, _meta = (pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta)(str(path))
    rows = []
    for record in frame.to_dict("records"):
        row = {}
        for name, variable in variables.items():
            value = record[variable["stata_name"] if fmt == "dta" else name]
            if "codes" in variable and variable["kind"] == "code":
                value = None if math.isnan(value) else next(c["code"] for c in variable["codes"]
                                                            if c["value"] == int(value))
            elif variable["kind"] == "string":
                value = value or None
            row[name] = value
        rows.append(row)
    return rows


def _combinations(rows):
    return [tuple(row[name] for name in QUASI_IDENTIFIERS) for row in rows]


def _raw(platform, number):
    with platform.engine.connect() as conn:
        return store.release_rows_of(conn, number)


def _check_release(platform, tmp_path, release, k):
    record = service.get_release(platform, release)
    report = record["notes"]["k_anonymity"]
    book = json.loads(service.download(platform, release, "codebook.json", "rune-forsker"))
    assert report["k"] == k and report["reached"] and report["smallest_group"] >= k
    raw = _raw(platform, record["number"])
    assert anonymity.check(_combinations(raw), k)  # the rows as stored did need it
    files = {fmt: _loaded(platform, tmp_path, release, fmt, book) for fmt in FORMATS}
    for fmt, rows in files.items():
        assert len(rows) == len(raw), fmt
        counts = Counter(_combinations(rows))
        assert min(counts.values()) >= k, (fmt, min(counts.values()))
        assert _combinations(rows) == _combinations(files["json"]), fmt
    # The notes count what the files show: blanked where the stored row had a value, recoded where it differs.
    released = files["json"]
    assert [r["case_pseudonym"] for r in released] == [r["case_pseudonym"] for r in raw]
    for name in QUASI_IDENTIFIERS:
        blanked = sum(1 for before, after in zip(raw, released, strict=True)
                      if before[name] is not None and after[name] is None)
        assert report["suppressed"][name] == blanked, name
    for name in ("opened_period", "closed_period"):
        changed = sum(1 for before, after in zip(raw, released, strict=True)
                      if after[name] is not None and after[name] != before[name])
        assert report["recoded"][name] == changed, name
    # A case whose periods were blanked keeps its measures, without their periods.
    measures = json.loads(service.download(platform, release, "measures.json", "rune-forsker"))["rows"]
    hidden = {r["case_pseudonym"] for r in released if r["opened_period"] is None or r["closed_period"] is None}
    assert sum(1 for m in measures if m["case_pseudonym"] in hidden) == report["measure_periods_suppressed"]
    for measure in measures:
        if measure["case_pseudonym"] in hidden:
            assert measure["from_period"] is None and measure["to_period"] is None
    return report, released


def test_no_combination_of_quasi_identifiers_in_any_file_occurs_fewer_than_k_times(registry, tmp_path):
    platform = registry
    first = service.cut_release(platform, "admin")
    report, released = _check_release(platform, tmp_path, first["id"], 5)
    assert sum(report["suppressed"].values()) > 0
    # Not everything went: most cases keep their office, and every case its pseudonym and its codes.
    assert sum(1 for r in released if r["office"] is not None) > len(released) / 2
    assert all(r["case_pseudonym"] and r["outcome_summary"] for r in released)

    _set_k(platform, 15)
    second = service.cut_release(platform, "admin")
    larger, _released = _check_release(platform, tmp_path, second["id"], 15)
    assert sum(larger["suppressed"].values()) > sum(report["suppressed"].values())
