"""The hash chain of document openings, one chain per office.

Each entry's hash covers the previous entry's hash, its own sequence number and every field, so editing an entry
breaks its hash, deleting or reordering entries breaks the chain, and a head (sequence and hash of the last entry,
updated with each entry) reveals a truncated tail. The construction is shared.hashchain's (the registry's download
log uses it too); this module names the chain's fields.
"""
from __future__ import annotations

from shared import hashchain

GENESIS = hashchain.GENESIS
FIELDS = ("office", "seq", "at", "actor", "actor_role", "action", "document_id", "record_id", "reason")


def entry_hash(prev_hash: str, entry: dict) -> str:
    return hashchain.entry_hash(prev_hash, entry, FIELDS)


def next_entry(head: dict, office: str, at, actor: str, actor_role: str, action: str, document_id: str,
               record_id: str, reason: str) -> dict:
    """The entry that follows `head` (its `seq` and `hash`), with `prev_hash` and its own `hash`."""
    return hashchain.link(head, {"office": office, "at": at.replace(microsecond=0), "actor": actor,
                                 "actor_role": actor_role, "action": action, "document_id": document_id,
                                 "record_id": record_id, "reason": reason}, FIELDS)


def chain_problems(rows, head: dict | None) -> list[str]:
    """What is wrong with one office's chain: `rows` in sequence order, `head` its head (None: none yet)."""
    return hashchain.chain_problems(rows, head, FIELDS)
