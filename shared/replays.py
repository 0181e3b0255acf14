"""Replays of state-changing requests: the `request_replays` table every service carries, and its housekeeping.

A request that carries an `Idempotency-Key` header (API) or a `_form_token` field (pages) claims one row before its
view runs and records its answer there afterwards, so a repeat answers the first answer instead of acting twice
(`shared.web.idempotency` holds the request hooks). Nothing in a row is readable without the keyring: the caller and
key, and the digest of the request, are keyed hashes; the answer (headers and body) is a `shared.crypto` blob bound
to the row. A row lives 24 hours on the platform clock and goes earlier with its case (`erase_replays`).

This module needs no web layer: a consumer that erases cases (consent, notify) calls `erase_replays` too.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Integer, LargeBinary, MetaData, String, Table, column, delete, table

from shared.db import UTCDateTime

TABLE = "request_replays"

# The keyring entry for callers without an office (admin, researcher, county contact, service tokens). An office
# code cannot start with "_" (shared.directory.CODE), so it never names an office's keys.
PLATFORM_KEYS = "_platform"


def define_tables(metadata: MetaData) -> dict[str, Table]:
    replays = Table(
        TABLE, metadata,
        # keyed hash of (caller, key): one row per caller and key; another caller's same key is another row
        Column("lookup", String(64), primary_key=True),
        # keyed hash of SHA-256(method, path and query, body): the same key with another request is refused
        Column("fingerprint", String(64), nullable=False),
        Column("claim", String(32), nullable=False),  # the claiming request's token: only it records the answer
        Column("status", Integer, nullable=True),  # NULL while the first request runs
        Column("response", LargeBinary, nullable=True),  # encrypted headers and body of the first answer
        Column("case_id", String(36), nullable=True),  # the case the request is about, for `erase_replays`
        Column("created_at", UTCDateTime, nullable=False),
        Column("lease_until", UTCDateTime, nullable=False),  # a claim whose process died is taken over after this
        Column("expires_at", UTCDateTime, nullable=False),
    )
    Index("ix_request_replays_case_id", replays.c.case_id)
    Index("ix_request_replays_expires_at", replays.c.expires_at)
    return {"replays": replays}


# Erasure runs in services that need not hold the table object (a consumer's handler): the name is enough.
_replays_by_name = table(TABLE, column("case_id"), column("expires_at"))


def erase_replays(conn, case_ids) -> int:
    """Delete the stored answers of requests about these cases (one id or several), in the caller's transaction;
    returns how many went. Call it wherever a service erases cases (erasure, retention)."""
    ids = [str(case_ids)] if isinstance(case_ids, str) else [str(case_id) for case_id in case_ids]
    if not ids:
        return 0
    return conn.execute(delete(_replays_by_name).where(_replays_by_name.c.case_id.in_(ids))).rowcount


def purge_expired(conn, now: datetime) -> int:
    """Delete every row past its 24 hours; returns how many went."""
    return conn.execute(delete(_replays_by_name).where(_replays_by_name.c.expires_at <= now)).rowcount
