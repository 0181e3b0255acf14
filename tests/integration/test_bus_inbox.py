"""The consumer's inbox on both databases (on PostgreSQL a batch's ids go as arrays): each message of a batch is
recorded once with its type, a redelivered one is a duplicate, and a message another consumer recorded after this
one read the inbox (a race) is a duplicate too, with one effect."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import bindparam, false, select

from services.intake import tables as intake_tables
from shared.bus import probe
from shared.bus.consumer import BatchProcessor, Delivery
from shared.bus.envelope import validate_envelope


@pytest.fixture
def probe_db(db_url, platform_factory):
    platform = platform_factory("intake", intake_tables.all_tables(), db_url)
    probe.install(platform)
    return platform


def _envelopes(platform, count, start=0):
    with platform.engine.begin() as conn:
        return [platform.emit(conn, "bus.probe", "kristiansand", {"sequence": start + n}) for n in range(count)]


def _deliveries(envelopes):
    loaded = [validate_envelope(json.loads(json.dumps(envelope, default=str))) for envelope in envelopes]
    for envelope in loaded:
        envelope["message_id"] = str(envelope["message_id"])
    return [Delivery(tag=n, message_id=envelope["message_id"], envelope=envelope) for n, envelope in enumerate(loaded)]


def _inbox(platform):
    inbox = platform.tables["inbox"]
    with platform.engine.connect() as conn:
        return set(conn.execute(select(inbox.c.consumer, inbox.c.message_id, inbox.c.event_type)).all())


def test_each_message_of_a_batch_is_recorded_once_and_a_redelivery_is_a_duplicate(probe_db):
    envelopes = _envelopes(probe_db, 5)
    processor = BatchProcessor(probe_db, probe.probe_spec())
    first = _deliveries(envelopes[:3])
    processor.process(first)
    assert [d.outcome for d in first] == ["processed"] * 3
    again = _deliveries(envelopes)
    processor.process(again)
    assert [d.outcome for d in again] == ["duplicate"] * 3 + ["processed"] * 2
    assert _inbox(probe_db) == {("bus.probe", envelope["message_id"], "bus.probe") for envelope in envelopes}
    assert probe.effect_counts(probe_db) == {envelope["message_id"]: 1 for envelope in envelopes}


def test_a_message_another_consumer_recorded_first_is_a_duplicate(probe_db):
    envelopes = _envelopes(probe_db, 4)
    BatchProcessor(probe_db, probe.probe_spec()).process(_deliveries(envelopes[1:2]))  # the other consumer's
    late = BatchProcessor(probe_db, probe.probe_spec())
    inbox = probe_db.tables["inbox"]
    # This consumer read the inbox before the other one committed: its query found nothing.
    late._seen_of = select(inbox.c.message_id).where(inbox.c.consumer == bindparam("consumer"), false())
    deliveries = _deliveries(envelopes)
    late.process(deliveries)
    assert [d.outcome for d in deliveries] == ["processed", "duplicate", "processed", "processed"]
    assert probe.effect_counts(probe_db) == {envelope["message_id"]: 1 for envelope in envelopes}
    assert len(_inbox(probe_db)) == 4
