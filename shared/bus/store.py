"""The outbox and inbox tables every service carries in its own database.

Outbox: a producing service inserts the event row in the same transaction as its state change
(`add_event`); the relay publishes it later and marks it sent only after the broker's confirm.
Inbox: a consumer records (consumer, message_id) in the same transaction as its effect; the primary key
makes a redelivery a no-op.
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, MetaData, String, Table, Text

from shared.db import UTCDateTime, utcnow

from .envelope import encode, routing_key


def define_tables(metadata: MetaData) -> dict[str, Table]:
    outbox = Table(
        "outbox", metadata,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
        Column("message_id", String(36), nullable=False, unique=True),
        Column("routing_key", String(200), nullable=False),
        Column("event_type", String(100), nullable=False),
        Column("correlation_id", String(100), nullable=False),
        Column("body", LargeBinary, nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("claimed_by", String(100), nullable=True),
        Column("claimed_until", UTCDateTime, nullable=True),
        Column("attempts", Integer, nullable=False, default=0),
        Column("last_error", Text, nullable=True),
        Column("sent_at", UTCDateTime, nullable=True),
    )
    Index("ix_outbox_unsent", outbox.c.sent_at, outbox.c.id)
    inbox = Table(
        "inbox", metadata,
        Column("consumer", String(100), primary_key=True),
        Column("message_id", String(36), primary_key=True),
        Column("event_type", String(100), nullable=False),
        Column("processed_at", UTCDateTime, nullable=False),
    )
    return {"outbox": outbox, "inbox": inbox}


def add_event(conn, outbox_table, envelope: dict) -> None:
    """Queue a validated envelope for publishing, inside the caller's transaction."""
    # Parameters apart from the statement: SQLAlchemy then reuses the compiled INSERT (no per-call cache-key work).
    conn.execute(outbox_table.insert(), {
        "message_id": envelope["message_id"],
        "routing_key": routing_key(envelope["office"], envelope["type"]),
        "event_type": envelope["type"],
        "correlation_id": envelope["correlation_id"],
        "body": encode(envelope),
        "created_at": utcnow(),
        "attempts": 0,
    })
