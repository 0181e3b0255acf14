"""The hash chain of document openings, one chain per office.

Each entry's hash covers the previous entry's hash, its own sequence number and every field, so editing an entry
breaks its hash, deleting or reordering entries breaks the chain, and a head (sequence and hash of the last entry,
updated with each entry) reveals a truncated tail.
"""
from __future__ import annotations

import hashlib
import json

GENESIS = "0" * 64
FIELDS = ("office", "seq", "at", "actor", "actor_role", "action", "document_id", "record_id", "reason")


def entry_hash(prev_hash: str, entry: dict) -> str:
    canonical = json.dumps({k: (entry[k].isoformat() if k == "at" else entry[k]) for k in FIELDS},
                           sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + "|" + canonical).encode("utf-8")).hexdigest()


def next_entry(head: dict, office: str, at, actor: str, actor_role: str, action: str, document_id: str,
               record_id: str, reason: str) -> dict:
    """The entry that follows `head` (its `seq` and `hash`), with `prev_hash` and its own `hash`."""
    entry = {"office": office, "seq": head["seq"] + 1, "at": at.replace(microsecond=0), "actor": actor,
             "actor_role": actor_role, "action": action, "document_id": document_id, "record_id": record_id,
             "reason": reason}
    return {**entry, "prev_hash": head["hash"], "hash": entry_hash(head["hash"], entry)}


def chain_problems(rows, head: dict | None) -> list[str]:
    """What is wrong with one office's chain: `rows` in sequence order, `head` its head (None: none yet)."""
    problems = []
    prev, expected_seq = GENESIS, 1
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
    head_seq, head_hash = (head["seq"], head["hash"]) if head else (0, GENESIS)
    if (head_seq, head_hash) != (last_seq, last_hash):
        problems.append(f"chain ends at entry {last_seq} but the head says {head_seq} (entries removed at the end, "
                        "or the head was changed)")
    return problems
