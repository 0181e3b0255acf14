"""Files researchers load directly (issue #18 point 1), on both databases: a release cut from synthetic closures
entered through the ingest, each of its tables (cases, measures, assessments) loaded back from SPSS .sav and Stata
.dta (pyreadstat), Parquet (pyarrow) and CSV gives exactly the values and labels of the release's JSON and
codebook; multi-select answers are one 0/1 column per code, measures a long table keyed by the case pseudonym,
dates the configured coarsening; the live export keeps its columns."""
from __future__ import annotations

import csv
import io
import json
import math
import re

import pyarrow.parquet as pq
import pyreadstat
import pytest

from services.registry import demo, service, tables
from services.registry.domain.codebook import EXPORT_COLUMNS
from services.registry.domain.research_files import STATA_NAME_MAX
from services.registry.writers import STATA_LABEL_BYTES, fit

SECRET = "files-test-secret-" + "f" * 40
TABLES = ("cases", "measures", "assessments")
PERIOD_IN_FILES = {"month": r"\d{4}-\d{2}", "quarter": r"\d{4}-Q[1-4]", "year": r"\d{4}"}


@pytest.fixture
def release(platform_factory, db_url, monkeypatch, tmp_path):
    monkeypatch.setenv("REGISTRY_PSEUDONYM_SECRET", SECRET)
    platform = platform_factory("registry", tables.all_tables(), db_url)
    demo.seed(platform)
    demo.seed_cohort(platform, 60)
    monkeypatch.delenv("REGISTRY_PSEUDONYM_SECRET")
    record = service.cut_release(platform, "admin")

    def read(name):
        path = tmp_path / name
        path.write_bytes(service.download(platform, record["id"], name, "rune-forsker"))
        return path
    book = json.loads(read("codebook.json").read_text(encoding="utf-8"))
    return platform, record, read, book


def _reference(read, table):
    return json.loads(read(f"{table}.json").read_text(encoding="utf-8"))


def _variables(book, table):
    return {v["name"]: v for v in book["tables"][table]}


def _from_number(variable, number):
    """A labelled number back to its code, through the release codebook."""
    if number is None or (isinstance(number, float) and math.isnan(number)):
        return None
    if variable["kind"] == "flag":
        return str(int(number))
    return next(c["code"] for c in variable["codes"] if c["value"] == int(number))


def _check_labelled(book, table, reference, frame, meta, stata):
    variables = _variables(book, table)
    name_of = {name: (v["stata_name"] if stata else name) for name, v in variables.items()}
    assert list(frame.columns) == [name_of[c] for c in reference["columns"]]
    labels = meta.column_names_to_labels
    for name, variable in variables.items():
        assert labels[name_of[name]] == (fit(variable["label"]["nb"], STATA_LABEL_BYTES) if stata
                                         else variable["label"]["nb"])
        if "codes" in variable:
            value_labels = meta.variable_value_labels[name_of[name]]
            assert value_labels == {float(c["value"]) if isinstance(next(iter(value_labels)), float) else c["value"]:
                                    c["nb"] for c in variable["codes"]}
    assert len(frame) == len(reference["rows"])
    for position, expected in enumerate(reference["rows"]):
        for name, variable in variables.items():
            value = frame[name_of[name]].iloc[position]
            if variable["kind"] in ("code", "flag"):
                loaded = _from_number(variable, value)
            elif variable["kind"] == "integer":
                loaded = None if math.isnan(value) else int(value)
            else:  # SPSS and Stata have no missing text: empty
                loaded = value or None
            assert loaded == expected[name], (table, name, position)


@pytest.mark.parametrize("fmt", ["sav", "dta"])
def test_spss_and_stata_files_load_back_with_the_codebooks_values_and_labels(release, fmt):
    _platform, _record, read, book = release
    for table in TABLES:
        reader = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
        frame, meta = reader(str(read(f"{table}.{fmt}")))
        _check_labelled(book, table, _reference(read, table), frame, meta, stata=fmt == "dta")
    assert all(len(v["stata_name"]) <= STATA_NAME_MAX for t in TABLES for v in book["tables"][t])


def test_parquet_loads_back_with_the_codebook_in_its_metadata(release):
    _platform, _record, read, book = release
    for table in TABLES:
        reference = _reference(read, table)
        parquet = pq.read_table(read(f"{table}.parquet"))
        assert json.loads(parquet.schema.metadata[b"codebook"]) == book
        assert parquet.column_names == reference["columns"]
        variables = _variables(book, table)
        for name in parquet.column_names:
            assert parquet.schema.field(name).metadata[b"label_nb"].decode() == variables[name]["label"]["nb"]
        loaded = parquet.to_pylist()
        expected = [{k: (str(v) if variables[k]["kind"] == "flag" else v) for k, v in row.items()}
                    for row in loaded]
        assert expected == reference["rows"]


def test_csv_loads_back_to_the_json(release):
    _platform, _record, read, book = release
    for table in TABLES:
        reference = _reference(read, table)
        with open(read(f"{table}.csv"), encoding="utf-8", newline="") as handle:
            text = handle.read()
        assert next(csv.reader(io.StringIO(text))) == reference["columns"]
        rows = list(csv.DictReader(io.StringIO(text)))
        assert rows == [{k: "" if v is None else str(v) for k, v in row.items()} for row in reference["rows"]]


def test_multi_select_as_flags_measures_long_and_periods_coarsened(release):
    platform, record, read, book = release
    cases = _reference(read, "cases")
    assert "reasons" not in cases["columns"] and "measures" not in cases["columns"]
    assert "reasons__extra_follow_up" in cases["columns"] and "contact_forms__phone" in cases["columns"]
    assert len(cases["rows"]) == 81
    export = {r["case_pseudonym"]: r for r in service.table1(platform)["rows"]}
    for row in cases["rows"]:
        reasons = set(export[row["case_pseudonym"]]["reasons"].split(";"))
        for column in cases["columns"]:
            if column.startswith("reasons__"):
                assert row[column] == ("1" if column.removeprefix("reasons__") in reasons else "0")
        # The project's month coarsening, or coarser where k-anonymity needed it (the codebook says which).
        assert row["closed_period"] is None or re.fullmatch(PERIOD_IN_FILES[book["periods_in_files"]],
                                                            row["closed_period"])
    measures = _reference(read, "measures")
    assert measures["columns"] == ["case_pseudonym", "measure", "from_period", "to_period"]
    assert {m["case_pseudonym"] for m in measures["rows"]} <= {r["case_pseudonym"] for r in cases["rows"]}
    assert any(m["to_period"] is None for m in measures["rows"])  # an ongoing measure
    assert record["manifest"][0]["rows"] == 81


def test_the_live_export_keeps_its_columns(release):
    platform, _record, _read, _book = release
    with platform.engine.connect():
        text = b"".join(service.stream_csv(platform, 0, service.newest_change(platform))).decode("utf-8")
    assert tuple(next(csv.reader(io.StringIO(text)))) == EXPORT_COLUMNS
