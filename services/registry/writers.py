"""A release's tables written in every format researchers load directly: SPSS .sav and Stata .dta (pyreadstat:
variable labels and value labels from the one codebook), Parquet (the codebook in the file's metadata), CSV and
JSON. The layout (variables, codes, numbers) is domain.research_files'; this module only writes bytes.

A table is fed in chunks ({variable: [values]}) and never held whole as Python objects: JSON and CSV are appended
to, Parquet gets a row group per chunk, and the .sav and .dta are written at the end from the Parquet file, column
by column into numbers (pyreadstat writes a whole data frame: of numbers and texts, about 100 MB for 100,000 cases,
instead of the Python objects of every row)."""
from __future__ import annotations

import csv
import ctypes
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc  # noqa: F401 (pa.ipc)
import pyarrow.parquet as pq
import pyreadstat

FORMATS = ("json", "csv", "parquet", "sav", "dta")
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


def _arrow_type(variable):
    return {"flag": pa.int8(), "integer": pa.int64()}.get(variable.kind, pa.string())


def _numbers(variable, column) -> pd.Series:
    """A Parquet column as SPSS/Stata numbers: a code as its place in the vocabulary (from 1), flags and integers
    as they are, missing as NaN."""
    if variable.kind == "code":
        places = pc.index_in(column, value_set=pa.array(list(variable.codes), pa.string()))
        if places.null_count != column.null_count:
            unknown = pc.filter(column, pc.and_(pc.is_null(places), pc.is_valid(column)))[0].as_py()
            raise ValueError(f"{variable.name}: {unknown!r} is no code of its vocabulary")
        column = pc.add(places, 1)
    if variable.kind in ("flag", "code") and not column.null_count and len(variable.codes) < 100:
        # A flag or code none of whose values is missing in this release: its number in a byte (most of the cases
        # table's columns; a quarter of a float32's memory at the cut's peak, a Stata byte instead of a float).
        return pd.Series(column.cast(pa.int8()).to_numpy(zero_copy_only=False), dtype="int8")
    # Codes and flags are small whole numbers, exact in 32 bits (half the memory of the frame pyreadstat needs);
    # integers (counts, cursors) stay 64-bit.
    dtype = "float64" if variable.kind == "integer" else "float32"
    return pd.Series(column.cast(pa.float64()).to_numpy(), dtype=dtype)


def give_back_memory():
    """What Python and Arrow freed handed back to the system (glibc keeps freed small blocks in its arenas): the
    k-anonymity plan's and the chunks' objects are gone before the .sav/.dta frames, the cut's peak, are built."""
    pa.default_memory_pool().release_unused()
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to trim
        return
    trim = getattr(libc, "malloc_trim", None)
    if trim is not None:
        trim(0)


def _labelled_frame(variables, source: Path, stata=False) -> pd.DataFrame:
    """The Parquet file read a column at a time: codes and flags as their numbers (missing: NaN), strings with ''
    for missing (neither format has a missing string); the column names Stata's where asked."""
    # Without pre-buffering (it caches whole row groups for every column read) and threads: a column at a time is
    # what is wanted here, and the buffers held up the peak by about a third of the frame's size.
    parquet = pq.ParquetFile(str(source), pre_buffer=False)
    # Each column its own block: a frame made from a dict copies same-typed columns into one block (the frame once
    # more, at the peak), and pyreadstat reads the frame column by column anyway.
    columns = pd.DataFrame(index=pd.RangeIndex(parquet.metadata.num_rows))
    for variable in variables:
        column = parquet.read(columns=[variable.name], use_threads=False).column(0)
        name = variable.stata_name if stata else variable.name
        if variable.kind in ("code", "flag", "integer"):
            columns[name] = _numbers(variable, column)
        else:
            columns[name] = _strings(column)
        del column
        pa.default_memory_pool().release_unused()  # Arrow's pool keeps what it freed unless told
    return columns


def _strings(column) -> pd.Categorical:
    """A Parquet string column ('' for missing) as a categorical: a number per row and each distinct value once (a
    pseudonym of the counsellor or a period repeats over thousands of rows). pyreadstat reads a categorical as a
    list of Python strings at once, where pandas 3's Arrow-backed strings are read a value at a time (a third of
    the .sav's and .dta's time), and Python strings per row would hold more memory."""
    encoded = pc.fill_null(column, "").combine_chunks().dictionary_encode()
    words = np.empty(len(encoded.dictionary), dtype=object)
    words[:] = encoded.dictionary.to_pylist()
    return pd.Categorical.from_codes(encoded.indices.to_numpy(zero_copy_only=False),
                                     categories=pd.Index(words, dtype=object))


def _rows(variables, data):
    return zip(*(data[v.name] for v in variables), strict=True)


