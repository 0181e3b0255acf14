"""The registry's bus handlers and its consumer spec: the queue `registry.ingest` (closures, corrections,
project-end status forms from intake; research-registration consent status from consent; erasures from intake).

Handlers follow the bus contract `fn(conn, envelope, platform)` and run inside the consumer's inbox transaction
(`app.extensions["consumer_spec"]`, so `flask --app services.registry.wsgi bus consume` runs them); each calls one
use case. Closures and grants also have batch handlers (`BATCH_HANDLERS`: a batch's reads and writes in a few
statements). The registry publishes nothing.
"""
from __future__ import annotations

import contextvars
import copy
import hashlib
import heapq
import json
from collections import Counter
from datetime import timedelta

from shared import privacy as shared_privacy
from shared.bus.consumer import ConsumerSpec, Reject, apply_envelope
from shared.bus.envelope import InvalidEvent, validate_envelope
from shared.clock import PROJECT_TIMEZONE, day_of
from shared.db import is_transient

from . import privacy, service, store
from .domain.pseudonyms import Pseudonymiser

QUEUE = "registry.ingest"

# What the last handler did (accepted, waiting, refused...): for the CLI's replay summary and for tests; the bus
# consumer itself only needs commit or Reject.
last_outcome: contextvars.ContextVar = contextvars.ContextVar("registry_last_outcome", default=None)


def _handler(use_case):
    def handle(conn, envelope, platform):
        outcome = use_case(conn, platform, envelope)
        last_outcome.set(outcome)
        return outcome
    handle.__name__ = use_case.__name__
    handle.__doc__ = use_case.__doc__
    return handle


HANDLERS = {event: _handler(use_case) for event, use_case in {
    "case.closed": service.ingest_closure,
    "case.corrected": service.ingest_closure,
    "case.project_end_status": service.ingest_closure,
    "consent.granted": service.grant_consent,
    "consent.withdrawn": service.withdraw_consent,
    "consent.expired": service.expire_consent,
    "case.erased": privacy.erase_cases,
}.items()}


def _batch_handler(use_case):
    def handle(conn, envelopes, platform):
        outcomes = use_case(conn, platform, envelopes)
        last_outcome.set(outcomes[-1] if outcomes else None)
        return outcomes
    handle.__name__ = use_case.__name__
    handle.__doc__ = use_case.__doc__
    return handle


# The bulk of a rebuild or a busy day, a batch at a time (the consumer keeps the order of the messages between
# them and the one-message handlers above, which a failed batch falls back to). Declared grants first: between two
# one-at-a-time messages the grants run first, so a closure whose grant is in the same batch is accepted at once
# instead of waiting for a moment (the tables end the same; only the log's "waiting" line is not written).
BATCH_HANDLERS = {event: _batch_handler(use_case) for event, use_case in {
    "consent.granted": service.grant_consents,
    "case.closed": service.ingest_closures,
    "case.corrected": service.ingest_closures,
    "case.project_end_status": service.ingest_closures,
}.items()}


def consumer_spec() -> ConsumerSpec:
    return ConsumerSpec(queue=QUEUE, handlers=HANDLERS, batch_handlers=BATCH_HANDLERS)


def process(platform, envelope: dict):
    """One envelope through the bus's own inbox + handler transaction, without a broker (CLI replay, demo, tests).

    Returns the handler's outcome (accepted, waiting, refused, duplicate, ...), "redelivery" when the inbox had the
    message already, or "ignored" for a type the registry does not consume."""
    last_outcome.set(None)
    result = apply_envelope(platform, consumer_spec(), envelope)
    if result == "duplicate":
        return "redelivery"
    if result == "ignored":
        return "ignored"
    return last_outcome.get()


# ---------------------------------------------------------------- rebuild
class RebuildRefused(RuntimeError):
    """The rebuild would not give what the registry must hold; nothing was changed."""


