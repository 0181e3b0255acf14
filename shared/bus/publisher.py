"""The relay's broker half: one connection at a time, publishing outbox rows with pipelined publisher confirms.

No database here (`shared.bus.leases` is the other half, `shared.bus.relay` drives both). What it promises:
- each row is published persistent, `mandatory`, with message_id = the envelope's id and user_id = the broker user
  (so the broker itself checks who publishes). Only those properties travel (with correlation_id): the body is the
  envelope, which every consumer validates, and it already names the type, the producer and the time;
- a row counts as confirmed only on the broker's ack without a basic.return; a nack, a return (unroutable) or a
  channel closed by the broker (e.g. ACCESS_REFUSED) makes it failed;
- after a nack nothing more is published on that channel, and once its last confirm is in a new one is opened: a
  nack can mean the channel's view of a quorum queue is stale, which a fresh channel does not share
  (shared/bus/README.md).
Speed comes from keeping a window of unconfirmed messages in flight (one synchronous confirm per message caps a
relay far below what the broker takes) and from sending queued frames in few large writes.
"""
from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from urllib.parse import unquote, urlparse

import pika
from pika.adapters.utils import io_services_utils
from prometheus_client import Counter

from shared.logs import log_event

from .connection import connection_parameters

log = logging.getLogger("shared.bus.relay")  # one log for the relay, whichever of its parts writes

PUBLISHED = Counter("bus_relay_published_total", "Outbox rows handed to the broker (basic.publish)", ["service"])
CONFIRMED = Counter("bus_relay_confirmed_total", "Publishes the broker confirmed (acked and not returned)", ["service"])
RETURNED = Counter("bus_relay_returned_total", "Publishes the broker returned as unroutable (mandatory)", ["service"])

JOINED_WRITE_BYTES = 128 * 1024


def broker_user(url: str) -> str:
    """The user name in an AMQP URL: published as user_id so the broker checks the publisher's identity."""
    return unquote(urlparse(url).username or "guest")


def join_frames_before_sending(connection) -> bool:
    """Send a burst of publishes in few large writes instead of one send() per frame.

    pika 1.3 (pinned) gives each frame, three per message, its own socket send; joining them saves CPU on both ends
    (shared/bus/README.md). This reaches into pika's plain-TCP transport (`_tx_buffers`, `_produce`): only the
    queued chunks are joined, so pika's own partial-send and byte-count bookkeeping stay as they are. TLS is left
    alone (a retried SSL write must repeat the same buffer). Returns whether it applied; pika works unchanged if
    it did not."""
    transport = getattr(connection, "_transport", None)
    if type(transport) is not io_services_utils._AsyncPlaintextTransport or not hasattr(transport, "_tx_buffers"):
        return False
    produce = transport._produce

    def produce_joined():
        buffers = transport._tx_buffers
        if len(buffers) > 1:
            joined, part, size = [], [], 0
            for chunk in buffers:
                part.append(chunk)
                size += len(chunk)
                if size >= JOINED_WRITE_BYTES:
                    joined.append(b"".join(part))
                    part, size = [], 0
            if part:
                joined.append(b"".join(part))
            buffers.clear()
            buffers.extend(joined)
        produce()
    transport._produce = produce_joined
    return True