class TableWriter:
    """One release table in the given formats, fed chunk by chunk; `close` finishes every file and returns them."""

    def __init__(self, folder: Path, table: str, variables, codebook: dict, lang: str, file_label: str,
                 formats=FORMATS):
        self.variables, self.lang, self.file_label, self.formats = variables, lang, file_label, tuple(formats)
        self.paths = {fmt: folder / f"{table}.{fmt}" for fmt in self.formats}
        self.rows = 0
        self._names = [v.name for v in variables]
        self._json = self._csv = self._parquet = None
        if "json" in self.formats:
            # The release's reference: every other format loads back to these values (codes as text, flags
            # "0"/"1"): {"columns": [...], "rows": [{...}, ...]}.
            self._json = open(self.paths["json"], "w", encoding="utf-8")  # noqa: SIM115 (closed in close())
            self._json.write(json.dumps({"columns": self._names}, ensure_ascii=False)[:-1] + ', "rows": [')
            self._json_template = "{" + ", ".join(json.dumps(name, ensure_ascii=False).replace("%", "%%") + ": %s"
                                                  for name in self._names) + "}"
        if "csv" in self.formats:
            self._csv_file = open(self.paths["csv"], "w", encoding="utf-8", newline="")  # noqa: SIM115
            self._csv = csv.writer(self._csv_file, lineterminator="\n")
            self._csv.writerow(self._names)
        if {"parquet", "sav", "dta"} & set(self.formats):
            # Codes as text, flags as 0/1; the release codebook in the schema's metadata (key `codebook`), each
            # field's label in the field's metadata (`label_nb`, `label_en`). Without .parquet among the formats it
            # is only the source of the .sav and .dta, and deleted.
            self._parquet_path = self.paths.get("parquet", folder / f".{table}.source.parquet")
            fields = [pa.field(v.name, _arrow_type(v), metadata={"label_nb": v.label["nb"], "label_en": v.label["en"]})
                      for v in variables]
            self._schema = pa.schema(fields, metadata={"codebook": json.dumps(codebook, ensure_ascii=False)})
            self._parquet = pq.ParquetWriter(str(self._parquet_path), self._schema)

    def append(self, data: dict):
        """A chunk of rows, column by column: {variable: [values]}."""
        count = len(data[self._names[0]]) if self._names else 0
        if not count:
            return
        if self._json is not None:
            # The text json.dumps gives the list of row objects, made a column at a time: each distinct value of
            # a column encoded once, each row filled into the object's template (a dict per row and json.dumps of
            # them took longer than every other format).
            encoded = []
            for variable in self.variables:
                known = {}
                encoded.append([known[value] if value in known else
                                known.setdefault(value, json.dumps(value, ensure_ascii=False))
                                for value in data[variable.name]])
            template = self._json_template
            text = ", ".join(template % row for row in zip(*encoded, strict=True))
            self._json.write((", " if self.rows else "") + text)
        if self._csv is not None:
            self._csv.writerows(_rows(self.variables, data))  # None is written as an empty field
        if self._parquet is not None:
            arrays = []
            for variable in self.variables:
                values = data[variable.name]
                if variable.kind == "flag":  # "0"/"1" as 0/1, converted by Arrow rather than a value at a time
                    arrays.append(pa.array(values, type=pa.string()).cast(pa.int8()))
                else:
                    arrays.append(pa.array(values, type=_arrow_type(variable)))
            self._parquet.write_table(pa.Table.from_arrays(arrays, schema=self._schema))
        self.rows += count

    def close(self) -> list[Path]:
        if self._json is not None:
            self._json.write("]}")
            self._json.close()
        if self._csv is not None:
            self._csv_file.close()
        if self._parquet is not None:
            self._parquet.close()
            for fmt in ("sav", "dta"):
                if fmt in self.formats:
                    self._write_labelled(fmt)
            if "parquet" not in self.formats:
                self._parquet_path.unlink()
        return list(self.paths.values())

    def _write_labelled(self, fmt):
        stata = fmt == "dta"
        column_labels, value_labels = _labels(self.variables, self.lang, stata=stata)
        give_back_memory()
        frame = _labelled_frame(self.variables, self._parquet_path, stata=stata)
        pa.default_memory_pool().release_unused()  # Arrow's pool keeps what it freed unless told
        if stata:
            pyreadstat.write_dta(frame, str(self.paths[fmt]), file_label=fit(self.file_label, STATA_LABEL_BYTES),
                                 column_labels=column_labels, variable_value_labels=value_labels)
        else:
            pyreadstat.write_sav(frame, str(self.paths[fmt]), file_label=self.file_label,
                                 column_labels=column_labels, variable_value_labels=value_labels)


class RowSpill:
    """The release's rows read once from the database and kept for a second pass in a local Arrow IPC file (lz4),
    a chunk ({column: [text or None]}) at a time: the k-anonymity plan needs every row before the first file is
    written, and reading the rows' JSON twice in the database took longer than writing and reading them here."""

    def __init__(self, path: Path, names):
        self.path, self.names = path, list(names)
        self._schema = pa.schema([pa.field(name, pa.string()) for name in self.names])
        self._writer = pa.ipc.new_file(str(path), self._schema,
                                       options=pa.ipc.IpcWriteOptions(compression="lz4"))

    def append(self, data: dict):
        self._writer.write_batch(pa.record_batch([pa.array(data[name], pa.string()) for name in self.names],
                                                 schema=self._schema))

    def chunks(self):
        """Every chunk again, in the order appended; the file is deleted after the last."""
        self._writer.close()
        with pa.OSFile(str(self.path)) as source:  # not mapped: pages of a mapped file count in the RSS
            reader = pa.ipc.open_file(source)
            for index in range(reader.num_record_batches):
                batch = reader.get_batch(index)
                yield {name: batch.column(position).to_pylist() for position, name in enumerate(self.names)}
                del batch
        self.path.unlink()


def write_table(folder: Path, table: str, variables, data, codebook: dict, lang: str, file_label: str) -> list[Path]:
    """A whole table ({variable: [values]}) in every format at once; returns the files written."""
    writer = TableWriter(folder, table, variables, codebook, lang, file_label)
    writer.append(data)
    return writer.close()
