"""Row-level exports for researchers, streamed in constant memory, with a cursor for incremental pulls.

PostgreSQL: `COPY (SELECT ...) TO STDOUT WITH CSV HEADER` piped straight to the response through a bounded
queue (a reader thread runs the COPY; the response iterates the queue), so the server holds a few chunks, never
the export. SQLite (and JSON on both): a streaming cursor read in batches and written chunk by chunk.

The cursor is the change sequence: a pull `after=N` returns the current rows changed after N (new, corrected,
marked withdrawn) up to the newest change when the pull started, whose number comes back as the next cursor.
Erased cases have no row left: the change feed (`changes_since`) reports them.
"""
from __future__ import annotations

import csv
import io
import json
import queue
import threading

from sqlalchemy import case, func, select

from .codebook import EXPORT_COLUMNS
from .tables import changes, closures

CHUNK_BYTES = 256 * 1024
QUEUE_CHUNKS = 8
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


class _Cancelled(Exception):
    pass


class _QueueWriter:
    """File-like target of copy_expert: collects COPY's many small writes into chunks on a bounded queue."""

    def __init__(self, chunks: queue.Queue, cancelled: threading.Event):
        self.chunks, self.cancelled = chunks, cancelled
        self.parts, self.size = [], 0

    def write(self, data):
        if self.cancelled.is_set():
            raise _Cancelled()
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.parts.append(data)
        self.size += len(data)
        if self.size >= CHUNK_BYTES:
            self.flush()
        return len(data)

    def flush(self):
        if self.parts:
            chunk = b"".join(self.parts)
            self.parts, self.size = [], 0
            while not self.cancelled.is_set():
                try:
                    self.chunks.put(chunk, timeout=0.5)
                    return
                except queue.Full:
                    continue
            raise _Cancelled()


_DONE = object()


def stream_csv_copy(engine, after, upto):
    """PostgreSQL: COPY TO STDOUT straight through to the client."""
    sql = _copy_sql(engine, after, upto)
    chunks: queue.Queue = queue.Queue(maxsize=QUEUE_CHUNKS)
    cancelled = threading.Event()
    failure = []

    def run():
        raw = engine.raw_connection()
        try:
            with raw.cursor() as cursor:
                writer = _QueueWriter(chunks, cancelled)
                cursor.copy_expert(sql, writer, size=CHUNK_BYTES)
                writer.flush()
            raw.rollback()  # read-only: end the transaction
        except _Cancelled:
            raw.rollback()
        except Exception as error:  # noqa: BLE001 — handed to the response side, which raises it
            failure.append(error)
            try:
                raw.rollback()
            except Exception:  # noqa: BLE001
                pass
        finally:
            raw.close()
            while True:
                try:
                    chunks.put(_DONE, timeout=0.5)
                    break
                except queue.Full:
                    if cancelled.is_set():
                        break

    thread = threading.Thread(target=run, name="registry-copy", daemon=True)
    thread.start()
    try:
        while True:
            item = chunks.get()
            if item is _DONE:
                break
            yield item
        if failure:
            raise failure[0]
    finally:
        cancelled.set()
        # Unblock a reader thread waiting to put, then wait for it to give the connection back.
        while thread.is_alive():
            try:
                chunks.get(timeout=0.1)
            except queue.Empty:
                pass
        thread.join()


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
