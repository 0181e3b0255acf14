"""The outbox relay: publishes outbox rows and marks them sent after the broker's confirm (at-least-once; consumers
dedupe by message id). It can be killed at any moment: leases expire, and a row published but not marked sent is
published again.

Three parts:
- `shared.bus.leases.OutboxLeases` (database only): claims, leases, mark-sent, backoff of failed rows;
- `shared.bus.publisher.ConfirmingPublisher` (broker only): the window of unconfirmed messages, confirms, returns;
- `Relay` here, the driver between them on the publisher's ioloop: it keeps batches claimed ahead of the window
  (claims run on the leases' helper threads, so rows are ready when confirms make room), publishes them while the
  window has room, hands the outcomes to the leases (written on the flush thread once a batch of them is in, or
  when nothing is in flight), polls the outbox once it is drained, and reconnects (`shared.bus.connection`).

Tuning through the service's environment: <SVC>_RELAY_WINDOW (default 5000), <SVC>_RELAY_BATCH (2500),
<SVC>_RELAY_LEASE_SECONDS (30), <SVC>_RELAY_POLL_MS (200).
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import time
import uuid
from collections import deque
from datetime import timedelta

from prometheus_client import Counter, Gauge

from shared.config import env_int
from shared.db import is_transient
from shared.logs import log_event

from .connection import run_connections
from .leases import OutboxLeases
from .metrics import serve_metrics
from .publisher import ConfirmingPublisher

log = logging.getLogger("shared.bus.relay")

CLAIMS = Counter("bus_relay_claims_total", "Batches of outbox rows claimed (non-empty)", ["service"])
BACKLOG = Gauge("bus_outbox_backlog", "Unsent outbox rows (read from the database when scraped)", ["service"])


class Relay:
    def __init__(self, platform, window: int | None = None, batch: int | None = None,
                 lease_seconds: int | None = None, poll_seconds: float | None = None,
                 stop_when_idle: bool = False, max_connect_failures: int | None = None):
        settings = platform.settings
        extra, prefix = settings.extra, settings.service.upper() + "_RELAY_"
        self.service = settings.service
        self.urls = list(settings.amqp_urls)
        self.window = window or env_int(extra, prefix + "WINDOW", 5000, minimum=1)
        self.batch = batch or env_int(extra, prefix + "BATCH", 2500, minimum=1)
        lease = timedelta(seconds=lease_seconds or env_int(extra, prefix + "LEASE_SECONDS", 30, minimum=1))
        self.poll_seconds = poll_seconds or env_int(extra, prefix + "POLL_MS", 200, minimum=1) / 1000
        self.stop_when_idle = stop_when_idle
        self.max_connect_failures = max_connect_failures
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.leases = OutboxLeases(platform, self.name, lease)
        self.publisher = ConfirmingPublisher(settings.exchange, self.service, self.window,
                                             on_ready=self._on_channel_ready, on_settled=self._on_settled,
                                             on_channel_lost=self._on_channel_lost)
        self.stopping = False
        self.done = False
        self._ready: deque = deque()  # claimed, not yet published: (use-before monotonic time, deque of rows)
        self._ready_rows = 0
        self._claim_futures: set = set()
        self._drained = False  # the last claim came back short: wait for the poll timer before claiming again
        self._claim_after = 0  # claims continue after this id; 0 = sweep from the start
        self._sweep_started = time.monotonic()
        self._db_backoff = 0.0
        self._timer = None

    @property
    def sent_count(self) -> int:
        return self.leases.sent_count

    @property
    def failed_count(self) -> int:
        return self.leases.failed_count

    # ------------------------------------------------------------ the publisher's callbacks
    def _on_channel_ready(self) -> None:
        self._drained = False
        self._claim_after, self._sweep_started = 0, time.monotonic()  # rows released with the last connection
        self._pump()

    def _on_settled(self, confirmed: list, failed: list) -> None:
        waiting = self.leases.record(confirmed, failed)
        if waiting >= self.batch or not self.publisher.inflight:
            self.leases.flush_in_background()
        self._pump()

    def _on_channel_lost(self, failed: list) -> None:
        self.leases.record([], failed)
        self.leases.safe_flush()

    # ------------------------------------------------------------ scheduling
    def _pump(self) -> None:
        """Publish what is claimed while the window has room, and keep batches claimed ahead of it; when the
        outbox is drained and everything is confirmed, poll again later (or finish)."""
        self._cancel_timer()
        publisher = self.publisher
        if not publisher.is_open:
            return
        if self.stopping:
            if self._ready:
                self.leases.release_quietly(self._take_ready())
            if not publisher.inflight and not self._claim_futures:
                self._finish()
            return
        if publisher.renewing_after_nack(self.name):
            if publisher.inflight:
                self._schedule(1.0)
            return
        self._publish_ready()
        # Keep as many batches claimed ahead of the window (ready or being claimed) as claims may run at once.
        claims_at_once = self.leases.claims_at_once
        while (not self._drained and len(self._claim_futures) < claims_at_once
               and self._ready_rows + self.batch * len(self._claim_futures) < self.batch * claims_at_once):
            self._start_claim()
        if publisher.inflight or self._claim_futures or self._ready:
            if publisher.inflight:
                self._schedule(1.0)  # confirms pump again; the timer is a safety net if one went missing
            return
        flushed = self.leases.safe_flush()  # drained and all confirmed
        if self.stop_when_idle and flushed:
            self.done = True
            self._finish()
            return
        self._schedule(max(self.poll_seconds if flushed else 1.0, self._db_backoff))

    def _publish_ready(self) -> None:
        """Publish claimed rows while the window has room.

        Only once half a batch fits (or all that is ready): a trickle of a few publishes per confirm costs the
        broker and this loop more per message than bursts do."""
        room = self.publisher.room()
        if room < min(self._ready_rows, max(1, min(self.batch, self.window) // 2)) or not self._ready:
            return
        published = 0
        while room > 0 and self._ready:
            use_before, rows = self._ready[0]
            if time.monotonic() >= use_before:  # waited too long: its lease may be someone else's by now
                self._ready.popleft()
                self._ready_rows -= len(rows)
                continue
            count = min(room, len(rows))
            self.publisher.publish(rows, count)
            room -= count
            published += count
            if not rows:
                self._ready.popleft()
        self._ready_rows -= published

    def _take_ready(self) -> list:
        """Every claimed, unpublished row id (to give back), emptying the ready queue."""
        row_ids = [row.id for _use_before, rows in self._ready for row in rows]
        self._ready.clear()
        self._ready_rows = 0
        return row_ids

    def _start_claim(self) -> None:
        """Claim the next batch. During a burst a claim starts after the last row this relay claimed, rather than
        wading again through every row it has in flight; a sweep from the start (picking up released, retried or
        expired rows) follows whenever the outbox is drained, the channel is new, or a lease period has passed."""
        limit = self.batch
        if time.monotonic() - self._sweep_started > self.leases.lease.total_seconds():
            self._claim_after, self._sweep_started = 0, time.monotonic()
        ioloop = self.publisher.connection.ioloop
        future = self.leases.claim_in_background(limit, self._claim_after)
        self._claim_futures.add(future)

        def claimed(done):
            try:
                ioloop.add_callback_threadsafe(lambda: self._on_claimed(done, limit))
            except Exception:  # the connection's loop is gone; _run_connection releases the rows
                pass
        future.add_done_callback(claimed)

    def _on_claimed(self, future, limit: int) -> None:
        if future not in self._claim_futures:
            return  # the connection it was claimed for is gone: _run_connection released its rows
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
        if not self.publisher.is_open or self.stopping:
            self.leases.release_quietly([row.id for row in rows])
            if self.stopping and not self.publisher.inflight and not self._claim_futures:
                self._finish()
            return
        if rows:
            self._claim_after = max(self._claim_after, rows[-1].id)
            CLAIMS.labels(self.service).inc()
            # Published well inside the lease, or dropped (and claimed again once the lease has run out).
            self._ready.append((time.monotonic() + self.leases.lease.total_seconds() / 2, deque(rows)))
            self._ready_rows += len(rows)
        if len(rows) < limit:
            self._drained = True  # until the poll timer, which sweeps from the start
            self._claim_after, self._sweep_started = 0, time.monotonic()
        self._pump()

    def _schedule(self, seconds: float) -> None:
        self._cancel_timer()
        self._timer = self.publisher.connection.ioloop.call_later(seconds, self._on_timer)

    def _on_timer(self):
        self._timer = None
        self._drained = False  # poll the outbox again
        self.leases.safe_flush()
        self._pump()

    def _cancel_timer(self):
        if self._timer is not None:
            self.publisher.connection.ioloop.remove_timeout(self._timer)
        self._timer = None

    def _finish(self):
        self.publisher.closing = True
        self.leases.safe_flush()
        self.publisher.close()

    def request_stop(self, *_args) -> None:
        """Signal-safe: stop claiming, wait for what is in flight, mark it, close."""
        self.stopping = True
        self.publisher.closing = True
        connection = self.publisher.connection
        if connection is not None:
            try:
                connection.ioloop.add_callback_threadsafe(self._pump)
                connection.ioloop.add_callback_threadsafe(
                    lambda: connection.ioloop.call_later(10, self._finish))  # confirms never coming: give up
            except Exception:  # the loop is already closed
                pass

    # ------------------------------------------------------------ the loop
    def run(self) -> int:
        """Publish over the broker addresses in turn until stopped (or idle); returns how many rows were sent."""
        try:
            run_connections(self.urls, self._run_connection, lambda: self.stopping or self.done,
                            self.max_connect_failures, who=f"the {self.service} relay")
        finally:
            self.leases.close()
        return self.sent_count

    def _run_connection(self, url: str) -> bool:
        opened = self.publisher.run(url)
        self._timer = None  # it went with the connection's loop
        lost = self.publisher.take_unconfirmed() + self._take_ready()
        for future in self._claim_futures:  # claimed while the connection went away: never published
            try:
                lost += [row.id for row in future.result()]
            except Exception:
                pass
        self._claim_futures.clear()
        self.leases.safe_flush()
        self.leases.release_quietly(lost)
        return opened


def run_relay(platform) -> None:
    """`flask outbox relay`: publish until SIGTERM/SIGINT, across the configured broker addresses."""
    relay = Relay(platform)
    metrics = serve_metrics(platform.settings, "relay")
    if metrics is not None:
        BACKLOG.labels(relay.service).set_function(relay.leases.backlog_or_nan)
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
