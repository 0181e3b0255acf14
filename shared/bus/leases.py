"""The relay's database half: outbox rows leased to one relay, marked sent after their confirm, or put back with a
backoff. No broker here (`shared.bus.publisher` is the other half, `shared.bus.relay` drives both).

- A claim leases unsent, unleased rows (claimed_by/claimed_until; `FOR UPDATE SKIP LOCKED` on PostgreSQL, so that
  several relays share the work); a relay that dies leaves leases that simply expire.
- Confirmed rows are marked sent with one set-based UPDATE per flush; failed rows get attempts+1, last_error and
  claimed_until = the earliest next try (exponential backoff). Both wait in memory while the database is down.
- Claims and flushes run on helper threads so that the database's answer overlaps with publishing.
- On PostgreSQL the relay's bookkeeping commits without waiting for the WAL flush: a lease or "sent" mark lost in a
  database crash only means a row is published again, which consumers dedupe.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta

from prometheus_client import Counter
from sqlalchemy import bindparam, func, or_, select, text, update

from shared.db import is_transient, utcnow
from shared.logs import log_event

log = logging.getLogger("shared.bus.relay")  # one log for the relay, whichever of its parts writes

FAILED = Counter("bus_relay_failed_total", "Publishes nacked, returned or refused (retried later)", ["service"])
SENT = Counter("bus_relay_marked_sent_total", "Outbox rows marked sent after their confirm", ["service"])

MAX_BACKOFF_SECONDS = 300.0


def retry_delay(attempts: int) -> float:
    return min(MAX_BACKOFF_SECONDS, 2.0 * 2 ** max(0, attempts - 1))


class OutboxLeases:
    """One relay's leases on the outbox, and the outcomes of its publishes waiting to be written."""

    def __init__(self, platform, name: str, lease: timedelta):
        self.platform = platform
        self.service = platform.settings.service
        self.table = platform.tables["outbox"]
        self.is_postgres = platform.engine.dialect.name == "postgresql"
        self.name = name
        self.lease = lease
        self.sent_count = 0
        self.failed_count = 0
        self._confirmed: list[int] = []  # row ids confirmed, not yet marked sent
        self._failed: list[tuple] = []  # (row id, attempts, error)
        self._lists_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._flush_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="relay-flush")
        self._flush_future = None
        # PostgreSQL answers two claims at once (SKIP LOCKED keeps them apart); SQLite has one writer anyway.
        self.claims_at_once = 2 if self.is_postgres else 1
        self._claim_executor = ThreadPoolExecutor(max_workers=self.claims_at_once, thread_name_prefix="relay-claim")

    def close(self) -> None:
        self._claim_executor.shutdown(wait=True)
        self._flush_executor.shutdown(wait=True)

    # ------------------------------------------------------------ leases
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

    def claim_in_background(self, limit: int, after: int = 0) -> Future:
        return self._claim_executor.submit(self.claim, limit, after)

    def release(self, row_ids) -> None:
        """Give claimed but unconfirmed rows back at once (a lost connection is not the message's fault)."""
        if not row_ids:
            return
        t = self.table
        with self.platform.engine.begin() as conn:
            conn.execute(update(t).where(t.c.id.in_(bindparam("ids", expanding=True)), t.c.sent_at.is_(None),
                                         t.c.claimed_by == self.name)
                         .values(claimed_by=None, claimed_until=None), {"ids": list(row_ids)})

    def release_quietly(self, row_ids) -> None:
        try:
            self.release(row_ids)
        except Exception as error:
            if not is_transient(error):
                raise  # otherwise their lease simply expires

    def _no_flush_wait(self, conn) -> None:
        """PostgreSQL: commit without waiting for the WAL flush (see the module's docstring)."""
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

    # ------------------------------------------------------------ outcomes
    def record(self, confirmed: list[int], failed: list[tuple]) -> int:
        """Keep the outcomes of publishes for the next flush; returns how many confirmed rows wait for it."""
        with self._lists_lock:
            self._confirmed.extend(confirmed)
            self._failed.extend(failed)
            return len(self._confirmed)

    def flush(self) -> None:
        """Mark confirmed rows sent and failed rows for retry; kept in memory while the database is down.

        Runs on the relay's loop thread or on the flush thread, one at a time (flush lock)."""
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

    def safe_flush(self) -> bool:
        """Flush; False when the database is away (the outcomes wait for the next flush)."""
        try:
            self.flush()
            return True
        except Exception as error:
            if not is_transient(error):
                raise
            log_event(log, "database unavailable; will mark rows later", logging.WARNING,
                      error=type(error).__name__, pending=len(self._confirmed))
            return False

    def flush_in_background(self) -> None:
        """Mark rows sent on the flush thread while the relay keeps publishing (the database wait overlaps)."""
        if self._flush_future is None or self._flush_future.done():
            self._flush_future = self._flush_executor.submit(self.safe_flush)

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
