"""A release's tables made a column at a time (the cut's fast path: anonymity.apply_columns and
research_files.chunk_columns) hold exactly what the row-at-a-time rules give (anonymity.apply and
research_files.columns), chunk boundaries anywhere, with the k-anonymity plan recoding and blanking."""
from __future__ import annotations

import json

import pytest

from services.registry import demo
from services.registry.domain import anonymity, codebook, records, research_files
from services.registry.domain.codebook import EXPORT_COLUMNS
from services.registry.domain.pseudonyms import Pseudonymiser
from services.registry.writers import TableWriter
from shared import directory as directory_module


def _export_rows(count):
    """Synthetic closures as the release keeps them (the export's columns, the flag as text)."""
    directory = directory_module.read_directory_file()
    offices = {o["code"]: o for o in directory["offices"]}
    pseudonymiser = Pseudonymiser("hybrid-2022", b"columns-test-secret-" + b"c" * 40)
    rows = []
    for seq, (office, payload) in enumerate(demo.synthetic_payloads(count, seed=3), 1):
        row = records.to_row(payload, "case.closed", offices[office], pseudonymiser, "month")
        row.update(status="active", change_seq=seq,
                   mentor_measure_used="true" if row["mentor_measure_used"] else "false")
        rows.append({name: row[name] for name in EXPORT_COLUMNS})
    places = codebook.place_vocabularies(directory["offices"], directory["counties"])
    return rows, research_files.layout(places)


# k = 5: the periods recoded to years; k = 40: months kept, periods blanked (their measures' periods too).
@pytest.mark.parametrize(("k", "periods"), [(5, "year"), (40, "month")])
def test_column_at_a_time_gives_the_rows_the_row_at_a_time_rules_give(k, periods):
    rows, layout = _export_rows(300)
    for row in rows[::7]:  # a closure from before the per-party forms: not known, its flags missing
        row["forms_candidate"] = None
    quasi = [tuple(row[name] for name in anonymity.QUASI_IDENTIFIERS) for row in rows]
    by_row, by_column = anonymity.plan(quasi, k, "month"), anonymity.plan(quasi, k, "month")
    assert any(by_row.blanks) and by_row.granularity == periods
    expected = research_files.columns([anonymity.apply(by_row, n, row, {}) for n, row in enumerate(rows)], layout)
    got = {table: {name: [] for name in columns} for table, columns in expected.items()}
    cache = {}
    for start in range(0, len(rows), 71):
        chunk = rows[start:start + 71]
        data = anonymity.apply_columns(by_column, start, {name: [r[name] for r in chunk] for name in EXPORT_COLUMNS},
                                       cache)
        for table, columns in research_files.chunk_columns(data, layout).items():
            assert list(columns) == list(got[table])
            for name, values in columns.items():
                got[table][name] += values
    assert got == expected
    assert by_column.report == by_row.report
    assert (by_row.report["measure_periods_suppressed"] > 0) == (periods == "month")


def test_the_json_file_is_the_json_of_its_rows(tmp_path):
    """The JSON writer fills a template per row: the same text json.dumps gives, chunk after chunk."""
    rows, layout = _export_rows(40)
    tables = research_files.columns(rows, layout)
    writer = TableWriter(tmp_path, "cases", layout["cases"], {}, "nb", "t", formats=("json",))
    names = [v.name for v in layout["cases"]]
    for start in range(0, 40, 15):
        writer.append({name: tables["cases"][name][start:start + 15] for name in names})
    writer.close()
    text = (tmp_path / "cases.json").read_text(encoding="utf-8")
    expected = [dict(zip(names, row, strict=True)) for row in zip(*(tables["cases"][n] for n in names), strict=True)]
    assert json.loads(text) == {"columns": names, "rows": expected}
    assert text == json.dumps({"columns": names, "rows": expected}, ensure_ascii=False)
