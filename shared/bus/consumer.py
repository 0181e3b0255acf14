"""The idempotent consumer base: inbox row and effect in one transaction, ack only after commit.

A service declares `ConsumerSpec(queue="registry.ingest", handlers={"case.closed": fn, ...})` and sets
`app.extensions["consumer_spec"]`; `flask bus consume` runs it. A handler is `fn(conn, envelope, platform)`:
it makes its effect with `conn` only (the open transaction that also records the inbox row; never commit, never
talk to the outside world from a handler: a batch may be replayed), reads `envelope["payload"]` already loaded
by the event's schema, and raises `Reject("reason")` for a message that can never succeed.

Outcome contract, per message:
- invalid envelope or payload, or Reject, or a non-transient error in the handler -> basic.reject without
  requeue -> the queue's dead-letter queue (by policy), where `flask bus dead-letters` / `bus replay` see it; the
  reason, as logged, is kept in the service's `rejected_messages` table (shared.bus.store) in a transaction of its
  own after the batch's, so the listing shows why;
- already in the inbox (a redelivery) -> acknowledged, no effect;
- type without a handler -> acknowledged and ignored;
- transient failure (database down, lock timeout) -> the whole batch is rolled back and retried with
  exponential backoff; nothing is acknowledged before its commit.

Speed: messages are taken in batches (prefetch = 2 x batch, so the next batch streams in while one is being
written); a batch is one transaction (a savepoint per message only when some message fails), then one
`basic.ack(multiple)`. Tuning: <SVC>_CONSUMER_BATCH.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import signal
import time
from dataclasses import dataclass, field

import pika
from prometheus_client import Counter
from sqlalchemy import Text, any_, bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError

from shared.config import env_int
from shared.db import is_transient, utcnow
from shared.events import registered_types, schema_for
from shared.logs import correlation_id, log_event

from . import store
from .connection import connection_parameters, run_connections
from .envelope import EnvelopeSchema, InvalidEvent, decode, validate_envelope
from .metrics import serve_metrics

log = logging.getLogger("shared.bus.consumer")

CONSUMED = Counter("bus_consumed_total", "Messages settled by consumers (outcome: processed, duplicate, ignored, "
                   "rejected = dead-lettered)", ["queue", "outcome"])
RETRIES = Counter("bus_consumer_retries_total", "Batches rolled back by a transient failure (database down) and "
                  "retried after a backoff, nothing acknowledged", ["queue"])
MAX_BACKOFF_SECONDS = 30.0


class Reject(Exception):
    """A message that can never be processed: it goes to the dead-letter queue (the reason is logged and kept).

    The reason holds no personal data (codes and ids only); `case_id` names the case when the reason does, so
    the kept reason is erased with that case."""

    def __init__(self, reason: str, case_id=None):
        super().__init__(reason)
        self.reason = reason
        self.case_id = str(case_id) if case_id is not None else None


@dataclass
class ConsumerSpec:
    """queue: the consumer's quorum queue (also its name in the inbox). handlers: event type -> fn(conn, envelope,
    platform). batch_handlers (optional, for throughput): event type -> fn(conn, envelopes, platform) doing the
    effect of many messages at once (e.g. one executemany), called in the order declared here for the messages
    between two of a one-at-a-time type; when a batch fails it is called again with one envelope at a time, each
    in its own savepoint, so a Reject still hits only its own message."""
    queue: str
    handlers: dict = field(default_factory=dict)
    batch_handlers: dict = field(default_factory=dict)

    def handles(self, event_type: str) -> bool:
        return event_type in self.handlers or event_type in self.batch_handlers


@dataclass
class Delivery:
    tag: int
    message_id: str | None
    envelope: dict | None = None
    outcome: str = "pending"  # processed | duplicate | ignored | rejected
    reason: str | None = None
    case_id: str | None = None  # the case a Reject's reason names
    # The message id the broker carries, by which the dead-letter listing and replay name the message (the
    # envelope's own id once loaded is `message_id`; the relay sends both the same).
    broker_message_id: str | None = None

    def __post_init__(self):
        if self.broker_message_id is None:
            self.broker_message_id = self.message_id

    def settle(self, outcome: str, reason: str | None = None, case_id: str | None = None) -> None:
        self.outcome, self.reason, self.case_id = outcome, reason, case_id


@dataclass
class Stats:
    processed: int = 0
    duplicate: int = 0
    ignored: int = 0
    rejected: int = 0
    batches: int = 0
    first_at: float | None = None  # time.monotonic() when the first batch arrived / the last was settled
    last_at: float | None = None

    def add(self, deliveries, started_at=None):
        self.first_at = self.first_at or started_at
        self.last_at = time.monotonic()
        for delivery in deliveries:
            setattr(self, delivery.outcome, getattr(self, delivery.outcome) + 1)
        self.batches += 1

    @property
    def total(self):
        return self.processed + self.duplicate + self.ignored + self.rejected


class _RetryCarefully(Exception):
    """Internal: a message failed in the fast path; redo the batch with a savepoint per message."""


def _message_id(envelope) -> str:
    return str(envelope["message_id"])


# The field names the contracts declare: an invalid message's reason names only these (any other key is the
# sender's text and could hold anything, so it is only counted).
_CONTRACT_FIELDS = frozenset({"body", *EnvelopeSchema._declared_fields}.union(
    *(schema_for(*key)._declared_fields for key in registered_types())))


def invalid_reason(errors) -> str:
    named = sorted(name for name in map(str, errors) if name in _CONTRACT_FIELDS)
    others = len(errors) - len(named)
    return "invalid: " + ",".join(named + ([f"{others} unknown field(s)"] if others else []))


def _load(body: bytes, delivery: Delivery) -> None:
    try:
        envelope = decode(body)
    except InvalidEvent as error:
        delivery.settle("rejected", invalid_reason(error.errors))
        return
    envelope["message_id"] = _message_id(envelope)
    delivery.envelope = envelope
    delivery.message_id = envelope["message_id"]


def _inbox_statements(inbox, dialect_name: str):
    """(the query of a batch's message ids already in the inbox, the insert of a batch's rows or None for an
    executemany). On PostgreSQL the ids go as one array each: the multi-row INSERT of a batch (250 rows, 1,000
    parameters) cost the server 12 ms to parse and plan against 3 ms for the same rows from arrays, and the query
    of 250 ids as an array about half its time as a list of 250 parameters."""
    if dialect_name != "postgresql":
        return select(inbox.c.message_id).where(inbox.c.consumer == bindparam("consumer"), inbox.c.message_id.in_(
            bindparam("ids", expanding=True))), None
    ids, types = bindparam("ids", type_=ARRAY(Text)), bindparam("types", type_=ARRAY(Text))
    seen_of = select(inbox.c.message_id).where(inbox.c.consumer == bindparam("consumer"),
                                               inbox.c.message_id == any_(ids))
    given = func.unnest(ids, types).table_valued("message_id", "event_type").render_derived("given")
    rows = select(bindparam("consumer", type_=inbox.c.consumer.type), given.c.message_id, given.c.event_type,
                  bindparam("at", type_=inbox.c.processed_at.type))
    return seen_of, insert(inbox).from_select(["consumer", "message_id", "event_type", "processed_at"], rows)


class BatchProcessor:
    """The database half of a consumer: no broker here, so handler tests (apply_envelope) use the same path."""

    def __init__(self, platform, spec: ConsumerSpec):
        self.platform = platform
        self.spec = spec
        self.inbox = platform.tables["inbox"]
        self._seen_of, self._insert_inbox = _inbox_statements(self.inbox, platform.engine.dialect.name)

    def process(self, deliveries: list[Delivery]) -> None:
        """Settle every delivery's outcome in one committed transaction, then keep the reasons of the rejected ones
        in another; transient errors propagate (the batch is then retried whole: its inbox rows make that safe)."""
        live = [d for d in deliveries if d.envelope is not None]
        for delivery in live:
            delivery.settle("pending")
        if live:
            try:
                with self.platform.engine.begin() as conn:
                    self._run(conn, live, careful=False)
            except _RetryCarefully:
                for delivery in live:
                    delivery.settle("pending")
                with self.platform.engine.begin() as conn:
                    self._run(conn, live, careful=True)
        self._record_rejections(deliveries)

    def _record_rejections(self, deliveries: list[Delivery]) -> None:
        """After the batch's own transaction (which rolled a rejected message's work back), so the reason stays.
        A message without a broker message id cannot be named by the listing: only its log line tells."""
        now = utcnow()
        rows = [{"consumer": self.spec.queue, "message_id": d.broker_message_id,
                 "event_type": d.envelope["type"] if d.envelope else None, "reason": d.reason,
                 "case_id": d.case_id, "rejected_at": now}
                for d in deliveries if d.outcome == "rejected" and d.broker_message_id]
        if rows:
            with self.platform.engine.begin() as conn:
                store.record_rejections(conn, rows)

    def _run(self, conn, live, careful: bool) -> None:
        inbox = self.inbox
        ids = [d.message_id for d in live]
        seen = set(conn.execute(self._seen_of, {"consumer": self.spec.queue, "ids": ids}).scalars())
        todo = []
        for delivery in live:
            if delivery.message_id in seen:
                delivery.outcome = "duplicate"
                continue
            seen.add(delivery.message_id)
            if not self.spec.handles(delivery.envelope["type"]):
                delivery.outcome = "ignored"
                continue
            todo.append(delivery)
        if not todo:
            return
        now = utcnow()
        rows = [{"consumer": self.spec.queue, "message_id": d.message_id, "event_type": d.envelope["type"],
                 "processed_at": now} for d in todo]
        if not careful:
            try:
                if self._insert_inbox is None:
                    conn.execute(insert(inbox), rows)
                else:
                    conn.execute(self._insert_inbox, {"consumer": self.spec.queue, "at": now,
                                                      "ids": [d.message_id for d in todo],
                                                      "types": [d.envelope["type"] for d in todo]})
            except IntegrityError:
                raise _RetryCarefully() from None  # another consumer got one of them first
            try:
                self._handle_in_runs(conn, todo)
            except Exception as error:
                if is_transient(error):
                    raise
                raise _RetryCarefully() from None
            for delivery in todo:
                delivery.outcome = "processed"
            return
        for delivery, row in zip(todo, rows, strict=True):
            savepoint = conn.begin_nested()  # one Reject must not undo the others
            try:
                try:
                    conn.execute(insert(inbox), row)
                except IntegrityError:
                    savepoint.rollback()
                    delivery.outcome = "duplicate"
                    continue
                self._handle(conn, delivery)
                savepoint.commit()
                delivery.outcome = "processed"
            except Reject as error:
                savepoint.rollback()  # the inbox row goes too: a replay from the dead-letter queue runs again
                delivery.settle("rejected", error.reason, error.case_id)
            except Exception as error:
                if is_transient(error):
                    raise
                savepoint.rollback()
                delivery.settle("rejected", f"handler error: {type(error).__name__}")
                log_event(log, "handler failed; message dead-lettered", logging.ERROR, queue=self.spec.queue,
                          message_id=delivery.message_id, event_type=delivery.envelope["type"],
                          error=type(error).__name__)

    def _handle_in_runs(self, conn, todo: list[Delivery]) -> None:
        """Messages of batch-handled types are gathered per type, but never past a message of a one-at-a-time type:
        that one runs after the messages before it and before those after it (a withdrawal after a closure stays
        after it). Between two such messages the batch handlers run in the order the spec declares them."""
        grouped: dict[str, list] = {}

        def flush():
            for event_type, handler in self.spec.batch_handlers.items():
                if event_type in grouped:
                    handler(conn, [d.envelope for d in grouped[event_type]], self.platform)
            grouped.clear()

        for delivery in todo:
            event_type = delivery.envelope["type"]
            if event_type in self.spec.batch_handlers:
                grouped.setdefault(event_type, []).append(delivery)
            else:
                flush()
                self._handle(conn, delivery)
        flush()

    def _handle(self, conn, delivery: Delivery) -> None:
        token = correlation_id.set(delivery.envelope["correlation_id"])
        try:
            event_type = delivery.envelope["type"]
            if event_type in self.spec.handlers:
                self.spec.handlers[event_type](conn, delivery.envelope, self.platform)
            else:
                self.spec.batch_handlers[event_type](conn, [delivery.envelope], self.platform)
        finally:
            correlation_id.reset(token)


class Consumer:
    def __init__(self, platform, spec: ConsumerSpec, batch: int | None = None, idle_seconds: float | None = None,
                 max_connect_failures: int | None = None):
        settings = platform.settings
        self.platform = platform
        self.spec = spec
        self.processor = BatchProcessor(platform, spec)
        self.urls = list(settings.amqp_urls)
        self.batch = batch or env_int(settings.extra, settings.service.upper() + "_CONSUMER_BATCH", 250, minimum=1)
        self.prefetch = min(65535, self.batch * 2)
        self.idle_seconds = idle_seconds  # drain mode: return after this long without a message
        self.max_connect_failures = max_connect_failures
        self.stopping = False
        self._done = False  # stopped, or idle in drain mode
        self.stats = Stats()
        self._buffer: list = []
        self._connection = None

    def request_stop(self, *_args):
        self.stopping = True

    def _on_message(self, _channel, method, properties, body):
        self._buffer.append((method.delivery_tag, properties, body))

    def run(self) -> Stats:
        run_connections(self.urls, self._run_connection, lambda: self.stopping or self._done,
                        self.max_connect_failures, who=self.spec.queue)
        return self.stats

    def _run_connection(self, url: str) -> bool:
        """Consume on one connection until it is lost or the consumer is done; returns whether it opened."""
        opened = False
        try:
            self._connection = pika.BlockingConnection(connection_parameters(url))
            opened = True
            self._done = self._consume(self._connection)
        except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError,
                pika.exceptions.StreamLostError, ConnectionError, OSError) as error:
            log_event(log, "broker connection lost" if opened else "broker connection failed", logging.WARNING,
                      queue=self.spec.queue, error=type(error).__name__, detail=str(error)[:200])
        finally:
            self._buffer.clear()  # unacked deliveries come back from the broker (and are deduplicated)
            if self._connection is not None and self._connection.is_open:
                try:
                    self._connection.close()
                except Exception:
                    pass
            self._connection = None
        return opened

    def _consume(self, connection) -> bool:
        """Consume on one connection; True when done (stopped, or idle in drain mode)."""
        channel = connection.channel()
        channel.basic_qos(prefetch_count=self.prefetch)
        channel.basic_consume(self.spec.queue, self._on_message)
        last_message = time.monotonic()
        while not self.stopping:
            connection.process_data_events(time_limit=0.2 if not self._buffer else 0)
            # Take what is already here, up to a batch (the broker streams the next one meanwhile).
            while self._buffer and len(self._buffer) < self.batch:
                before = len(self._buffer)
                connection.process_data_events(time_limit=0)
                if len(self._buffer) == before:
                    break
            if not self._buffer:
                if self.idle_seconds is not None and time.monotonic() - last_message >= self.idle_seconds:
                    return True
                continue
            batch, self._buffer = self._buffer[:self.batch], self._buffer[self.batch:]
            if not self._settle(connection, channel, batch):
                return True  # asked to stop while the database was down: nothing acked, all redelivered
            last_message = time.monotonic()
        return True

    def _settle(self, connection, channel, batch) -> bool:
        started_at = time.monotonic()
        deliveries = []
        for tag, properties, body in batch:
            delivery = Delivery(tag=tag, message_id=getattr(properties, "message_id", None))
            _load(body, delivery)
            deliveries.append(delivery)
        backoff = 0.0
        while True:
            try:
                self.processor.process(deliveries)
                break
            except Exception as error:
                if not is_transient(error):
                    raise
                backoff = min(MAX_BACKOFF_SECONDS, max(0.25, backoff * 2))
                RETRIES.labels(self.spec.queue).inc()
                log_event(log, "database unavailable; batch not acknowledged, retrying", logging.WARNING,
                          queue=self.spec.queue, count=len(deliveries), retry_in=backoff, error=type(error).__name__)
                connection.sleep(backoff)  # keeps the broker connection (heartbeats) alive
                if self.stopping:
                    return False
        # Counted once committed, before the acks: an ack lost with the connection does not undo the effect (its
        # redelivery is then counted a duplicate), so `processed` is every effect this consumer committed.
        before = dataclasses.replace(self.stats)
        self.stats.add(deliveries, started_at)
        for outcome in ("processed", "duplicate", "ignored", "rejected"):
            settled = getattr(self.stats, outcome) - getattr(before, outcome)
            if settled:
                CONSUMED.labels(self.spec.queue, outcome).inc(settled)
        last_ack = None
        for delivery in deliveries:
            if delivery.outcome == "rejected":
                channel.basic_reject(delivery.tag, requeue=False)
                log_event(log, "message dead-lettered", logging.WARNING, queue=self.spec.queue,
                          message_id=delivery.message_id,
                          event_type=delivery.envelope["type"] if delivery.envelope else None, reason=delivery.reason)
            else:
                last_ack = delivery.tag
        if last_ack is not None:
            channel.basic_ack(last_ack, multiple=True)
        if log.isEnabledFor(logging.DEBUG):
            log_event(log, "batch settled", logging.DEBUG, queue=self.spec.queue, count=len(deliveries),
                      processed=self.stats.processed - before.processed,
                      duplicate=self.stats.duplicate - before.duplicate)
        return True


def run_consumer(platform, spec: ConsumerSpec) -> Stats:
    """`flask bus consume`: consume until SIGTERM/SIGINT, across the configured broker addresses."""
    consumer = Consumer(platform, spec)
    metrics = serve_metrics(platform.settings, "consumer")
    previous = {sig: signal.signal(sig, consumer.request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    log_event(log, "consumer started", queue=spec.queue, batch=consumer.batch, brokers=len(consumer.urls))
    try:
        return consumer.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if metrics is not None:
            metrics.shutdown()
        log_event(log, "consumer stopped", queue=spec.queue, processed=consumer.stats.processed,
                  duplicate=consumer.stats.duplicate, rejected=consumer.stats.rejected)


def drain(platform, spec: ConsumerSpec, idle_seconds: float = 1.0, **kwargs) -> Stats:
    """Consume until the queue has been idle for idle_seconds; returns the counts (tests, demo seeding)."""
    kwargs.setdefault("max_connect_failures", 5)
    return Consumer(platform, spec, idle_seconds=idle_seconds, **kwargs).run()


def apply_envelope(platform, spec: ConsumerSpec, envelope: dict) -> str:
    """Process one envelope through the same inbox + handler transaction, without a broker.

    Returns "processed", "duplicate" or "ignored"; raises InvalidEvent for a bad envelope and Reject when the
    handler rejects it (nothing is written then)."""
    raw = json.loads(json.dumps(envelope, default=str))
    loaded = validate_envelope(raw)
    loaded["message_id"] = _message_id(loaded)
    delivery = Delivery(tag=0, message_id=loaded["message_id"], envelope=loaded)
    BatchProcessor(platform, spec).process([delivery])
    if delivery.outcome == "rejected":
        raise Reject(delivery.reason, delivery.case_id)
    return delivery.outcome
