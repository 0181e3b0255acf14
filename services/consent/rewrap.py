"""Re-wrap every encrypted field and document under each office's current key version.

Rows carry `key_version`; a batch picks rows of an office whose version is older than the current one, re-wraps
their blobs (only the data key is re-wrapped: the bulk ciphertext of a scan is untouched), sets the new version and
commits. A run killed at any moment leaves every row either fully old or fully new, and the next run picks up the
rows still old, so the command is resumable by simply running it again.
"""
from __future__ import annotations

import time

from sqlalchemy import select

from .tables import OWN as T


def _batch(engine, cipher, office: str, table, blob_columns, binding, batch_size: int) -> int:
    current = cipher.current_version(office)
    with engine.begin() as conn:
        query = (select(table).where(table.c.office == office, table.c.key_version < current)
                 .order_by(table.c.id).limit(batch_size))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)  # two rewrap runs never fight over a row
        rows = [dict(r) for r in conn.execute(query).mappings()]
        for row in rows:
            values = {}
            for column, field_binding in blob_columns.items():
                if row[column] is None:
                    continue
                values[column] = cipher.rewrap(office, row[column], **binding(row, field_binding))
            values["key_version"] = current
            conn.execute(table.update().where(table.c.id == row["id"]).values(**values))
    return len(rows)


def _record_binding(row, field):
    return {"record": row["id"], "version": row["version"], "field": field}


def _document_binding(row, field):
    return {"record": row["id"], "version": row["version"], "field": field, "consent": row["record_id"]}


def pending(engine, cipher, office: str) -> int:
    from sqlalchemy import func
    current = cipher.current_version(office)
    total = 0
    with engine.connect() as conn:
        for table in (T["records"], T["documents"]):
            total += conn.execute(select(func.count()).select_from(table)
                                  .where(table.c.office == office, table.c.key_version < current)).scalar()
    return total


def rewrap_office(engine, cipher, office: str, batch_size: int = 50, pause: float = 0.0, progress=None) -> int:
    """Re-wrap until no row of the office is behind; returns how many rows were re-wrapped in this run."""
    done = 0
    document_batch = max(1, min(batch_size, 10))  # scans are up to 10 MiB each: keep a batch's memory small
    steps = ((T["records"], {"signer_name": "signer_name", "signer_national_id": "signer_national_id"},
              _record_binding, batch_size),
             (T["documents"], {"content": "document"}, _document_binding, document_batch))
    for table, columns, binding, size in steps:
        while True:
            n = _batch(engine, cipher, office, table, columns, binding, size)
            if n == 0:
                break
            done += n
            if progress:
                progress(office, table.name, n, done)
            if pause:
                time.sleep(pause)
    return done
