"""The outbox relay: publishes outbox rows with pipelined publisher confirms and marks them sent after the confirm.

How it stays correct when killed at any moment (at-least-once; consumers dedupe by message id):
- rows are *claimed* for a short lease (claimed_by/claimed_until; `FOR UPDATE SKIP LOCKED` on PostgreSQL, so
  several relays share the work); a relay that dies leaves leases that simply expire;
- each row is published persistent, `mandatory`, with message_id = the envelope's id and user_id = the broker
  user (so the broker itself validates who publishes), and marked sent only after the broker's ack. Only those
  four properties travel (with correlation_id): the body is the envelope, which every consumer validates, and it
  already names the type, the producer and the time;
- a nack, a basic.return (unroutable) or a channel closed by the broker (e.g. ACCESS_REFUSED) leaves the row
  unsent with attempts+1 and last_error, retried later with exponential backoff (claimed_until is the earliest
  next try);
- after a nack the relay publishes nothing more on that channel and, once its last confirm is in, opens a new
  one: with a node of a cluster stopped, RabbitMQ 3.10 was seen nacking every later publish to a quorum queue
  whose leader moved, on that one channel, for minutes, while a fresh channel went through at once
  (tests/cluster).
Speed comes from keeping a WINDOW of unconfirmed messages in flight (one synchronous confirm per message caps a
relay at a twentieth of what the broker can take), from claiming BATCHes ahead of the window on helper threads
(rows are ready when confirms make room; two claims at once on PostgreSQL), from one set-based "sent" UPDATE per batch of confirms on another helper
thread, and, on PostgreSQL, from committing the relay's own bookkeeping without waiting for the WAL flush: a lease
or "sent" mark lost in a database crash only means a row is published again, which consumers dedupe.

Tuning through the service's environment: <SVC>_RELAY_WINDOW, <SVC>_RELAY_BATCH, <SVC>_RELAY_LEASE_SECONDS,
<SVC>_RELAY_POLL_SECONDS.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import unquote, urlparse

import pika
from pika.adapters.utils import io_services_utils
from prometheus_client import Counter, Gauge
from sqlalchemy import bindparam, func, or_, select, text, update

from shared.config import env_int
from shared.db import is_transient, utcnow
from shared.logs import log_event

from .metrics import serve_metrics

log = logging.getLogger("shared.bus.relay")

PUBLISHED = Counter("bus_relay_published_total", "Outbox rows handed to the broker (basic.publish)", ["service"])
CONFIRMED = Counter("bus_relay_confirmed_total", "Publishes the broker confirmed (acked and not returned)", ["service"])
RETURNED = Counter("bus_relay_returned_total", "Publishes the broker returned as unroutable (mandatory)", ["service"])
FAILED = Counter("bus_relay_failed_total", "Publishes nacked, returned or refused (retried later)", ["service"])
SENT = Counter("bus_relay_marked_sent_total", "Outbox rows marked sent after their confirm", ["service"])
CLAIMS = Counter("bus_relay_claims_total", "Batches of outbox rows claimed (non-empty)", ["service"])
BACKLOG = Gauge("bus_outbox_backlog", "Unsent outbox rows (read from the database when scraped)", ["service"])

MAX_BACKOFF_SECONDS = 300.0
RECONNECT_MAX_SECONDS = 5.0  # a broker back from a restart is found within seconds


class RelayStopped(Exception):
    pass


def broker_user(url: str) -> str:
    """The user name in an AMQP URL: published as user_id so the broker checks the publisher's identity."""
    return unquote(urlparse(url).username or "guest")


def retry_delay(attempts: int) -> float:
    return min(MAX_BACKOFF_SECONDS, 2.0 * 2 ** max(0, attempts - 1))


JOINED_WRITE_BYTES = 128 * 1024