class _ReplayClock:
    """The platform clock of a replay: the time the event being replayed occurred."""

    def __init__(self, at, zone=PROJECT_TIMEZONE):
        self.at, self.zone = at, zone

    def now(self):
        return self.at

    def today(self):
        return day_of(self.at, self.zone)  # the project's day, as the platform clock counts it


def read_events(sources) -> list[dict]:
    """The envelopes of every source (an iterable of JSON lines: one service's `outbox export`), each validated,
    of the types the registry consumes, merged by the time they occurred (each source keeps its own order), every
    message once. Raises RebuildRefused naming the source and line of a malformed one."""
    spec = consumer_spec()
    streams = []
    for number, source in enumerate(sources, 1):
        events = []
        for line_number, line in enumerate(source, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                if isinstance(raw, dict) and not spec.handles(raw.get("type")):
                    continue  # another consumer's event (intake's case.opened, ...)
                events.append(validate_envelope(raw))
            except (InvalidEvent, ValueError) as error:
                raise RebuildRefused(f"source {number}, line {line_number}: not a valid event: {error}") from None
        streams.append(events)
    seen, merged = set(), []
    for envelope in heapq.merge(*streams, key=lambda envelope: envelope["occurred_at"]):
        message_id = str(envelope["message_id"])
        if message_id not in seen:
            seen.add(message_id)
            merged.append(envelope)
    return merged


def _runs(envelopes):
    """The consumer's order (shared.bus.consumer): consecutive batch-handled messages gathered per type, a
    one-at-a-time message on its own between them."""
    grouped: dict[str, list] = {}
    for envelope in envelopes:
        if envelope["type"] in BATCH_HANDLERS:
            grouped.setdefault(envelope["type"], []).append(envelope)
            continue
        yield from ((event_type, grouped[event_type]) for event_type in BATCH_HANDLERS if event_type in grouped)
        grouped = {}
        yield envelope["type"], [envelope]
    yield from ((event_type, grouped[event_type]) for event_type in BATCH_HANDLERS if event_type in grouped)


def _replay_chunk(conn, platform, chunk, outcomes: Counter, wait: timedelta):
    """One chunk as the consumer runs a batch: together in a savepoint; when a message fails, one at a time, each
    in its own savepoint (a rejected message leaves nothing, as it was dead-lettered when it was delivered)."""
    savepoint = conn.begin_nested()
    try:
        done = Counter()
        for event_type, run in _runs(chunk):
            platform.clock.at = max(envelope["occurred_at"] for envelope in run)
            store.drop_waiting_since(conn, platform.clock.at - wait)  # as if purge-waiting ran all the time
            if event_type in BATCH_HANDLERS:
                done.update(str(o) for o in BATCH_HANDLERS[event_type](conn, run, platform))
            else:
                done[str(HANDLERS[event_type](conn, run[0], platform))] += 1
        savepoint.commit()
        outcomes.update(done)
        return
    except Exception as error:
        if is_transient(error):
            raise
        savepoint.rollback()
    for envelope in chunk:
        platform.clock.at = envelope["occurred_at"]
        store.drop_waiting_since(conn, platform.clock.at - wait)
        savepoint = conn.begin_nested()
        try:
            outcomes[str(HANDLERS[envelope["type"]](conn, envelope, platform))] += 1
            savepoint.commit()
        except Exception as error:
            if is_transient(error):
                raise
            savepoint.rollback()
            outcomes["rejected" if isinstance(error, Reject) else "failed"] += 1


def _digest(rows) -> str:
    digest = hashlib.sha256()
    for row in rows:
        digest.update(repr(row).encode())
    return digest.hexdigest()


def _case_ids(envelopes) -> set:
    ids = set()
    for envelope in envelopes:
        payload = envelope["payload"]
        if envelope["type"] == "case.erased":
            ids.update(str(case_id) for case_id in payload["case_ids"])
        elif payload.get("case_id") is not None:
            ids.add(str(payload["case_id"]))
    return ids


def rebuild(platform, envelopes, previous_secret_ref=None, chunk: int = 500) -> dict:
    """Rebuild the ingest's tables (closures, versions, waiting, consent states, the change feed) from the events
    kept upstream (`read_events`), in one transaction, with the secret the project's settings name now.

    The events go through the same handlers as on the bus, in the order they occurred, on a clock at each event's
    time (so a closure that waited longer than consent_wait_days is dropped again); what waits longer than that
    today is dropped at the end. Releases and the download log are not touched (under a new secret the cases of
    releases are linked to their new pseudonyms, so that a later erasure finds them); the log and the privacy log keep
    what they recorded when it happened (the replay's own entries are taken out) plus one `registry.rebuild` row.
    Refused (RebuildRefused, nothing changed): past the retention date; a case the registry had erased would come
    back (its pseudonym under `previous_secret_ref`, default the current secret); a release would change."""
    if shared_privacy.retention_check(platform)["due"]:
        raise RebuildRefused("the project's retention date has passed: its data is removed, not rebuilt")
    replay = copy.copy(platform)
    replay.__dict__.pop("_registry_ingest", None)  # a fresh context: the secret as the settings name it now
    replay.clock = _ReplayClock(platform.clock.now(), platform.settings.timezone)
    outcomes = Counter()
    with platform.engine.begin() as conn:
        store.lock_ingest(conn)
        erased_before = store.erasures_noticed(conn)
        barred_before = store.erased_cases(conn)
        releases_before = _digest(store.release_state(conn))
        logs = store.log_mark(conn)
        floor = store.newest_change(conn)
        store.clear_ingest(conn, floor, platform.clock.now())
        project = platform.directory.project_settings(conn)
        wait = timedelta(days=project["consent_wait_days"])
        for start in range(0, len(envelopes), chunk):
            _replay_chunk(conn, replay, envelopes[start:start + chunk], outcomes, wait)
        store.drop_placeholder(conn, floor)
        now = platform.clock.now()
        store.drop_waiting_since(conn, now - wait)
        if not previous_secret_ref:
            # A researcher who pulled an erased case's row and not yet its erasure still learns of it: the notice
            # of an erasure whose events are gone upstream (intake's erasure took them) is given again.
            for case in sorted(erased_before - store.erasures_noticed(conn)):
                store.record_change(conn, case, "withdrawn_erased", None, now)
        context = service.ingest_context(replay, conn)
        before = context.pseudonymiser
        if previous_secret_ref:
            before = Pseudonymiser(project["code"], service.read_secret(previous_secret_ref))
        back = {case_id for case_id in _case_ids(envelopes) if before.pseudonym("case", case_id) in barred_before}
        back = store.cases_holding_data(conn, [context.pseudonymiser.pseudonym("case", case_id) for case_id in back])
        if back:
            raise RebuildRefused(f"{len(back)} case(s) the registry erased would come back; nothing was changed")
        if _digest(store.release_state(conn)) != releases_before:
            raise RebuildRefused("a release would change; nothing was changed")
        rekeyed = {}
        if previous_secret_ref:
            # Releases keep the pseudonyms they were cut with; an erasure must still find the case in them.
            new = context.pseudonymiser
            rekeyed = store.rekey_release_cases(conn, {before.pseudonym("case", case_id): new.pseudonym("case", case_id)
                                                       for case_id in _case_ids(envelopes)})
        store.drop_logs_after(conn, logs)
        inbox_added = store.mark_processed(conn, QUEUE, [(str(e["message_id"]), e["type"]) for e in envelopes], now)
        counts = {name: store.count_rows(conn, name) for name in ("closures", "versions", "waiting", "consents",
                                                                   "changes")}
        summary = {"events": len(envelopes), "outcomes": dict(sorted(outcomes.items())), "tables": counts,
                   "inbox_added": inbox_added, **rekeyed}
        store.write_log(conn, at=now, message_id=None, event_type="registry.rebuild", office=None,
                        outcome="accepted", reason="rebuilt", detail=json.dumps(summary, sort_keys=True))
    return summary
