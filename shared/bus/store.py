"""The outbox and inbox tables every service carries in its own database.

Outbox: a producing service inserts the event row in the same transaction as its state change
(`add_event`); the relay publishes it later and marks it sent only after the broker's confirm.
Inbox: a consumer records (consumer, message_id) in the same transaction as its effect; the primary key
makes a redelivery a no-op.
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, MetaData, String, Table, Text

from shared.db import UTCDateTime, execute_together, utcnow

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


_INSERTS: dict = {}


def add_event(conn, outbox_table, envelope: dict, *together_with) -> None:
    """Queue a validated envelope for publishing, inside the caller's transaction.

    `together_with`: the change's own writes, `(statement, parameters)`, sent in the same round trip as the outbox row
    where the database allows it (`shared.db.execute_together`).
    """
    # One INSERT object per table and parameters apart: SQLAlchemy reuses the compiled statement.
    insert = _INSERTS.get(outbox_table)
    if insert is None:
        insert = _INSERTS[outbox_table] = outbox_table.insert()
    execute_together(conn, *together_with, (insert, {
        "message_id": envelope["message_id"],
        "routing_key": routing_key(envelope["office"], envelope["type"]),
        "event_type": envelope["type"],
        "correlation_id": envelope["correlation_id"],
        "body": encode(envelope),
        "created_at": utcnow(),
        "attempts": 0,
    }))