def join_frames_before_sending(connection) -> bool:
    """Send a burst of publishes in few large writes instead of one send() per frame.

    pika 1.3 (pinned) gives each frame, three per message, its own socket send. Joining what is buffered when the
    socket becomes writable halved the relay's CPU per message and cut the broker's by a fifth (raw publishes
    of relay-sized messages, interleaved, machine under load). This reaches into pika's plain-TCP transport
    (`_tx_buffers`, `_produce`): only the queued chunks are joined, so pika's own partial-send and byte-count
    bookkeeping stay as they are. TLS is left alone (a retried SSL write must repeat the same buffer).
    Returns whether it applied; pika works unchanged if it did not."""
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
        self.window = window or env_int(extra, prefix + "WINDOW", 5000, minimum=1)
        self.batch = batch or env_int(extra, prefix + "BATCH", 2500, minimum=1)
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
        self._lowest_tag = 1  # every tag below it is settled: a multiple confirm covers [lowest, its tag]
        self._ready: deque = deque()  # claimed, not yet published: (use-before monotonic time, deque of rows)
        self._ready_rows = 0
        self._drained = False  # the last claim came back short: wait for the poll timer before claiming again
        self._claim_after = 0  # claims continue after this id; 0 = sweep from the start
        self._sweep_started = time.monotonic()
        self._returned: dict[str, str] = {}  # message id -> reason (basic.return arrives before its ack)
        self._confirmed: list[int] = []  # row ids confirmed, not yet marked sent
        self._failed: list[tuple] = []  # (row id, attempts, error)
        self._lists_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._flush_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="relay-flush")
        self._flush_future = None
        # PostgreSQL answers two claims at once (SKIP LOCKED keeps them apart); SQLite has one writer anyway.
        self._claims_at_once = 2 if self.is_postgres else 1
        self._claim_executor = ThreadPoolExecutor(max_workers=self._claims_at_once, thread_name_prefix="relay-claim")
        self._claim_futures: set = set()
        self._next_tag = 0
        self._timer = None
        self._db_backoff = 0.0
        self._renew_channel = False  # a nack came: open a new channel once this one's confirms are in

    # ------------------------------------------------------------ database side
    def claim(self, limit: int, after: int = 0) -> list:
        """Lease up to `limit` unsent, unleased rows with ids above `after`, in id order."""
        t = self.table
        now = utcnow()
        pending = (select(t.c.id)
                   .where(t.c.sent_at.is_(None), t.c.id > after,
                          or_(t.c.claimed_until.is_(None), t.c.claimed_until < now))
                   .order_by(t.c.sent_at, t.c.id).limit(limit))  # the index order: no sort
        if self.is_postgres:
            pending = pending.with_for_update(skip_locked=True)
        statement = (update(t).where(t.c.id.in_(pending.scalar_subquery()))
                     .values(claimed_by=self.name, claimed_until=now + self.lease)
                     .returning(t.c.id, t.c.message_id, t.c.routing_key, t.c.correlation_id, t.c.attempts, t.c.body))
        with self.platform.engine.begin() as conn:
            self._no_flush_wait(conn)
            rows = conn.execute(statement).all()
        rows.sort(key=lambda row: row.id)
        return rows

    def _no_flush_wait(self, conn) -> None:
        """PostgreSQL: commit without waiting for the WAL flush. Only the relay's bookkeeping is written here, and
        losing it in a database crash means a re-publish (at-least-once), never a lost or invented event."""
        if self.is_postgres:
            conn.execute(text("SET LOCAL synchronous_commit TO OFF"))

    def backlog(self) -> int:
        """Unsent rows."""
        t = self.table
        with self.platform.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(t).where(t.c.sent_at.is_(None))).scalar()

    def backlog_or_nan(self) -> float:
        """The backlog gauge, read when scraped: NaN while the database cannot answer (the scrape still works)."""
        try:
            return float(self.backlog())
        except Exception as error:
            if not is_transient(error):
                raise
            return float("nan")

    def flush(self) -> None:
        """Mark confirmed rows sent and failed rows for retry; kept in memory while the database is down.

        Runs on the ioloop thread or on the flush thread, one at a time (flush lock)."""
        with self._flush_lock:
            with self._lists_lock:
                confirmed, failed = self._confirmed, self._failed
                self._confirmed, self._failed = [], []
            if not confirmed and not failed:
                return
            try:
                self._write_outcomes(confirmed, failed)
            except BaseException:
                with self._lists_lock:  # keep them for the next try
                    self._confirmed[:0] = confirmed
                    self._failed[:0] = failed
                raise
        self.sent_count += len(confirmed)
        self.failed_count += len(failed)
        SENT.labels(self.service).inc(len(confirmed))
        if failed:
            FAILED.labels(self.service).inc(len(failed))
            log_event(log, "outbox rows not confirmed; retried later", logging.WARNING, count=len(failed),
                      relay=self.name, error=failed[0][2][:200])

    def _write_outcomes(self, confirmed, failed) -> None:
        t = self.table
        now = utcnow()
        with self.platform.engine.begin() as conn:
            self._no_flush_wait(conn)
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

    def _flush_in_background(self) -> None:
        """Mark rows sent on the flush thread while the ioloop keeps publishing (the database wait overlaps)."""
        if self._flush_future is None or self._flush_future.done():
            self._flush_future = self._flush_executor.submit(self._safe_flush)

    def _wait_background_flush(self) -> None:
        future, self._flush_future = self._flush_future, None
        if future is not None:
            future.result()

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
            join_frames_before_sending(connection)
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
        self._lowest_tag = 1
        self._drained = False
        self._renew_channel = False
        self._claim_after, self._sweep_started = 0, time.monotonic()  # rows released with the last connection
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(self._on_confirm, callback=lambda _frame: self._pump())

    def _on_channel_closed(self, channel, reason):
        if self._channel is not channel:
            return
        self._channel = None
        # Closed by the broker (ACCESS_REFUSED, PRECONDITION_FAILED...): what is in flight was not confirmed.
        # Claimed rows not yet published stay ready for the next channel (their lease still holds them).
        if self._inflight:
            text = f"channel closed by broker: {reason}"
            with self._lists_lock:
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
        RETURNED.labels(self.service).inc()
        self._returned[properties.message_id] = f"returned by broker: {method.reply_code} {method.reply_text}"

    def _on_confirm(self, frame):
        method = frame.method
        ack = isinstance(method, pika.spec.Basic.Ack)
        tag = method.delivery_tag
        inflight = self._inflight
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
        with self._lists_lock:
            self._confirmed.extend(confirmed)
            self._failed.extend(failed)
            enough = len(self._confirmed) >= self.batch
        if confirmed:
            CONFIRMED.labels(self.service).inc(len(confirmed))
        if enough or not inflight:
            self._flush_in_background()
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

    def _publish_ready(self) -> None:
        """Publish claimed rows while the window has room (the hot loop: one basic.publish per row).

        Only once half a batch fits (or all that is ready): a trickle of a few publishes per confirm costs the
        broker and this loop more per message than bursts do."""
        room = self.window - len(self._inflight)
        if room < min(self._ready_rows, max(1, min(self.batch, self.window) // 2)) or not self._ready:
            return
        channel, exchange, user, inflight = self._channel, self.exchange, self._user, self._inflight
        published = 0
        while room > 0 and self._ready:
            use_before, rows = self._ready[0]
            if time.monotonic() >= use_before:  # waited too long: its lease may be someone else's by now
                self._ready.popleft()
                self._ready_rows -= len(rows)
                continue
            while room > 0 and rows:
                row = rows.popleft()
                channel.basic_publish(exchange, row.routing_key, bytes(row.body), pika.BasicProperties(
                    delivery_mode=2, message_id=row.message_id, correlation_id=row.correlation_id, user_id=user),
                    mandatory=True)
                self._next_tag += 1
                inflight[self._next_tag] = (row.id, row.message_id, row.attempts)
                room -= 1
                published += 1
            if not rows:
                self._ready.popleft()
        self._ready_rows -= published
        PUBLISHED.labels(self.service).inc(published)

    def _take_ready(self) -> list:
        """Every claimed, unpublished row id (to give back), emptying the ready queue."""
        row_ids = [row.id for _use_before, rows in self._ready for row in rows]
        self._ready.clear()
        self._ready_rows = 0
        return row_ids

    def _pump(self) -> None:
        """Publish what is claimed while the window has room, and keep batches claimed ahead of it; when the
        outbox is drained and everything is confirmed, poll again later (or finish).

        Claims run on their own thread so that the database's answer overlaps with publishing and confirms."""
        self._cancel_timer()
        if self._channel is None or not self._channel.is_open:
            return
        if self.stopping:
            if self._ready:
                self._release_quietly(self._take_ready())
            if not self._inflight and not self._claim_futures:
                self._finish()
            return
        if self._renew_channel:  # see the module's docstring: after a nack, a new channel
            if self._inflight:
                self._schedule(1.0)
            else:
                log_event(log, "channel renewed after a nack", logging.WARNING, relay=self.name)
                self._channel.close()  # _on_channel_closed opens the next one
            return
        self._publish_ready()
        # Keep as many batches claimed ahead of the window (ready or being claimed) as claims may run at once.
        while (not self._drained and len(self._claim_futures) < self._claims_at_once
               and self._ready_rows + self.batch * len(self._claim_futures) < self.batch * self._claims_at_once):
            self._start_claim()
        if self._inflight or self._claim_futures or self._ready:
            if self._inflight:
                self._schedule(1.0)  # confirms pump again; the timer is a safety net if one went missing
            return
        flushed = self._safe_flush()  # drained and all confirmed
        if self.stop_when_idle and flushed:
            self.done = True
            self._finish()
            return
        self._schedule(max(self.poll_seconds if flushed else 1.0, self._db_backoff))

    def _start_claim(self) -> None:
        """Claim the next batch. During a burst a claim starts after the last row this relay claimed, rather than
        wading again through every row it has in flight; a sweep from the start (picking up released, retried or
        expired rows) follows whenever the outbox is drained, the connection is new, or a lease period has passed."""
        limit = self.batch
        if time.monotonic() - self._sweep_started > self.lease.total_seconds():
            self._claim_after, self._sweep_started = 0, time.monotonic()
        ioloop = self._connection.ioloop
        future = self._claim_executor.submit(self.claim, limit, self._claim_after)
        self._claim_futures.add(future)

        def claimed(done):
            try:
                ioloop.add_callback_threadsafe(lambda: self._on_claimed(done, limit))
            except Exception:  # the connection's loop is gone; _run releases the rows
                pass
        future.add_done_callback(claimed)

    def _on_claimed(self, future, limit: int) -> None:
        if future not in self._claim_futures:
            return  # the connection it was claimed for is gone: _run released its rows
        self._claim_futures.discard(future)
        try:
            rows = future.result()
            self._db_backoff = 0.0
        except Exception as error:
            if not is_transient(error):
                raise
            self._db_backoff = min(30.0, max(0.5, self._db_backoff * 2))
            log_event(log, "database unavailable; relay waits", logging.WARNING, error=type(error).__name__,
                      retry_in=self._db_backoff)
            self._drained = True  # the timer claims again
            self._schedule(self._db_backoff)
            return
        if self._channel is None or not self._channel.is_open or self.stopping:
            self._release_quietly([row.id for row in rows])
            if self.stopping and not self._inflight and not self._claim_futures:
                self._finish()
            return
        if rows:
            self._claim_after = max(self._claim_after, rows[-1].id)
            CLAIMS.labels(self.service).inc()
            # Published well inside the lease, or dropped (and claimed again once the lease has run out).
            self._ready.append((time.monotonic() + self.lease.total_seconds() / 2, deque(rows)))
            self._ready_rows += len(rows)
        if len(rows) < limit:
            self._drained = True  # until the poll timer, which sweeps from the start
            self._claim_after, self._sweep_started = 0, time.monotonic()
        self._pump()

    def _release_quietly(self, row_ids) -> None:
        try:
            self.release(row_ids)
        except Exception as error:
            if not is_transient(error):
                raise  # otherwise their lease simply expires

    def _schedule(self, seconds: float) -> None:
        self._cancel_timer()
        self._timer = self._connection.ioloop.call_later(seconds, self._on_timer)

    def _on_timer(self):
        self._timer = None
        self._drained = False  # poll the outbox again
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
        try:
            return self._run()
        finally:
            self._claim_executor.shutdown(wait=True)
            self._flush_executor.shutdown(wait=True)

    def _run(self) -> int:
        failures = 0
        attempt = 0
        while not (self.stopping or self.done):
            url = self.urls[attempt % len(self.urls)]
            opened = self._connect(url)
            lost = [row_id for row_id, _mid, _a in self._inflight.values()] + self._take_ready()
            for future in self._claim_futures:  # claimed while the connection went away: never published
                try:
                    lost += [row.id for row in future.result()]
                except Exception:
                    pass
            self._claim_futures.clear()
            self._inflight.clear()
            self._returned.clear()
            self._safe_flush()
            self._release_quietly(lost)
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
    metrics = serve_metrics(platform.settings, "relay")
    if metrics is not None:
        BACKLOG.labels(relay.service).set_function(relay.backlog_or_nan)
    previous = {sig: signal.signal(sig, relay.request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    log_event(log, "relay started", relay=relay.name, window=relay.window, batch=relay.batch,
              brokers=len(relay.urls))
    try:
        relay.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if metrics is not None:
            metrics.shutdown()
        log_event(log, "relay stopped", relay=relay.name, sent=relay.sent_count, failed=relay.failed_count)


def relay_pending(platform, **kwargs) -> int:
    """Publish everything claimable now, wait for the confirms, and return how many rows were marked sent."""
    kwargs.setdefault("max_connect_failures", 5)
    relay = Relay(platform, stop_when_idle=True, **kwargs)
    return relay.run()
