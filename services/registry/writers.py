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
import re
from json.encoder import encode_basestring
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
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


def _json_text(value) -> str:
    """The text json.dumps(value, ensure_ascii=False) gives, a text straight through json's C escaping."""
    if isinstance(value, str):
        return encode_basestring(value)
    if value is None:
        return "null"
    return json.dumps(value)


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
            self._json = open(self.paths["json"], "wb")  # noqa: SIM115 (closed in close()); UTF-8 written as bytes
            self._json.write((json.dumps({"columns": self._names}, ensure_ascii=False)[:-1] + ', "rows": [')
                             .encode("utf-8"))
            # What comes before each value in a row's text: ', {"name": ', ', "next": ', ... and the closing '}'.
            self._json_parts = [pa.scalar((", {" if position == 0 else ", ") + json.dumps(name, ensure_ascii=False)
                                          + ": ") for position, name in enumerate(self._names)]
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
            # a column encoded once, the rows' texts joined by Arrow (a dict per row and json.dumps of them, then a
            # Python template per row, took longer than every other format).
            arguments = []
            for part, variable in zip(self._json_parts, self.variables, strict=True):
                values = data[variable.name]
                distinct = list(set(values))
                place = {value: position for position, value in enumerate(distinct)}
                texts = pa.array([_json_text(value) for value in distinct], pa.string())
                places = np.fromiter(map(place.__getitem__, values), dtype=np.int32, count=count)
                arguments += [part, texts.take(pa.array(places))]
            rows = pc.binary_join_element_wise(*arguments, pa.scalar("}"), "")
            # The rows' texts one after the other are the bytes of the array's data buffer (UTF-8): written as they
            # are. Each row's text begins ', {': the release's first row without the comma.
            offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32, count=len(rows) + 1, offset=rows.offset * 4)
            start = int(offsets[0]) + (0 if self.rows else 2)
            self._json.write(memoryview(rows.buffers()[2])[start:int(offsets[-1])])
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
            self._json.write(b"]}")
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


_COPY_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPED = re.compile(r"\\(.)")
_TO_ESCAPE = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def copy_text(data: dict, names) -> bytes:
    """A chunk ({name: [text or None]}) in PostgreSQL's COPY text format, the spill's (where the rows do not come
    from a COPY: SQLite)."""
    columns = [["\\N" if value is None else value.translate(_TO_ESCAPE) for value in data[name]] for name in names]
    return "".join("\t".join(row) + "\n" for row in zip(*columns, strict=True)).encode("utf-8")


def _unescaped(column: pa.Array) -> pa.Array:
    """A column of COPY text with its backslash escapes decoded (only where a value has one)."""
    if not pc.any(pc.match_substring(column, "\\")).as_py():
        return column
    return pa.array([value if value is None or "\\" not in value else
                     _ESCAPED.sub(lambda m: _COPY_ESCAPES.get(m.group(1), m.group(1)), value)
                     for value in column.to_pylist()], pa.string())


class RowSpill:
    """The release's rows as PostgreSQL's COPY text format has them (a line per row, tab-separated, \\N for null,
    backslash escapes), kept in a local file for the second pass: the k-anonymity plan needs every row before the
    first file is written. The lines are parsed by Arrow's CSV reader a slab at a time (no Python object per value
    until a chunk's columns are handed on); the quasi-identifiers are kept as Arrow columns while the rows come."""

    def __init__(self, path: Path, names, keep=()):
        self.path, self.names, self.keep = path, list(names), list(keep)
        self._file = open(path, "wb")  # noqa: SIM115 (closed in chunks())
        self._pending = b""
        self._kept = {name: [] for name in self.keep}
        self.rows = 0

    def _parse(self, slab: bytes, names) -> pa.Table:
        options = pacsv.ConvertOptions(column_types=dict.fromkeys(self.names, pa.string()), null_values=["\\N"],
                                       strings_can_be_null=True, include_columns=names)
        # No quoting in the text format (tabs and newlines in values are escaped); one block, no threads.
        table = pacsv.read_csv(pa.BufferReader(slab),
                               read_options=pacsv.ReadOptions(column_names=self.names, use_threads=False,
                                                              block_size=len(slab) + 1),
                               parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False,
                                                                escape_char=False),
                               convert_options=options)
        return table

    def write(self, block: bytes):
        """A block of COPY text as it comes (lines may be cut anywhere): kept, and its whole lines' quasi-identifiers
        read."""
        self._file.write(block)
        text = self._pending + block
        end = text.rfind(b"\n") + 1
        self._pending = text[end:]
        if not end:
            return
        table = self._parse(text[:end], self.keep)
        self.rows += table.num_rows
        for name in self.keep:
            self._kept[name].append(_unescaped(table.column(name).combine_chunks()))

    def kept(self) -> list:
        """Each kept column whole (pyarrow arrays), in the order of `keep`; the spill forgets them."""
        kept, self._kept = self._kept, {}
        return [pa.concat_arrays(kept.pop(name)) if kept[name] else pa.array([], pa.string()) for name in self.keep]

    def chunks(self, size: int):
        """Every row again, `size` at a time, column by column ({name: [text or None]}); the file is deleted after
        the last."""
        if self._pending:
            raise ValueError("the rows' COPY text ended inside a line")
        self._file.close()
        with open(self.path, "rb") as source:
            pending = b""
            for block in iter(lambda: source.read(1 << 20), b""):
                pending += block
                start = 0
                while True:
                    end = start
                    for _ in range(size):
                        end = pending.find(b"\n", end) + 1
                        if not end:
                            break
                    if not end:
                        break
                    yield self._columns(pending[start:end])
                    start = end
                pending = pending[start:]
            if pending:
                yield self._columns(pending)
        self.path.unlink()

    def _columns(self, slab: bytes) -> dict:
        table = self._parse(slab, self.names)
        return {name: _unescaped(table.column(name).combine_chunks()).to_pylist() for name in self.names}


def write_table(folder: Path, table: str, variables, data, codebook: dict, lang: str, file_label: str) -> list[Path]:
    """A whole table ({variable: [values]}) in every format at once; returns the files written."""
    writer = TableWriter(folder, table, variables, codebook, lang, file_label)
    writer.append(data)
    return writer.close()
