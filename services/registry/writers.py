"""A release's tables written in every format researchers load directly: SPSS .sav and Stata .dta (pyreadstat:
variable labels and value labels from the one codebook), Parquet (the codebook in the file's metadata), CSV and
JSON. The layout (variables, codes, numbers) is domain.research_files'; this module only writes bytes."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyreadstat

FORMATS = ("json", "csv", "parquet", "sav", "dta")


def _labelled_frame(variables, data, stata=False):
    """Codes and flags as their numbers (missing: NaN), strings with '' for missing (neither format has a
    missing string); the column names Stata's where asked. `data`: {variable: [values]}."""
    columns = {}
    for variable in variables:
        values = data[variable.name]
        name = variable.stata_name if stata else variable.name
        if variable.kind in ("code", "flag"):
            columns[name] = pd.Series([variable.number(v) for v in values], dtype="float64")
        elif variable.kind == "integer":
            columns[name] = pd.Series(values, dtype="float64")
        else:
            columns[name] = pd.Series(["" if v is None else v for v in values], dtype="object")
    return pd.DataFrame(columns)


STATA_LABEL_BYTES = 80  # Stata's limit on a variable's and the file's label, in UTF-8 bytes


def fit(text: str, limit: int) -> str:
    """`text` cut to `limit` UTF-8 bytes without splitting a character."""
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def _labels(variables, lang, stata=False):
    names = {v.name: (v.stata_name if stata else v.name) for v in variables}
    column_labels = {names[v.name]: fit(v.label[lang], STATA_LABEL_BYTES) if stata else v.label[lang]
                     for v in variables}
    value_labels = {names[v.name]: {v.number(code): labels[lang] for code, labels in v.codes.items()}
                    for v in variables if v.codes}
    return column_labels, value_labels


def write_sav(path: Path, variables, data, lang, file_label):
    column_labels, value_labels = _labels(variables, lang)
    pyreadstat.write_sav(_labelled_frame(variables, data), str(path), file_label=file_label,
                         column_labels=column_labels, variable_value_labels=value_labels)


def write_dta(path: Path, variables, data, lang, file_label):
    column_labels, value_labels = _labels(variables, lang, stata=True)
    pyreadstat.write_dta(_labelled_frame(variables, data, stata=True), str(path),
                         file_label=fit(file_label, STATA_LABEL_BYTES), column_labels=column_labels,
                         variable_value_labels=value_labels)


def _arrow_type(variable):
    return {"flag": pa.int8(), "integer": pa.int64()}.get(variable.kind, pa.string())


def write_parquet(path: Path, variables, data, codebook: dict):
    """Codes as text, flags as 0/1; the release codebook in the schema's metadata (key `codebook`), each field's
    label in the field's metadata (`label_nb`, `label_en`)."""
    fields = [pa.field(v.name, _arrow_type(v), metadata={"label_nb": v.label["nb"], "label_en": v.label["en"]})
              for v in variables]
    arrays = []
    for variable in variables:
        values = data[variable.name]
        if variable.kind == "flag":
            values = [int(v) for v in values]
        arrays.append(pa.array(values, type=_arrow_type(variable)))
    schema = pa.schema(fields, metadata={"codebook": json.dumps(codebook, ensure_ascii=False)})
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), str(path))


def _rows(variables, data):
    return zip(*(data[v.name] for v in variables), strict=True)


def write_csv(path: Path, variables, data):
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([v.name for v in variables])
        for row in _rows(variables, data):
            writer.writerow(["" if value is None else value for value in row])


def write_json(path: Path, variables, data):
    """The release's reference: every other format loads back to these values (codes as text, flags "0"/"1").
    Written row by row: {"columns": [...], "rows": [{...}, ...]}."""
    names = [v.name for v in variables]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(json.dumps({"columns": names}, ensure_ascii=False)[:-1] + ', "rows": [')
        for number, row in enumerate(_rows(variables, data)):
            handle.write(("," if number else "") + json.dumps(dict(zip(names, row, strict=True)),
                                                               ensure_ascii=False))
        handle.write("]}")


def write_table(folder: Path, table: str, variables, data, codebook: dict, lang: str, file_label: str) -> list[Path]:
    """The table ({variable: [values]}) in every format; returns the files written."""
    paths = {fmt: folder / f"{table}.{fmt}" for fmt in FORMATS}
    write_json(paths["json"], variables, data)
    write_csv(paths["csv"], variables, data)
    write_parquet(paths["parquet"], variables, data, codebook)
    write_sav(paths["sav"], variables, data, lang, file_label)
    write_dta(paths["dta"], variables, data, lang, file_label)
    return list(paths.values())
