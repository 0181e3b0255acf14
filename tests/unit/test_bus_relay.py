"""The relay's confirm bookkeeping, with fakes (no broker, no database): what counts as sent."""
from types import SimpleNamespace

import pika
import pytest
from pika.frame import Method
from sqlalchemy import MetaData

from shared.bus import store
from shared.bus.relay import Relay, broker_user, retry_delay


@pytest.fixture
def relay(monkeypatch):
    tables = store.define_tables(MetaData())
    platform = SimpleNamespace(
        settings=SimpleNamespace(service="intake", amqp_urls=["amqp://u:p@h/v"], exchange="hybrid.events", extra={}),
        tables=tables, engine=SimpleNamespace(dialect=SimpleNamespace(name="postgresql")))
    relay = Relay(platform, window=100, batch=50)
    monkeypatch.setattr(relay, "_flush_in_background", lambda: None)
    monkeypatch.setattr(relay, "_pump", lambda: None)
    for tag in range(1, 6):
        relay._inflight[tag] = (100 + tag, f"m{tag}", 0)
    relay._next_tag = 5
    yield relay
    relay._claim_executor.shutdown()
    relay._flush_executor.shutdown()


def confirm(relay, method_class, tag, multiple):
    relay._on_confirm(Method(1, method_class(delivery_tag=tag, multiple=multiple)))


def test_a_multiple_ack_confirms_every_tag_up_to_it(relay):
    confirm(relay, pika.spec.Basic.Ack, 3, True)
    assert relay._confirmed == [101, 102, 103] and relay._failed == []
    assert list(relay._inflight) == [4, 5]
    confirm(relay, pika.spec.Basic.Ack, 5, False)
    assert relay._confirmed == [101, 102, 103, 105] and list(relay._inflight) == [4]


def test_confirms_out_of_order_settle_each_tag_once(relay):
    confirm(relay, pika.spec.Basic.Ack, 5, False)  # a single ack above the lowest unsettled tag
    confirm(relay, pika.spec.Basic.Ack, 2, True)
    assert relay._confirmed == [105, 101, 102] and list(relay._inflight) == [3, 4]
    confirm(relay, pika.spec.Basic.Ack, 4, True)  # covers 3 and 4; 5 is not settled twice
    assert relay._confirmed == [105, 101, 102, 103, 104] and relay._inflight == {}
    assert relay._lowest_tag == 6  # the next range starts after every settled tag


def test_a_nack_or_a_return_is_not_sent(relay):
    relay._on_return(None, SimpleNamespace(reply_code=312, reply_text="NO_ROUTE"),
                     SimpleNamespace(message_id="m2"), b"")
    confirm(relay, pika.spec.Basic.Ack, 2, True)  # the broker acks a returned message too
    confirm(relay, pika.spec.Basic.Nack, 4, True)
    assert relay._confirmed == [101]
    assert [(row, error.split(":")[0]) for row, _attempts, error in relay._failed] == [
        (102, "returned by broker"), (103, "nacked by broker"), (104, "nacked by broker")]
    assert list(relay._inflight) == [5]


def test_the_publisher_identity_and_backoff():
    assert broker_user("amqp://t1-probe:secret@127.0.0.1:5672/t-1") == "t1-probe"
    assert broker_user("amqp://office%2Dx:pw@h/v") == "office-x"
    assert [retry_delay(n) for n in (1, 2, 3)] == [2.0, 4.0, 8.0]
    assert retry_delay(50) == 300.0
