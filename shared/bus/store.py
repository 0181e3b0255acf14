"""The outbox and inbox tables every service carries in its own database, and a consuming service's rejections.

Outbox: a producing service inserts the event row in the same transaction as its state change
(`add_event`); the relay publishes it later and marks it sent only after the broker's confirm.
Inbox: a consumer records (consumer, message_id) in the same transaction as its effect; the primary key
makes a redelivery a no-op.
Rejections: the reason a consumer dead-lettered a message, as it logged it (the broker keeps only "rejected"),
written after the batch in a transaction of its own; `flask bus dead-letters` shows it and `bus replay` clears it.
A reason that names a case is erased with that case (`erase_rejections`).
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    delete,
    select,
    tuple_,
)

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


# Defined once here and copied into each consuming service's metadata (`define_rejections_table`); the functions
# below use this copy, so a command or probe whose platform lacks the table object still reaches the service's table.
_rejections = Table(
    "rejected_messages", MetaData(),
    Column("consumer", String(100), primary_key=True),  # the consumer's queue
    Column("message_id", String(255), primary_key=True),  # the broker's message id (an AMQP short string)
    Column("event_type", String(100), nullable=True),  # None when the body was no valid envelope
    Column("reason", Text, nullable=False),  # the text the consumer logged: codes, field names, at most a case id
    Column("case_id", String(36), nullable=True),  # the case the reason names, for `erase_rejections`
    Column("rejected_at", UTCDateTime, nullable=False),
    Index("ix_rejected_messages_case_id", "case_id"),
)


def define_rejections_table(metadata: MetaData) -> dict[str, Table]:
    """The table of rejections, for a service that consumes events (consent, registry, notify)."""
    return {"rejections": _rejections.to_metadata(metadata)}


def record_rejections(conn, rows: list[dict]) -> None:
    """Keep each row's reason (consumer, message_id, event_type, reason, case_id, rejected_at); a message rejected
    again replaces its earlier row."""
    if not rows:
        return
    keys = [(row["consumer"], row["message_id"]) for row in rows]
    conn.execute(delete(_rejections).where(tuple_(_rejections.c.consumer, _rejections.c.message_id).in_(keys)))
    conn.execute(_rejections.insert(), rows)


def rejection_reasons(conn, consumer: str, message_ids: Iterable[str]) -> dict[str, str]:
    """message_id -> the recorded reason, for those of the consumer's messages that have one."""
    ids = [str(message_id) for message_id in message_ids]
    if not ids:
        return {}
    rows = conn.execute(select(_rejections.c.message_id, _rejections.c.reason).where(
        _rejections.c.consumer == consumer, _rejections.c.message_id.in_(ids)))
    return dict(rows.all())


def clear_rejections(conn, consumer: str, message_ids: Iterable[str], before: datetime) -> int:
    """Forget the reasons of replayed messages; a rejection recorded at or after `before` (the replayed message
    rejected again meanwhile) stays. Returns how many went."""
    ids = [str(message_id) for message_id in message_ids]
    if not ids:
        return 0
    return conn.execute(delete(_rejections).where(
        _rejections.c.consumer == consumer, _rejections.c.message_id.in_(ids),
        _rejections.c.rejected_at < before)).rowcount


def erase_rejections(conn, case_ids) -> int:
    """Delete the recorded reasons that name these cases, in the caller's transaction; returns how many went."""
    ids = [str(case_ids)] if isinstance(case_ids, str) else [str(case_id) for case_id in case_ids]
    if not ids:
        return 0
    return conn.execute(delete(_rejections).where(_rejections.c.case_id.in_(ids))).rowcount


def outbox_bodies(conn, outbox_table, event_types=None, batch: int = 5000):
    """Every event still in the outbox (sent or not), in the order it was written, as the encoded envelope: what a
    consumer's rebuild replays (a service erases a case's sent rows with the case, and all at retention)."""
    query = select(outbox_table.c.body).order_by(outbox_table.c.id)
    if event_types:
        query = query.where(outbox_table.c.event_type.in_(sorted(event_types)))
    result = conn.execute(query.execution_options(stream_results=True, yield_per=batch))
    for (body,) in result:
        yield bytes(body)


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
