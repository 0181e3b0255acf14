"""Row-level exports for researchers, streamed in constant memory, with a cursor for incremental pulls.

PostgreSQL: `COPY (SELECT ...) TO STDOUT WITH CSV HEADER` piped straight to the response through an OS pipe
(a reader thread runs the COPY; the response reads the pipe), so the server holds a few chunks, never the export. SQLite (and JSON on both): a streaming cursor read in batches and written chunk by chunk.

The cursor is the change sequence: a pull `after=N` returns the current rows changed after N (new, corrected,
marked withdrawn) up to the newest change when the pull started, whose number comes back as the next cursor.
Erased cases have no row left: the change feed (`changes_since`) reports them.
"""
from __future__ import annotations

import csv
import io
import json
import os
import threading

from sqlalchemy import case, func, select

from .codebook import EXPORT_COLUMNS
from .tables import changes, closures

CHUNK_BYTES = 256 * 1024
FETCH_ROWS = 5000


def newest_change(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.coalesce(func.max(changes.c.seq), 0))).scalar_one()


def export_query(after: int, upto: int):
    """The export's SELECT: fixed columns from the codebook, booleans as true/false on both databases."""
    columns = []
    for name in EXPORT_COLUMNS:
        column = closures.c[name]
        if name == "mentor_measure_used":
            column = case((column.is_(True), "true"), else_="false").label(name)
        columns.append(column)
    return (select(*columns).where(closures.c.change_seq > after, closures.c.change_seq <= upto)
            .order_by(closures.c.change_seq))


def _copy_sql(engine, after, upto) -> str:
    compiled = export_query(int(after), int(upto)).compile(dialect=engine.dialect,
                                                          compile_kwargs={"literal_binds": True})
    return f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv, HEADER true)"


PIPE_BYTES = 1 << 20


def stream_csv_copy(engine, after, upto):
    """PostgreSQL: COPY TO STDOUT straight through to the client.

    A reader thread runs the COPY into the write end of an OS pipe (a buffered writer, so psycopg2's one write per
    row stays in C); the response reads the other end in chunks. The pipe's fixed size is the back-pressure: when
    the client is slow the COPY waits, so memory stays constant. A client that leaves closes the read end, the
    writer gets EPIPE and the COPY is abandoned and rolled back."""
    sql = _copy_sql(engine, after, upto)
    read_fd, write_fd = os.pipe()
    try:
        import fcntl
        fcntl.fcntl(write_fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
    except (ImportError, OSError):  # pragma: no cover - the default pipe size still works, only slower
        pass
    failure = []

    def run():
        raw = engine.raw_connection()
        sink = os.fdopen(write_fd, "wb", buffering=CHUNK_BYTES)
        try:
            with raw.cursor() as cursor:
                cursor.copy_expert(sql, sink, size=CHUNK_BYTES)
            sink.flush()
            raw.rollback()  # read-only: end the transaction
        except Exception as error:  # noqa: BLE001 — a client that left (EPIPE) or a database error
            failure.append(error)
            try:
                raw.rollback()
            except Exception:  # noqa: BLE001
                pass
        finally:
            try:
                sink.close()
            except OSError:
                pass
            raw.close()

    thread = threading.Thread(target=run, name="registry-copy", daemon=True)
    thread.start()
    source = os.fdopen(read_fd, "rb", buffering=0)
    finished = False
    try:
        while True:
            chunk = source.read(CHUNK_BYTES)
            if not chunk:
                break
            yield chunk
        finished = True
    finally:
        source.close()  # a writer still copying gets EPIPE and stops
        thread.join()
    if finished and failure:
        raise failure[0]


def _rows(engine, after, upto):
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=FETCH_ROWS).execute(export_query(after, upto))
        for partition in result.partitions(FETCH_ROWS):
            yield from partition


def stream_csv_portable(engine, after, upto):
    """SQLite (or any database): a streaming cursor and csv.writer, chunk by chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for row in _rows(engine, after, upto):
        writer.writerow(["" if v is None else v for v in row])
        if buffer.tell() >= CHUNK_BYTES:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def stream_csv(engine, after, upto):
    if engine.dialect.name == "postgresql":
        return stream_csv_copy(engine, after, upto)
    return stream_csv_portable(engine, after, upto)


def stream_json(engine, after, upto):
    """One JSON document: the cursor first, then the rows as objects, written as they are read."""
    head = {"after": after, "next_cursor": upto, "columns": list(EXPORT_COLUMNS)}
    yield (json.dumps(head, ensure_ascii=False)[:-1] + ',"rows":[').encode("utf-8")
    parts, size, first = [], 0, True
    for row in _rows(engine, after, upto):
        text = json.dumps(dict(zip(EXPORT_COLUMNS, row)), ensure_ascii=False)
        parts.append(text if first else "," + text)
        first = False
        size += len(text)
        if size >= CHUNK_BYTES:
            yield "\n".join(parts).encode("utf-8")
            parts, size = [""], 0
    yield ("\n".join(parts) + "]}").encode("utf-8")


def changes_since(engine, after: int, limit: int):
    """The change feed: what happened to which case pseudonym after the cursor (including erasures)."""
    query = (select(changes.c.seq, changes.c.case_pseudonym, changes.c.change, changes.c.version)
             .where(changes.c.seq > after).order_by(changes.c.seq).limit(limit))
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    return {"after": after, "next_cursor": rows[-1]["seq"] if rows else after, "changes": rows,
            "more": len(rows) == limit}
