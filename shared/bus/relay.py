"""The outbox relay: publishes outbox rows with pipelined publisher confirms and marks them sent after the confirm.

How it stays correct when killed at any moment (at-least-once; consumers dedupe by message id):
- rows are *claimed* for a short lease (claimed_by/claimed_until; `FOR UPDATE SKIP LOCKED` on PostgreSQL, so
  several relays share the work); a relay that dies leaves leases that simply expire;
- each row is published persistent, `mandatory`, with message_id = the envelope's id and user_id = the broker
  user (so the broker itself validates who publishes), and marked sent only after the broker's ack;
- a nack, a basic.return (unroutable) or a channel closed by the broker (e.g. ACCESS_REFUSED) leaves the row
  unsent with attempts+1 and last_error, retried later with exponential backoff (claimed_until is the earliest
  next try).
Speed comes from keeping a WINDOW of unconfirmed messages in flight (one synchronous confirm per message caps a
relay at a twentieth of what the broker can take) and from batched claims and batched "sent" updates.

Tuning through the service's environment: <SVC>_RELAY_WINDOW, <SVC>_RELAY_BATCH, <SVC>_RELAY_LEASE_SECONDS,
<SVC>_RELAY_POLL_SECONDS.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import time
import uuid
from datetime import timedelta
from urllib.parse import unquote, urlparse

import pika
from prometheus_client import Counter
from sqlalchemy import bindparam, or_, select, update

from shared.config import env_int
from shared.db import is_transient, utcnow
from shared.logs import log_event

log = logging.getLogger("shared.bus.relay")

PUBLISHED = Counter("bus_relay_published_total", "Outbox rows confirmed by the broker and marked sent", ["service"])
FAILED = Counter("bus_relay_failed_total", "Publishes nacked, returned or refused (retried later)", ["service"])

MAX_BACKOFF_SECONDS = 300.0
RECONNECT_MAX_SECONDS = 5.0  # a broker back from a restart is found within seconds


class RelayStopped(Exception):
    pass


def broker_user(url: str) -> str:
    """The user name in an AMQP URL: published as user_id so the broker checks the publisher's identity."""
    return unquote(urlparse(url).username or "guest")


def retry_delay(attempts: int) -> float:
    return min(MAX_BACKOFF_SECONDS, 2.0 * 2 ** max(0, attempts - 1))


