"""The relay's confirm bookkeeping (its publisher handing outcomes to its leases), with fakes (no broker, no
database): what counts as sent."""
from collections import deque
from types import SimpleNamespace

import pika
import pytest
from pika.frame import Method
from sqlalchemy import MetaData

from shared.bus import store
from shared.bus.leases import retry_delay
from shared.bus.publisher import broker_user
from shared.bus.relay import Relay


@pytest.fixture
def relay(monkeypatch):
    tables = store.define_tables(MetaData())
    platform = SimpleNamespace(
        settings=SimpleNamespace(service="intake", amqp_urls=["amqp://u:p@h/v"], exchange="hybrid.events", extra={}),
        tables=tables, engine=SimpleNamespace(dialect=SimpleNamespace(name="postgresql")))
    relay = Relay(platform, window=100, batch=50)
    monkeypatch.setattr(relay.leases, "flush_in_background", lambda: None)
    monkeypatch.setattr(relay, "_pump", lambda: None)
    for tag in range(1, 6):
        relay.publisher.inflight[tag] = (100 + tag, f"m{tag}", 0)
    relay.publisher._next_tag = 5
    yield relay
    relay.leases.close()


def confirm(relay, method_class, tag, multiple):
    relay.publisher._on_confirm(Method(1, method_class(delivery_tag=tag, multiple=multiple)))


def test_a_multiple_ack_confirms_every_tag_up_to_it(relay):
    confirm(relay, pika.spec.Basic.Ack, 3, True)
    assert relay.leases._confirmed == [101, 102, 103] and relay.leases._failed == []
    assert list(relay.publisher.inflight) == [4, 5]
    confirm(relay, pika.spec.Basic.Ack, 5, False)
    assert relay.leases._confirmed == [101, 102, 103, 105] and list(relay.publisher.inflight) == [4]


def test_confirms_out_of_order_settle_each_tag_once(relay):
    confirm(relay, pika.spec.Basic.Ack, 5, False)  # a single ack above the lowest unsettled tag
    confirm(relay, pika.spec.Basic.Ack, 2, True)
    assert relay.leases._confirmed == [105, 101, 102] and list(relay.publisher.inflight) == [3, 4]
    confirm(relay, pika.spec.Basic.Ack, 4, True)  # covers 3 and 4; 5 is not settled twice
    assert relay.leases._confirmed == [105, 101, 102, 103, 104] and relay.publisher.inflight == {}
    assert relay.publisher._lowest_tag == 6  # the next range starts after every settled tag


def test_a_nack_or_a_return_is_not_sent(relay):
    relay.publisher._on_return(None, SimpleNamespace(reply_code=312, reply_text="NO_ROUTE"),
                     SimpleNamespace(message_id="m2"), b"")
    confirm(relay, pika.spec.Basic.Ack, 2, True)  # the broker acks a returned message too
    confirm(relay, pika.spec.Basic.Nack, 4, True)
    assert relay.leases._confirmed == [101]
    assert [(row, error.split(":")[0]) for row, _attempts, error in relay.leases._failed] == [
        (102, "returned by broker"), (103, "nacked by broker"), (104, "nacked by broker")]
    assert list(relay.publisher.inflight) == [5]


def test_after_a_nack_the_channel_is_renewed_once_its_confirms_are_in(relay):
    """A nack may mean the channel's quorum-queue state is stale (shared/bus/README.md): nothing more is published
    on it, and it is closed (and so reopened) when nothing is in flight."""
    pump = Relay._pump.__get__(relay)  # the real pump; the fixture stubs it out for the bookkeeping tests
    closed, published, timers = [], [], []
    relay.publisher.channel = SimpleNamespace(is_open=True, close=lambda: closed.append(True),
                                              basic_publish=lambda *args, **kwargs: published.append(args))
    relay.publisher._confirming = True
    relay.publisher.connection = SimpleNamespace(ioloop=SimpleNamespace(
        call_later=lambda s, f: timers.append(s) or s, remove_timeout=lambda timer: None))
    row = SimpleNamespace(id=200, message_id="m200", routing_key="office.x.bus.probe", body=b"{}",
                          correlation_id="c", attempts=0)
    relay._ready.append((float("inf"), deque([row])))
    relay._ready_rows = 1
    relay.publisher._on_return(None, SimpleNamespace(reply_code=312, reply_text="NO_ROUTE"),
                     SimpleNamespace(message_id="m1"), b"")
    confirm(relay, pika.spec.Basic.Ack, 1, False)  # returned, not nacked: the channel is fine
    assert relay.publisher._renew_channel is False
    confirm(relay, pika.spec.Basic.Nack, 3, True)
    pump()
    assert published == [] and closed == [] and timers == [1.0]  # 4 and 5 still in flight: wait for them
    confirm(relay, pika.spec.Basic.Ack, 5, True)
    pump()
    assert published == [] and closed == [True]
    assert [r.id for _use_before, rows in relay._ready for r in rows] == [200]  # kept for the next channel
    fresh = SimpleNamespace(add_on_close_callback=lambda cb: None, add_on_return_callback=lambda cb: None,
                            confirm_delivery=lambda *args, **kwargs: None)
    relay.publisher._on_channel_open(fresh)
    assert relay.publisher._renew_channel is False and relay.publisher.channel is fresh


def test_the_publisher_identity_and_backoff():
    assert broker_user("amqp://t1-probe:secret@127.0.0.1:5672/t-1") == "t1-probe"
    assert broker_user("amqp://office%2Dx:pw@h/v") == "office-x"
    assert [retry_delay(n) for n in (1, 2, 3)] == [2.0, 4.0, 8.0]
    assert retry_delay(50) == 300.0
