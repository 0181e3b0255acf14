"""Byte streams for the streamed exports, in constant memory: the plumbing only (the SQL is the store's, the choice
of stream the service's).

PostgreSQL: a `COPY ... TO STDOUT` piped straight to the response through an OS pipe (a reader thread runs the
COPY; the response reads the pipe), so the server holds a few chunks, never the export. Elsewhere (and JSON on
both): rows from a streaming cursor written chunk by chunk.
"""
from __future__ import annotations

import csv
import io
import json
import os
import threading

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Linux: the default pipe size still works, only slower
    fcntl = None

CHUNK_BYTES = 256 * 1024
PIPE_BYTES = 1 << 20


def copy_chunks(engine, copy_sql: str):
    """PostgreSQL: COPY TO STDOUT straight through to the client, on a connection of its own.

    A reader thread runs the COPY into the write end of an OS pipe (a buffered writer, so psycopg2's one write per
    row stays in C); the response reads the other end in chunks. The pipe's fixed size is the back-pressure: when
    the client is slow the COPY waits, so memory stays constant. A client that leaves closes the read end, the
    writer gets EPIPE and the COPY is abandoned and rolled back."""
    def copy(sink):
        raw = engine.raw_connection()
        try:
            with raw.cursor() as cursor:
                cursor.copy_expert(copy_sql, sink, size=CHUNK_BYTES)
            sink.flush()
            raw.rollback()  # read-only: end the transaction
        except Exception:
            try:
                raw.rollback()
            except Exception:  # noqa: BLE001
                pass
            raise
        finally:
            raw.close()
    return _piped(copy)


def copy_chunks_on(dbapi_connection, copy_sql: str):
    """The same on a connection in use (a release cut reads the rows its own transaction copied): its transaction
    is left as it was. The caller does not use the connection until the chunks are read to the end. The COPY runs
    in the database while the caller works on the chunks already read."""
    def copy(sink):
        cursor = dbapi_connection.cursor()
        try:
            cursor.copy_expert(copy_sql, sink, size=CHUNK_BYTES)
            sink.flush()
        finally:
            cursor.close()
    return _piped(copy)


def _piped(copy):
    """`copy(sink)` run in a thread into an OS pipe, whose other end is read here, chunk by chunk."""
    read_fd, write_fd = os.pipe()
    if fcntl is not None:
        try:
            fcntl.fcntl(write_fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
        except OSError:  # pragma: no cover - the default pipe size still works, only slower
            pass
    failure = []

    def run():
        sink = os.fdopen(write_fd, "wb", buffering=CHUNK_BYTES)
        try:
            copy(sink)
        except Exception as error:  # noqa: BLE001 — a reader that left (EPIPE) or a database error
            failure.append(error)
        finally:
            try:
                sink.close()
            except OSError:
                pass

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


def csv_chunks(header, rows):
    """A header line, then the rows through csv.writer (None as empty), chunk by chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
        if buffer.tell() >= CHUNK_BYTES:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def json_chunks(head: dict, columns, rows):
    """One JSON document: `head`'s members first, then "rows" as objects, written as they are read."""
    yield (json.dumps(head, ensure_ascii=False)[:-1] + ',"rows":[').encode("utf-8")
    parts, size, first = [], 0, True
    for row in rows:
        text = json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False)
        parts.append(text if first else "," + text)
        first = False
        size += len(text)
        if size >= CHUNK_BYTES:
            yield "\n".join(parts).encode("utf-8")
            parts, size = [""], 0
    yield ("\n".join(parts) + "]}").encode("utf-8")