class ConfirmingPublisher:
    """Publishes rows (id, message_id, routing_key, correlation_id, attempts, body) on a confirm-mode channel and
    reports each one's outcome once. Runs on the pika ioloop of the connection it opened; callbacks:

    - on_ready(): a new channel takes publishes (its delivery tags start again from 1);
    - on_settled(confirmed row ids, failed [(row id, attempts, reason)]): confirms (and returns) came in, so the
      window has room again;
    - on_channel_lost(failed): the channel closed with these rows unconfirmed (it is reopened unless `closing`).
    """

    def __init__(self, exchange: str, service: str, window: int, on_ready: Callable[[], None],
                 on_settled: Callable[[list, list], None], on_channel_lost: Callable[[list], None]):
        self.exchange = exchange
        self.service = service
        self.window = window
        self.on_ready = on_ready
        self.on_settled = on_settled
        self.on_channel_lost = on_channel_lost
        self.closing = False  # set by the driver when it stops: no more channels, a closed connection is expected
        self.connection = None
        self.channel = None
        self._confirming = False  # the channel's Confirm.Select is answered: its delivery tags count from 1
        self._user = None
        self.inflight: dict[int, tuple] = {}  # delivery tag -> (row id, message id, attempts)
        self._next_tag = 0
        self._lowest_tag = 1  # every tag below it is settled: a multiple confirm covers [lowest, its tag]
        self._returned: dict[str, str] = {}  # message id -> reason (basic.return arrives before its ack)
        self._renew_channel = False  # a nack came: open a new channel once this one's confirms are in

    # ------------------------------------------------------------ connection and channel
    def run(self, url: str) -> bool:
        """Run one connection until it closes. Returns whether it opened (the reconnect loop's backoff resets)."""
        self._user = broker_user(url)
        opened = {"ok": False}
        params = connection_parameters(url)

        def on_open(connection):
            opened["ok"] = True
            join_frames_before_sending(connection)
            connection.channel(on_open_callback=self._on_channel_open)

        def on_open_error(connection, error):
            log_event(log, "broker connection failed", logging.WARNING, host=params.host, port=params.port,
                      error=type(error).__name__)
            connection.ioloop.stop()

        def on_closed(connection, reason):
            if not self.closing:
                log_event(log, "broker connection closed", logging.WARNING, reason=str(reason)[:200])
            connection.ioloop.stop()

        self.connection = pika.SelectConnection(params, on_open_callback=on_open,
                                                on_open_error_callback=on_open_error, on_close_callback=on_closed)
        try:
            self.connection.ioloop.start()
        finally:
            self.channel = None
            self._confirming = False
            self.connection.ioloop.close()  # its wake-up socket pair
        return opened["ok"]

    @property
    def is_open(self) -> bool:
        """A channel in confirm mode that takes publishes."""
        return self._confirming and self.channel is not None and self.channel.is_open

    def close(self) -> None:
        if self.connection is not None and self.connection.is_open:
            self.connection.close()

    def take_unconfirmed(self) -> list[int]:
        """The row ids still in flight when the connection is gone (never confirmed), forgetting them."""
        row_ids = [row_id for row_id, _mid, _attempts in self.inflight.values()]
        self.inflight.clear()
        self._returned.clear()
        return row_ids

    def _on_channel_open(self, channel):
        self.channel = channel
        self._confirming = False
        self._next_tag = 0
        self._lowest_tag = 1
        self._renew_channel = False
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(self._on_confirm, callback=self._on_confirm_mode)

    def _on_confirm_mode(self, _frame):
        self._confirming = True
        self.on_ready()

    def _on_channel_closed(self, channel, reason):
        if self.channel is not channel:
            return
        self.channel = None
        self._confirming = False
        # Closed by the broker (ACCESS_REFUSED, PRECONDITION_FAILED...): what is in flight was not confirmed.
        failed = []
        if self.inflight:
            text = f"channel closed by broker: {reason}"
            failed = [(row_id, attempts, text) for row_id, _mid, attempts in self.inflight.values()]
            self.inflight.clear()
        if isinstance(reason, pika.exceptions.ChannelClosedByBroker):
            log_event(log, "channel closed by the broker", logging.ERROR, code=reason.reply_code,
                      text=reason.reply_text[:200])
        self.on_channel_lost(failed)
        if self.closing or not self.connection or not self.connection.is_open:
            return
        self.connection.ioloop.call_later(0.5, self._reopen_channel)

    def _reopen_channel(self):
        if self.connection and self.connection.is_open and self.channel is None:
            self.connection.channel(on_open_callback=self._on_channel_open)

    def renewing_after_nack(self, relay_name: str) -> bool:
        """True while the channel is being renewed after a nack: nothing is published on it any more, and once its
        last confirm is in it is closed (the close reopens one)."""
        if not self._renew_channel:
            return False
        if not self.inflight:
            log_event(log, "channel renewed after a nack", logging.WARNING, relay=relay_name)
            self.channel.close()
        return True

    # ------------------------------------------------------------ publishing and confirms
    def room(self) -> int:
        """How many more publishes the window takes now."""
        return self.window - len(self.inflight)

    def publish(self, rows: deque, count: int) -> None:
        """Publish the first `count` rows of `rows`, taking them off it (the hot loop: one basic.publish each)."""
        channel, exchange, user, inflight = self.channel, self.exchange, self._user, self.inflight
        for _ in range(count):
            row = rows.popleft()
            channel.basic_publish(exchange, row.routing_key, bytes(row.body), pika.BasicProperties(
                delivery_mode=2, message_id=row.message_id, correlation_id=row.correlation_id, user_id=user),
                mandatory=True)
            self._next_tag += 1
            inflight[self._next_tag] = (row.id, row.message_id, row.attempts)
        PUBLISHED.labels(self.service).inc(count)

    def _on_return(self, _channel, method, properties, _body):
        RETURNED.labels(self.service).inc()
        self._returned[properties.message_id] = f"returned by broker: {method.reply_code} {method.reply_text}"

    def _on_confirm(self, frame):
        method = frame.method
        ack = isinstance(method, pika.spec.Basic.Ack)
        tag = method.delivery_tag
        inflight = self.inflight
        if method.multiple:  # the broker settles a range: every tag from the lowest unsettled one up to this one
            tags = range(self._lowest_tag, tag + 1)
        else:
            tags = (tag,)
        confirmed, failed = [], []
        returned = self._returned  # a basic.return arrives before the ack of the same message
        for candidate in tags:
            entry = inflight.pop(candidate, None)
            if entry is None:
                continue
            reason = returned.pop(entry[1], None) if returned else None
            if ack and reason is None:
                confirmed.append(entry[0])
            else:
                failed.append((entry[0], entry[2], reason or "nacked by broker"))
        if not ack and failed:
            self._renew_channel = True
        while self._lowest_tag <= self._next_tag and self._lowest_tag not in inflight:
            self._lowest_tag += 1
        if confirmed:
            CONFIRMED.labels(self.service).inc(len(confirmed))
        self.on_settled(confirmed, failed)
