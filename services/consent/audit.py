"""Append-only, hash-chained log of every view or download of a consent document, one chain per office.

Each row's hash covers the previous row's hash, its own sequence number and every field, so editing a row breaks
its hash, deleting or reordering rows breaks the chain, and a head row (sequence and hash of the last entry,
updated in the same transaction) reveals a truncated tail.
"""
from __future__ import annotations

import hashlib
import json

from sqlalchemy import select

from .tables import OWN as T

GENESIS = "0" * 64
FIELDS = ("office", "seq", "at", "actor", "actor_role", "action", "document_id", "record_id", "reason")


def entry_hash(prev_hash: str, entry: dict) -> str:
    canonical = json.dumps({k: (entry[k].isoformat() if k == "at" else entry[k]) for k in FIELDS},
                           sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + "|" + canonical).encode("utf-8")).hexdigest()


def _insert_ignore(conn, table, values):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    conn.execute(insert(table).values(**values).on_conflict_do_nothing())


def append(conn, office: str, at, actor: str, actor_role: str, action: str, document_id: str, record_id: str,
           reason: str) -> dict:
    """Append one entry inside the caller's transaction; the head row lock serialises writers per office."""
    head_t, log_t = T["audit_head"], T["audit_log"]
    _insert_ignore(conn, head_t, {"office": office, "seq": 0, "hash": GENESIS})
    head = conn.execute(select(head_t).where(head_t.c.office == office).with_for_update()).mappings().one()
    entry = {"office": office, "seq": head["seq"] + 1, "at": at.replace(microsecond=0), "actor": actor,
             "actor_role": actor_role, "action": action, "document_id": document_id, "record_id": record_id,
             "reason": reason}
    digest = entry_hash(head["hash"], entry)
    conn.execute(log_t.insert().values(**entry, prev_hash=head["hash"], hash=digest))
    conn.execute(head_t.update().where(head_t.c.office == office).values(seq=entry["seq"], hash=digest))
    return {**entry, "hash": digest}


def verify(conn, office: str | None = None) -> dict[str, list[str]]:
    """Recompute every chain; return problems per office (empty lists mean intact)."""
    head_t, log_t = T["audit_head"], T["audit_log"]
    offices = [office] if office else sorted(
        {r[0] for r in conn.execute(select(head_t.c.office))} | {r[0] for r in conn.execute(select(log_t.c.office).distinct())})
    report = {}
    for code in offices:
        problems = []
        prev, expected_seq = GENESIS, 1
        rows = conn.execute(select(log_t).where(log_t.c.office == code).order_by(log_t.c.seq)).mappings()
        last_seq, last_hash = 0, GENESIS
        for row in rows:
            if row["seq"] != expected_seq:
                problems.append(f"entry {expected_seq}" + (f"–{row['seq'] - 1}" if row["seq"] - 1 > expected_seq else "")
                                + " missing (deleted)")
            if row["prev_hash"] != prev:
                problems.append(f"entry {row['seq']}: does not follow the previous entry (deleted or reordered)")
            if entry_hash(row["prev_hash"], dict(row)) != row["hash"]:
                problems.append(f"entry {row['seq']}: content does not match its hash (edited)")
            prev, expected_seq = row["hash"], row["seq"] + 1
            last_seq, last_hash = row["seq"], row["hash"]
        head = conn.execute(select(head_t).where(head_t.c.office == code)).mappings().first()
        head_seq, head_hash = (head["seq"], head["hash"]) if head else (0, GENESIS)
        if (head_seq, head_hash) != (last_seq, last_hash):
            problems.append(f"chain ends at entry {last_seq} but the head says {head_seq} (entries removed at the end, "
                            "or the head was changed)")
        report[code] = problems
    return report


def entries(conn, office: str, document_id: str | None = None, limit: int = 200) -> list[dict]:
    log_t = T["audit_log"]
    query = select(log_t).where(log_t.c.office == office)
    if document_id:
        query = query.where(log_t.c.document_id == document_id)
    return [dict(r) for r in conn.execute(query.order_by(log_t.c.seq.desc()).limit(limit)).mappings()]
