"""A tamper-evident hash chain of log entries (consent's audit of document openings, the registry's downloads).

Each entry's hash covers the previous entry's hash, its own sequence number and every named field, so editing an
entry breaks its hash, deleting or reordering entries breaks the chain, and a head (sequence and hash of the last
entry, kept beside the chain and updated with each entry) reveals a truncated tail.
"""
from __future__ import annotations

import hashlib
import json
from datetime import date

GENESIS = "0" * 64


def _plain(value):
    return value.isoformat() if isinstance(value, date) else value


def entry_hash(prev_hash: str, entry: dict, fields) -> str:
    """SHA-256 of the previous hash and the entry's `fields` as canonical JSON (dates as ISO 8601)."""
    canonical = json.dumps({k: _plain(entry[k]) for k in fields}, sort_keys=True, ensure_ascii=False,
                           separators=(",", ":"))
    return hashlib.sha256((prev_hash + "|" + canonical).encode("utf-8")).hexdigest()


def link(head: dict, entry: dict, fields) -> dict:
    """The entry that follows `head` ({seq, hash}), its `seq` set, with `prev_hash` and its own `hash`."""
    entry = {**entry, "seq": head["seq"] + 1}
    return {**entry, "prev_hash": head["hash"], "hash": entry_hash(head["hash"], entry, fields)}


def chain_problems(rows, head: dict | None, fields) -> list[str]:
    """What is wrong with one chain: `rows` in sequence order, `head` its head (None: none yet)."""
    problems = []
    prev, expected_seq = GENESIS, 1
    last_seq, last_hash = 0, GENESIS
    for row in rows:
        if row["seq"] != expected_seq:
            problems.append(f"entry {expected_seq}" + (f"–{row['seq'] - 1}" if row["seq"] - 1 > expected_seq else "")
                            + " missing (deleted)")
        if row["prev_hash"] != prev:
            problems.append(f"entry {row['seq']}: does not follow the previous entry (deleted or reordered)")
        if entry_hash(row["prev_hash"], dict(row), fields) != row["hash"]:
            problems.append(f"entry {row['seq']}: content does not match its hash (edited)")
        prev, expected_seq = row["hash"], row["seq"] + 1
        last_seq, last_hash = row["seq"], row["hash"]
    head_seq, head_hash = (head["seq"], head["hash"]) if head else (0, GENESIS)
    if (head_seq, head_hash) != (last_seq, last_hash):
        problems.append(f"chain ends at entry {last_seq} but the head says {head_seq} (entries removed at the end, "
                        "or the head was changed)")
    return problems