class Relay:
    def __init__(self, platform, window: int | None = None, batch: int | None = None,
                 lease_seconds: int | None = None, poll_seconds: float | None = None,
                 stop_when_idle: bool = False, max_connect_failures: int | None = None):
        settings = platform.settings
        extra, prefix = settings.extra, settings.service.upper() + "_RELAY_"
        self.platform = platform
        self.service = settings.service
        self.urls = list(settings.amqp_urls)
        self.exchange = settings.exchange
        self.table = platform.tables["outbox"]
        self.is_postgres = platform.engine.dialect.name == "postgresql"
        self.window = window or env_int(extra, prefix + "WINDOW", 2000, minimum=1)
        self.batch = batch or env_int(extra, prefix + "BATCH", 1000, minimum=1)
        self.lease = timedelta(seconds=lease_seconds or env_int(extra, prefix + "LEASE_SECONDS", 30, minimum=1))
        self.poll_seconds = poll_seconds or env_int(extra, prefix + "POLL_MS", 200, minimum=1) / 1000
        self.stop_when_idle = stop_when_idle
        self.max_connect_failures = max_connect_failures
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stopping = False
        self.done = False
        self.sent_count = 0
        self.failed_count = 0
        self._connection = None
        self._channel = None
        self._user = None
        self._inflight: dict[int, tuple] = {}  # delivery tag -> (row id, message id, attempts)
        self._returned: dict[str, str] = {}  # message id -> reason (basic.return arrives before its ack)
        self._confirmed: list[int] = []  # row ids confirmed, not yet marked sent
        self._failed: list[tuple] = []  # (row id, attempts, error)
        self._next_tag = 0
        self._timer = None
        self._db_backoff = 0.0

    # ------------------------------------------------------------ database side
    def claim(self, limit: int) -> list:
        t = self.table
        now = utcnow()
        pending = (select(t.c.id)
                   .where(t.c.sent_at.is_(None), or_(t.c.claimed_until.is_(None), t.c.claimed_until < now))
                   .order_by(t.c.id).limit(limit))
        if self.is_postgres:
            pending = pending.with_for_update(skip_locked=True)
        statement = (update(t).where(t.c.id.in_(pending.scalar_subquery()))
                     .values(claimed_by=self.name, claimed_until=now + self.lease)
                     .returning(t.c.id, t.c.message_id, t.c.routing_key, t.c.event_type, t.c.correlation_id,
                                t.c.attempts, t.c.body))
        with self.platform.engine.begin() as conn:
            rows = conn.execute(statement).all()
        rows.sort(key=lambda row: row.id)
        return rows

    def flush(self) -> None:
        """Mark confirmed rows sent and failed rows for retry; kept in memory while the database is down."""
        if not self._confirmed and not self._failed:
            return
        t = self.table
        now = utcnow()
        confirmed, failed = self._confirmed, self._failed
        with self.platform.engine.begin() as conn:
            if confirmed:
                conn.execute(update(t).where(t.c.id.in_(bindparam("ids", expanding=True)))
                             .values(sent_at=now, claimed_by=None, claimed_until=None), {"ids": confirmed})
            if failed:
                conn.execute(update(t).where(t.c.id == bindparam("row_id"))
                             .values(attempts=t.c.attempts + 1, last_error=bindparam("error"),
                                     claimed_by=None, claimed_until=bindparam("retry_at")),
                             [{"row_id": row_id, "error": error[:1000],
                               "retry_at": now + timedelta(seconds=retry_delay(attempts + 1))}
                              for row_id, attempts, error in failed])
        self._confirmed, self._failed = [], []
        self.sent_count += len(confirmed)
        self.failed_count += len(failed)
        PUBLISHED.labels(self.service).inc(len(confirmed))
        if failed:
            FAILED.labels(self.service).inc(len(failed))
            log_event(log, "outbox rows not confirmed; retried later", logging.WARNING, count=len(failed),
                      message_ids=[], relay=self.name)

    def release(self, row_ids) -> None:
        """Give claimed but unconfirmed rows back at once (a lost connection is not the message's fault)."""
        if not row_ids:
            return
        t = self.table
        with self.platform.engine.begin() as conn:
            conn.execute(update(t).where(t.c.id.in_(bindparam("ids", expanding=True)), t.c.sent_at.is_(None),
                                         t.c.claimed_by == self.name)
                         .values(claimed_by=None, claimed_until=None), {"ids": list(row_ids)})

    # ------------------------------------------------------------ broker side
    def _connect(self, url: str) -> bool:
        """Run one connection until it closes. Returns True if it opened (resets the reconnect backoff)."""
        self._user = broker_user(url)
        opened = {"ok": False}
        params = pika.URLParameters(url)
        params.connection_attempts = 1
        params.socket_timeout = 5

        def on_open(connection):
            opened["ok"] = True
            connection.channel(on_open_callback=self._on_channel_open)

        def on_open_error(connection, error):
            log_event(log, "broker connection failed", logging.WARNING, host=params.host, port=params.port,
                      error=type(error).__name__)
            connection.ioloop.stop()

        def on_closed(connection, reason):
            if not self.stopping and not self.done:
                log_event(log, "broker connection closed", logging.WARNING, reason=str(reason)[:200])
            connection.ioloop.stop()

        self._connection = pika.SelectConnection(params, on_open_callback=on_open,
                                                 on_open_error_callback=on_open_error,
                                                 on_close_callback=on_closed)
        try:
            self._connection.ioloop.start()
        finally:
            self._channel = None
            self._cancel_timer()
            self._connection.ioloop.close()  # its wake-up socket pair
        return opened["ok"]

    def _on_channel_open(self, channel):
        self._channel = channel
        self._next_tag = 0
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(self._on_confirm, callback=lambda _frame: self._pump())

    def _on_channel_closed(self, channel, reason):
        if self._channel is not channel:
            return
        self._channel = None
        # Closed by the broker (ACCESS_REFUSED, PRECONDITION_FAILED...): what is in flight was not confirmed.
        if self._inflight:
            text = f"channel closed by broker: {reason}"
            self._failed.extend((row_id, attempts, text) for row_id, _mid, attempts in self._inflight.values())
            self._inflight.clear()
        if isinstance(reason, pika.exceptions.ChannelClosedByBroker):
            log_event(log, "channel closed by the broker", logging.ERROR, code=reason.reply_code,
                      text=reason.reply_text[:200])
        self._safe_flush()
        if self.stopping or self.done or not self._connection or not self._connection.is_open:
            return
        self._connection.ioloop.call_later(0.5, self._reopen_channel)

    def _reopen_channel(self):
        if self._connection and self._connection.is_open and self._channel is None:
            self._connection.channel(on_open_callback=self._on_channel_open)

    def _on_return(self, _channel, method, properties, _body):
        self._returned[properties.message_id] = f"returned by broker: {method.reply_code} {method.reply_text}"

    def _on_confirm(self, frame):
        method = frame.method
        ack = isinstance(method, pika.spec.Basic.Ack)
        tag = method.delivery_tag
        if method.multiple:
            tags = []
            for candidate in self._inflight:
                if candidate > tag:
                    break
                tags.append(candidate)
        else:
            tags = [tag] if tag in self._inflight else []
        for candidate in tags:
            row_id, message_id, attempts = self._inflight.pop(candidate)
            returned = self._returned.pop(message_id, None)
            if ack and returned is None:
                self._confirmed.append(row_id)
            else:
                self._failed.append((row_id, attempts, returned or "nacked by broker"))
        if len(self._confirmed) >= self.batch or not self._inflight:
            self._safe_flush()
        if len(self._inflight) <= self.window // 2:
            self._pump()

    def _safe_flush(self) -> bool:
        try:
            self.flush()
            return True
        except Exception as error:
            if not is_transient(error):
                raise
            log_event(log, "database unavailable; will mark rows later", logging.WARNING,
                      error=type(error).__name__, pending=len(self._confirmed))
            return False

    def _publish(self, row) -> None:
        self._channel.basic_publish(
            self.exchange, row.routing_key, bytes(row.body),
            pika.BasicProperties(delivery_mode=2, content_type="application/json", message_id=row.message_id,
                                 correlation_id=row.correlation_id, type=row.event_type, user_id=self._user,
                                 app_id=self.service),
            mandatory=True)
        self._next_tag += 1
        self._inflight[self._next_tag] = (row.id, row.message_id, row.attempts)

    def _pump(self) -> None:
        """Claim and publish while the window has room; when idle, poll again later (or finish)."""
        self._cancel_timer()
        if self._channel is None or not self._channel.is_open:
            return
        if self.stopping:
            if not self._inflight:
                self._finish()
            return
        while len(self._inflight) < self.window:
            try:
                rows = self.claim(min(self.batch, self.window - len(self._inflight)))
                self._db_backoff = 0.0
            except Exception as error:
                if not is_transient(error):
                    raise
                self._db_backoff = min(30.0, max(0.5, self._db_backoff * 2))
                log_event(log, "database unavailable; relay waits", logging.WARNING, error=type(error).__name__,
                          retry_in=self._db_backoff)
                self._schedule(self._db_backoff)
                return
            for row in rows:
                self._publish(row)
            if len(rows) < self.batch:
                break
        if self._inflight:
            self._schedule(1.0)  # safety net: flushes and pumps even if a confirm went missing
            return
        flushed = self._safe_flush()
        if self.stop_when_idle and flushed:
            self.done = True
            self._finish()
            return
        self._schedule(self.poll_seconds if flushed else 1.0)

    def _schedule(self, seconds: float) -> None:
        self._cancel_timer()
        self._timer = self._connection.ioloop.call_later(seconds, self._on_timer)

    def _on_timer(self):
        self._timer = None
        self._safe_flush()
        self._pump()

    def _cancel_timer(self):
        if self._timer is not None and self._connection is not None:
            self._connection.ioloop.remove_timeout(self._timer)
        self._timer = None

    def _finish(self):
        self._safe_flush()
        if self._connection and self._connection.is_open:
            self._connection.close()

    def request_stop(self, *_args) -> None:
        """Signal-safe: stop claiming, wait for what is in flight, mark it, close."""
        self.stopping = True
        connection = self._connection
        if connection is not None:
            try:
                connection.ioloop.add_callback_threadsafe(self._pump)
                connection.ioloop.add_callback_threadsafe(
                    lambda: connection.ioloop.call_later(10, self._finish))  # confirms never coming: give up
            except Exception:  # the loop is already closed
                pass

    # ------------------------------------------------------------ the loop
    def run(self) -> int:
        failures = 0
        attempt = 0
        while not (self.stopping or self.done):
            url = self.urls[attempt % len(self.urls)]
            opened = self._connect(url)
            lost = [row_id for row_id, _mid, _a in self._inflight.values()]
            self._inflight.clear()
            self._returned.clear()
            self._safe_flush()
            try:
                self.release(lost)
            except Exception as error:
                if not is_transient(error):
                    raise
            if self.stopping or self.done:
                break
            failures = 0 if opened else failures + 1
            if self.max_connect_failures is not None and failures >= self.max_connect_failures:
                raise ConnectionError(f"no broker reachable after {failures} attempts ({len(self.urls)} address(es))")
            attempt += 1
            delay = min(RECONNECT_MAX_SECONDS, 0.2 * 2 ** min(failures, 8)) if failures else 0.2
            deadline = time.monotonic() + delay
            while time.monotonic() < deadline and not self.stopping:
                time.sleep(0.05)
        return self.sent_count


def run_relay(platform) -> None:
    """`flask outbox relay`: publish until SIGTERM/SIGINT, across the configured broker addresses."""
    relay = Relay(platform)
    previous = {sig: signal.signal(sig, relay.request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    log_event(log, "relay started", relay=relay.name, window=relay.window, batch=relay.batch,
              brokers=len(relay.urls))
    try:
        relay.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log_event(log, "relay stopped", relay=relay.name, sent=relay.sent_count, failed=relay.failed_count)


def relay_pending(platform, **kwargs) -> int:
    """Publish everything claimable now, wait for the confirms, and return how many rows were marked sent."""
    kwargs.setdefault("max_connect_failures", 5)
    relay = Relay(platform, stop_when_idle=True, **kwargs)
    return relay.run()
