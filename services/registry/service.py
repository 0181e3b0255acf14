"""The registry's use cases: the ingest of closures and consent status, and what researchers read.

Ingest (called by the bus handlers, services.registry.handlers): a closure is accepted only when its office is
covered by the research and the case's research-registration consent is granted. Guest offices: refused before
anything is computed or stored (only a reason in the log). Covered office, consent not (yet) granted: the closure
waits, already pseudonymised, so it holds nothing beyond keyed hashes; it is accepted when consent.granted arrives
and dropped after the project's consent_wait_days. A withdrawal erases the case (or marks it, under the research
exemption) and bars every later closure of it. These run on the consumer's connection, in the same transaction as
the inbox row, and nothing commits here.

Researchers: streamed exports with a cursor (the change sequence: a pull `after=N` returns the current rows changed
after N up to the newest change when the pull started, whose number comes back as the next cursor; erased cases
have no row left, the change feed reports them), the codebook and the report's tables, small counts suppressed.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.exc import IntegrityError, OperationalError

from shared import hashchain
from shared.bus.consumer import Reject
from shared.db import read_only

from . import store, streaming
from .domain import codebook, disclosure, gate, periods, records, releases, reports, research_files
from .domain.codebook import EXPORT_COLUMNS
from .domain.errors import PatternPending, ReleaseError
from .domain.pseudonyms import Pseudonymiser

MIN_SECRET_BYTES = 32
_CACHE_SECONDS = 30.0


# ---------------------------------------------------------------- the ingest's context
class SecretUnavailable(RuntimeError):
    """The project's pseudonym secret cannot be read; the ingest must not run without it."""


def read_secret(ref: str, env=None) -> bytes:
    """`env:NAME` or `file:/path`; at least 32 bytes, never logged. Only the ingest calls it (IngestContext)."""
    env = os.environ if env is None else env
    if ref.startswith("env:"):
        name = ref[4:]
        value = env.get(name)
        if not value:
            raise SecretUnavailable(f"pseudonym secret: environment variable {name} is not set")
        secret = value.encode("utf-8")
    elif ref.startswith("file:"):
        path = Path(ref[5:])
        try:
            secret = path.read_bytes().strip()
        except OSError as error:
            raise SecretUnavailable(f"pseudonym secret: cannot read {path}: {error.strerror}") from None
    else:
        raise SecretUnavailable(f"pseudonym secret ref must be env:NAME or file:PATH, not {ref.split(':')[0]!r}")
    if len(secret) < MIN_SECRET_BYTES:
        raise SecretUnavailable(f"pseudonym secret must be at least {MIN_SECRET_BYTES} bytes")
    return secret


class IngestContext:
    """What the ingest needs besides the message: project settings, the offices and the pseudonymiser (holds the
    secret), kept for _CACHE_SECONDS."""

    def __init__(self, platform, env=None):
        self.platform = platform
        self.env = env
        self._loaded_at = None
        self.project = None
        self.pseudonymiser = None
        self.offices = {}

    def refresh(self, conn):
        """Read with the handler's own connection: on SQLite a second connection would wait for our lock."""
        if self._loaded_at is None or time.monotonic() - self._loaded_at > _CACHE_SECONDS:
            directory = self.platform.directory
            project = directory.project_settings(conn)
            if project is None:
                raise SecretUnavailable("no project settings in the directory: run `flask directory load`")
            self.pseudonymiser = Pseudonymiser(project["code"], read_secret(project["pseudonym_secret_ref"], self.env))
            self.project = project
            self.offices = {office["code"]: office for office in directory.offices(conn)}
            self._loaded_at = time.monotonic()
        return self


def ingest_context(platform, conn) -> IngestContext:
    """One context per platform (per consumer process); the web app never builds one.

    A missing secret is an operator's problem, not the message's: it is raised as a transient database-level
    error so the consumer rolls back, acknowledges nothing and retries with backoff instead of dead-lettering."""
    ctx = getattr(platform, "_registry_ingest", None)
    if ctx is None:
        ctx = platform._registry_ingest = IngestContext(platform)
    try:
        return ctx.refresh(conn)
    except SecretUnavailable as error:
        raise OperationalError("registry ingest: pseudonym secret unavailable", None, error) from None


# ---------------------------------------------------------------- ingest
def _log(conn, platform, envelope, outcome, reason):
    """Why a message's effect was not stored (or stored only in part), in the log: codes only."""
    store.write_log(conn, at=platform.clock.now(),
                    message_id=str(envelope["message_id"]) if envelope.get("message_id") else None,
                    event_type=envelope["type"], office=envelope.get("office"), outcome=outcome, reason=reason)


def covered_office(conn, platform, envelope):
    """The office if the research covers it; otherwise log the refusal and return None."""
    office = ingest_context(platform, conn).offices.get(envelope["office"])
    refusal = gate.office_refusal(office)
    if refusal:
        _log(conn, platform, envelope, "refused", refusal)
        return None
    return office


def accept(conn, platform, envelope, row: dict, supersedes_version=None) -> str:
    """Store one pseudonymised version: history always, the current row when it is the newest version.

    The natural key (case pseudonym, version) makes the same closure delivered again (even under a new message
    id) a no-op; an older version arriving late is kept in the history only. Acceptances are recorded in the
    change feed, not in the log (the log explains what was not stored)."""
    now = platform.clock.now()
    row = records.complete(row)  # a closure that waited since before the per-party fields has them as unknown
    case, version = row["case_pseudonym"], row["version"]
    current = store.current_version(conn, case)
    if current is not None and current >= version:
        if current == version or store.version_stored(conn, case, version):
            _log(conn, platform, envelope, "duplicate", "version_already_stored")
            return "duplicate"
    store.insert_version(conn, {"case_pseudonym": case, "version": version, "record_kind": row["record_kind"],
                                "supersedes_version": supersedes_version, "record": dict(row), "accepted_at": now})
    if current is not None and current > version:
        _log(conn, platform, envelope, "accepted", "older_version_kept_in_history")
        return "history"
    seq = store.record_change(conn, case, row["record_kind"], version, platform.clock.now())
    values = dict(row, status="active", change_seq=seq, accepted_at=now)
    if current is None:
        store.insert_closure(conn, values)
    else:
        values.pop("case_pseudonym")
        store.update_closure(conn, case, values)
    return "accepted"


def ingest_closure(conn, platform, envelope) -> str:
    """case.closed, case.corrected and case.project_end_status: accepted, waiting for consent or refused."""
    office = covered_office(conn, platform, envelope)
    if office is None:
        return "refused"
    payload = envelope["payload"]
    if not gate.criterion_keys_are_codes(payload["success_criteria"]["assessments"]):
        _log(conn, platform, envelope, "refused", "success_criterion_key_not_a_code")
        raise Reject("success criterion keys must be codes (a-z, 0-9, _ . -)")
    ctx = ingest_context(platform, conn)
    row = records.to_row(payload, envelope["type"], office, ctx.pseudonymiser, ctx.project["date_coarsening"])
    supersedes = payload.get("supersedes_version")
    state = store.consent_state(conn, row["case_pseudonym"])
    fate = gate.closure_fate(state)
    if fate == "refused":
        _log(conn, platform, envelope, "refused", "consent_withdrawn")
        return "refused"
    if fate == "accepted":
        return accept(conn, platform, envelope, row, supersedes)
    if store.waiting_stored(conn, row["case_pseudonym"], row["version"]):
        _log(conn, platform, envelope, "duplicate", "already_waiting_for_consent")
        return "duplicate"
    store.hold(conn, {"case_pseudonym": row["case_pseudonym"], "version": row["version"],
                      "record_kind": row["record_kind"], "supersedes_version": supersedes, "record": row,
                      "received_at": platform.clock.now()})
    _log(conn, platform, envelope, "waiting", gate.waiting_reason(state))
    return "waiting"


def _log_row(platform, envelope, outcome, reason) -> dict:
    """The row `_log` writes, for a batch's one executemany."""
    message_id = str(envelope["message_id"]) if envelope.get("message_id") else None
    return {"at": platform.clock.now(), "message_id": message_id,
            "event_type": envelope["type"], "office": envelope.get("office"), "outcome": outcome, "reason": reason,
            "detail": None}


def _one_by_one(cases) -> bool:
    """A batch naming a case twice (a closure and its correction) runs message by message, in order."""
    return len(set(cases)) != len(cases)


def ingest_closures(conn, platform, envelopes) -> list[str]:
    """ingest_closure for a batch, with the same outcomes: the consent states, current versions and waiting closures
    of the whole batch read in three statements, the new rows written with one executemany per table.

    A case the registry already has a row of (a correction, a duplicate) goes through `accept` on its own; a batch
    naming a case twice runs message by message. A bad criterion key raises Reject: the consumer then runs the batch
    again one message at a time, so only that message is rejected."""
    if len(envelopes) == 1:
        return [ingest_closure(conn, platform, envelopes[0])]
    ctx = ingest_context(platform, conn)
    logs, items = [], []
    for envelope in envelopes:
        office = ctx.offices.get(envelope["office"])
        refusal = gate.office_refusal(office)
        if refusal:
            logs.append(_log_row(platform, envelope, "refused", refusal))
            items.append((envelope, None))
            continue
        payload = envelope["payload"]
        if not gate.criterion_keys_are_codes(payload["success_criteria"]["assessments"]):
            raise Reject("success criterion keys must be codes (a-z, 0-9, _ . -)")
        items.append((envelope, records.to_row(payload, envelope["type"], office, ctx.pseudonymiser,
                                               ctx.project["date_coarsening"])))
    cases = [row["case_pseudonym"] for _envelope, row in items if row is not None]
    if _one_by_one(cases):
        store.write_logs(conn, logs)
        return [ingest_closure(conn, platform, envelope) if row is not None else "refused"
                for envelope, row in items]
    states = store.consent_states(conn, cases)
    current = store.current_versions(conn, [case for case in cases if states.get(case) == "granted"])
    waiting_now = store.waiting_versions(conn, [case for case in cases if gate.closure_fate(states.get(case))
                                                == "waiting"])
    now = platform.clock.now()
    outcomes, new_versions, new_changes, new_closures, held = [], [], [], [], []
    for envelope, row in items:
        if row is None:
            outcomes.append("refused")
            continue
        case, version = row["case_pseudonym"], row["version"]
        supersedes = envelope["payload"].get("supersedes_version")
        fate = gate.closure_fate(states.get(case))
        if fate == "refused":
            logs.append(_log_row(platform, envelope, "refused", "consent_withdrawn"))
            outcomes.append("refused")
        elif fate == "accepted" and case in current:
            outcomes.append(accept(conn, platform, envelope, row, supersedes))
        elif fate == "accepted":
            new_versions.append({"case_pseudonym": case, "version": version, "record_kind": row["record_kind"],
                                 "supersedes_version": supersedes, "record": dict(row), "accepted_at": now})
            new_changes.append({"case_pseudonym": case, "change": row["record_kind"], "version": version, "at": now})
            new_closures.append(dict(row, status="active", accepted_at=now))
            outcomes.append("accepted")
        elif (case, version) in waiting_now:
            logs.append(_log_row(platform, envelope, "duplicate", "already_waiting_for_consent"))
            outcomes.append("duplicate")
        else:
            held.append({"case_pseudonym": case, "version": version, "record_kind": row["record_kind"],
                         "supersedes_version": supersedes, "record": row, "received_at": now})
            logs.append(_log_row(platform, envelope, "waiting", gate.waiting_reason(states.get(case))))
            outcomes.append("waiting")
    store.insert_many(conn, "versions", new_versions)
    for closure, seq in zip(new_closures, store.record_changes(conn, new_changes), strict=True):
        closure["change_seq"] = seq
    store.insert_many(conn, "closures", new_closures)
    store.insert_many(conn, "waiting", held)
    store.write_logs(conn, logs)
    return outcomes


def grant_consents(conn, platform, envelopes) -> list[str]:
    """grant_consent for a batch: the states of the whole batch and whether closures wait for them read in two
    statements, the new and changed states written with one executemany each. A case with closures waiting is
    released by grant_consent itself (in version order)."""
    if len(envelopes) == 1:
        return [grant_consent(conn, platform, envelopes[0])]
    ctx = ingest_context(platform, conn)
    logs, items = [], []
    for envelope in envelopes:
        payload = envelope["payload"]
        if not gate.concerns_registration(payload):
            items.append((envelope, None, "ignored"))
            continue
        refusal = gate.office_refusal(ctx.offices.get(envelope["office"]))
        if refusal:
            logs.append(_log_row(platform, envelope, "refused", refusal))
            items.append((envelope, None, "ignored"))
            continue
        items.append((envelope, ctx.pseudonymiser.pseudonym("case", str(payload["case_id"])), None))
    cases = [case for _envelope, case, _outcome in items if case is not None]
    if _one_by_one(cases):
        store.write_logs(conn, logs)
        return [grant_consent(conn, platform, envelope) if case is not None else outcome
                for envelope, case, outcome in items]
    states = store.consent_states(conn, cases)
    waiting_for = {case for case, _version in store.waiting_versions(conn, cases)}
    now = platform.clock.now()
    outcomes, inserts, updates = [], [], []
    for envelope, case, outcome in items:
        if case is None:
            outcomes.append(outcome)
        elif states.get(case) == "withdrawn":
            logs.append(_log_row(platform, envelope, "refused", "case_barred_after_withdrawal"))
            outcomes.append("refused")
        elif case in waiting_for:
            outcomes.append(grant_consent(conn, platform, envelope))
        else:
            values = {"state": "granted", "data_policy": None, "effective_at": envelope["payload"]["effective_at"],
                      "updated_at": now}
            if case in states:
                updates.append(dict(values, case=case))
            else:
                inserts.append(dict(values, case_pseudonym=case))
            outcomes.append("granted")
    store.insert_many(conn, "consents", inserts)
    store.update_consents(conn, updates)
    store.write_logs(conn, logs)
    return outcomes


def _consent_case(conn, platform, envelope):
    """The case pseudonym of a research-registration status of a case at a covered office, else None."""
    payload = envelope["payload"]
    if not gate.concerns_registration(payload):
        return None
    if covered_office(conn, platform, envelope) is None:
        return None
    return ingest_context(platform, conn).pseudonymiser.pseudonym("case", str(payload["case_id"]))


def _save_consent(conn, platform, case, state, effective_at, known_state, data_policy=None):
    """The case's consent state; `known_state`: what the caller just read (None: no row yet)."""
    values = {"state": state, "data_policy": data_policy, "effective_at": effective_at,
              "updated_at": platform.clock.now()}
    store.save_consent(conn, case, values, exists=known_state is not None)


def grant_consent(conn, platform, envelope) -> str:
    """consent.granted: the closures waiting for the case are accepted in version order."""
    case = _consent_case(conn, platform, envelope)
    if case is None:
        return "ignored"
    state = store.consent_state(conn, case)
    if state == "withdrawn":
        # A withdrawal bars the case for good in this project; a new consent does not bring erased data back.
        _log(conn, platform, envelope, "refused", "case_barred_after_withdrawal")
        return "refused"
    _save_consent(conn, platform, case, "granted", envelope["payload"]["effective_at"], state)
    held = store.held(conn, case)
    for item in held:
        accept(conn, platform, envelope, dict(item["record"]), item["supersedes_version"])
    if held:
        store.drop_held(conn, case)
    return "released" if held else "granted"


def withdraw_consent(conn, platform, envelope) -> str:
    """consent.withdrawn, with the data policy the event carries."""
    case = _consent_case(conn, platform, envelope)
    if case is None:
        return "ignored"
    payload = envelope["payload"]
    return withdraw(conn, platform, envelope, case, payload["data_policy"], payload["effective_at"])


def withdraw(conn, platform, envelope, case, policy, effective_at) -> str:
    """Bar the case for good; erase what researchers have of it, or mark it under the research exemption."""
    _save_consent(conn, platform, case, "withdrawn", effective_at, store.consent_state(conn, case), policy)
    store.drop_held(conn, case)
    present = store.current_version(conn, case)
    if policy == "erase":
        store.erase_case(conn, case)
        store.erase_from_releases(conn, case, platform.clock.now())
        if present is not None:
            store.record_change(conn, case, "withdrawn_erased", None, platform.clock.now())
        _log(conn, platform, envelope, "accepted", "withdrawn_erased")
        return "erased"
    if present is not None:
        seq = store.record_change(conn, case, "withdrawn_marked", present, platform.clock.now())
        store.mark_withdrawn(conn, case, seq)
    _log(conn, platform, envelope, "accepted", "withdrawn_marked")
    return "marked"


def expire_consent(conn, platform, envelope) -> str:
    """consent.expired: expiry is not withdrawal; stored data stays, later closures wait for a renewed consent."""
    case = _consent_case(conn, platform, envelope)
    if case is None:
        return "ignored"
    state = store.consent_state(conn, case)
    if state != "withdrawn":
        _save_consent(conn, platform, case, "expired", envelope["payload"]["effective_at"], state)
    return "expired"


def purge_waiting(platform) -> int:
    """Drop closures that waited longer than consent_wait_days for consent; log one reason per dropped closure."""
    with platform.engine.begin() as conn:
        project = platform.directory.project_settings(conn)
        cutoff = platform.clock.now() - timedelta(days=project["consent_wait_days"])
        expired = store.waited_since(conn, cutoff)
        for _case, _version, kind in expired:
            store.write_log(conn, at=platform.clock.now(), message_id=None, event_type="registry.purge_waiting",
                            office=None, outcome="dropped", reason="consent_wait_expired", detail=kind)
        store.drop_waiting_since(conn, cutoff)
    return len(expired)


# ---------------------------------------------------------------- researchers
def newest_change(platform) -> int:
    """The cursor a pull started now ends at."""
    with platform.engine.connect() as conn:
        return store.newest_change(conn)


def _export_rows(engine, after, upto):
    # Its own connection, held while the response streams (after the view has returned).
    with engine.connect() as conn:
        yield from store.export_rows(conn, after, upto)


def stream_csv(platform, after, upto):
    """The CSV export, one row per case, the codebook's columns: COPY on PostgreSQL, a streaming cursor elsewhere."""
    engine = platform.engine
    if engine.dialect.name == "postgresql":
        return streaming.copy_chunks(engine, store.export_copy_sql(engine.dialect, after, upto))
    return streaming.csv_chunks(EXPORT_COLUMNS, _export_rows(engine, after, upto))


def stream_json(platform, after, upto):
    """The JSON export: {after, next_cursor, columns, rows}, the rows as objects."""
    head = {"after": after, "next_cursor": upto, "columns": list(EXPORT_COLUMNS)}
    return streaming.json_chunks(head, EXPORT_COLUMNS, _export_rows(platform.engine, after, upto))


def changes_since(platform, after: int, limit: int) -> dict:
    """The change feed: what happened to which case pseudonym after the cursor (including erasures)."""
    with platform.engine.connect() as conn:
        rows = store.changes_since(conn, after, limit)
    return {"after": after, "next_cursor": rows[-1]["seq"] if rows else after, "changes": rows,
            "more": len(rows) == limit}


def _places(conn, platform):
    """The directory's offices (ordered by name) and the office and county vocabularies of the research."""
    offices = platform.directory.offices(conn)
    return offices, codebook.place_vocabularies(offices, store.counties(conn))


def codebook_document(platform) -> dict:
    with platform.engine.connect() as conn:
        _offices, places = _places(conn, platform)
        return codebook.codebook(places, platform.directory.project_settings(conn))


def _bounds(conn, platform, filters: dict) -> dict:
    """The filters as the store takes them: period filters turned into stored periods (or refused, 422)."""
    granularity = platform.directory.project_settings(conn)["date_coarsening"]
    lowest, highest = periods.filter_bounds(filters.get("period_from"), filters.get("period_to"), granularity)
    return {"office": filters.get("office"), "county": filters.get("county"), "lowest": lowest, "highest": highest}


def table1(platform, **filters) -> dict:
    """Table 1: one row per case, codes as in the codebook (row level: no counts)."""
    with platform.engine.connect() as conn:
        return reports.table1(store.table1_rows(conn, reports.TABLE1_COLUMNS, _bounds(conn, platform, filters)))


def _threshold(conn, platform) -> int:
    return platform.directory.project_settings(conn)["small_count_threshold"]


_PATTERNS_KEPT = 32
_CLAIM_EXPIRES = timedelta(seconds=120)  # not renewed this long: the claim was left by a worker that died
_CLAIM_RENEW = 20.0  # seconds between the searching process's renewals of its claim (a niced search may be slow)
_CLAIM_POLL = 0.1  # seconds between a waiting worker's looks at the searching worker's row


def _renewing(platform, scope: str, key: str) -> threading.Event:
    """Renew the claim every _CLAIM_RENEW seconds until the returned event is set (the search is over)."""
    over = threading.Event()

    def renew():
        while not over.wait(_CLAIM_RENEW):
            try:
                with platform.engine.begin() as conn:
                    store.renew_disclosure_claim(conn, scope, key, datetime.now(UTC))
            except OperationalError:
                pass  # the database busy a moment (SQLite's write lock): the next renewal comes well in time
    threading.Thread(target=renew, name="disclosure-claim", daemon=True).start()
    return over


def _protected(platform, scope: str, cursor: int, grid, counts: dict, cases: dict, threshold: int, wait=None):
    """disclosure.protect's (values, hidden), kept in the database (store.disclosure_pattern) under a digest of all
    it reads, so every worker and process reuses one search; while one worker searches, the others wait for its row
    (at most `wait` seconds, if given; then PatternPending). The caller's connection must not hold SQLite's write
    lock (read_only)."""
    key = disclosure.digest(grid, counts, cases, threshold)
    give_up = None if wait is None else time.monotonic() + wait
    claimed, over = False, None
    try:
        while True:
            with platform.engine.connect() as conn:
                row = store.disclosure_pattern(read_only(conn), scope, key)
            if row is not None and row.hidden is not None:
                if row.cursor < cursor:
                    with platform.engine.begin() as conn:
                        store.touch_disclosure_pattern(conn, scope, key, cursor)
                return disclosure.published_values(grid, counts, cases), disclosure.decode_hidden(row.hidden)
            now = datetime.now(UTC)  # wall time: a claim's age says whether its worker still lives
            if row is not None and row.started_at >= now - _CLAIM_EXPIRES and give_up is not None \
                    and time.monotonic() >= give_up:
                raise PatternPending()
            if row is None or row.started_at < now - _CLAIM_EXPIRES:
                try:
                    with platform.engine.begin() as conn:
                        store.claim_disclosure_pattern(conn, scope, key, cursor, now, now - _CLAIM_EXPIRES)
                        # Set before the commit: an exception from here on (SIGTERM's) leaves a claim to drop.
                        claimed = True
                    break
                except IntegrityError:
                    claimed = False  # another worker claimed it a moment before: wait for its row
            time.sleep(_CLAIM_POLL)
        over = _renewing(platform, scope, key)
        values, hidden = disclosure.protect(grid, counts, cases, threshold)
    except BaseException:
        if claimed:
            with platform.engine.begin() as conn:
                store.drop_disclosure_claim(conn, scope, key)
        raise
    finally:
        if over is not None:
            over.set()
    with platform.engine.begin() as conn:
        store.keep_disclosure_pattern(conn, scope, key, cursor, disclosure.encode_hidden(hidden))
    return values, hidden


def published(conn, platform, filters: dict, wait=None) -> dict:
    """Every table of a filter set under its one suppression pattern: {grid, values, hidden, threshold, places}.
    The pattern is a search (domain.disclosure): kept in the database for every worker (_protected) and per
    process for the newest change and the filters. `wait`: the longest wait for another process's search of it
    (None: as long as it takes), then PatternPending."""
    bounds = _bounds(conn, platform, filters)
    threshold = _threshold(conn, platform)
    cursor = store.newest_change(conn)
    key = (cursor, threshold, tuple(sorted(bounds.items(), key=lambda item: item[0])))
    kept = platform.__dict__.setdefault("_registry_patterns", {})
    if key not in kept:
        offices, places = _places(conn, platform)
        counts, cases, counties_of = store.inner_counts(conn, reports.counted_variables(), bounds)
        grid = reports.filter_set_grid(offices, counts, counties_of, filters)
        values, hidden = _protected(platform, "live", cursor, grid, counts, cases, threshold, wait)
        while len(kept) >= _PATTERNS_KEPT:
            kept.pop(next(iter(kept)))
        kept[key] = {"grid": grid, "values": values, "hidden": hidden, "threshold": threshold, "places": places}
    return kept[key]


def pattern_version(platform) -> tuple:
    """What a live pattern depends on that can change while the offices stay: (the newest change, the threshold);
    the pattern follower (pattern_follower.py) searches again when it moves."""
    with platform.engine.connect() as conn:
        return store.newest_change(conn), _threshold(conn, platform)


def _distribution(view: dict, table_id: str, by: str) -> dict:
    return reports.distribution(table_id, by, view["grid"], view["values"], view["hidden"], view["threshold"],
                                view["places"])


def distribution(platform, table_id, by="office", wait=None, **filters) -> dict:
    """Tables 3–7 and the outcome summary by office, county or period, from the filter set's one suppression
    pattern; raises TableRequestError for a table, a breakdown or a period filter the registry cannot serve (and
    PatternPending when another process's search of the pattern takes longer than `wait` seconds)."""
    reports.check_request(table_id, by)
    with platform.engine.connect() as conn:
        return _distribution(published(read_only(conn), platform, filters, wait), table_id, by)


def overview(platform, wait=None) -> dict:
    """The researchers' front page: the threshold, the cursor and the tables its charts are drawn from (by office);
    PatternPending when another process's search of the pattern takes longer than `wait` seconds."""
    with platform.engine.connect() as conn:
        view = published(read_only(conn), platform, {}, wait)
        return {"threshold": view["threshold"], "cursor": store.newest_change(conn),
                **{name: _distribution(view, table_id, "office")
                   for name, table_id in (("outcome", "outcome"), ("contact", "5"), ("duration", "6"))}}


# ---------------------------------------------------------------- releases
RELEASE_TITLE = "Hybridmodellen: pseudonymiserte avslutninger"
DOWNLOAD_FIELDS = ("seq", "at", "researcher", "release_id", "file", "sha256")


def _file_entry(path: Path, rows) -> dict:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return releases.manifest_entry(path.name, path.stat().st_size, digest.hexdigest(), rows)


CUT_CHUNK_ROWS = 2000  # rows a release cut holds at a time: their dicts, and each format's text of them


def _release_files(conn, platform, folder: Path, identifier, number, cut_at, labels, notes_of,
                   formats=None) -> tuple[dict, list, dict]:
    """Every file of a release written into `folder` from the rows kept for its number ({name: path}), its
    manifest and its notes (`notes_of(cases, k_anonymity report)`): the tables in every format, made k-anonymous
    (domain.anonymity), the codebook, the DDI-Codebook XML and the notes. The rows are read once, a chunk at a
    time: their quasi-identifiers go to the plan (it needs every row) and the rows to a local spill file, read
    again for the files: nothing holds the whole release as Python objects."""
    from . import writers  # pandas, pyarrow and pyreadstat (~150 MB) only where a release is cut, not in every worker
    from .domain import anonymity  # numpy: likewise
    _offices, places = _places(conn, platform)
    project = platform.directory.project_settings(conn)
    layout = research_files.layout(places)
    spill = writers.RowSpill(folder / ".rows.txt", EXPORT_COLUMNS, keep=anonymity.QUASI_IDENTIFIERS)
    if conn.dialect.name == "postgresql":
        # COPY's text read by Arrow in this process while the database is still parsing the rows' JSON (a
        # thread and a pipe), instead of a Python string per value from the cursor: the two overlap.
        blocks = streaming.copy_chunks_on(conn.connection.dbapi_connection,
                                          store.release_rows_copy_sql(conn, number, EXPORT_COLUMNS))
    else:
        blocks = (writers.copy_text(data, EXPORT_COLUMNS)
                  for data in store.release_column_batches(conn, number, EXPORT_COLUMNS, CUT_CHUNK_ROWS))
    for block in blocks:
        spill.write(block)
    found = anonymity.plan_columns(spill.kept(), project.get("k_anonymity", anonymity.DEFAULT_K),
                                   project["date_coarsening"])
    writers.give_back_memory()  # what reading the rows left in Arrow's pool, before the chunks and the frames
    book = {"release": identifier, "codebook_version": releases.CODEBOOK_VERSION, "labels": labels,
            "date_coarsening": project["date_coarsening"], "periods_in_files": found.granularity,
            "tables": research_files.codebook_entries(layout)}
    title = f"{RELEASE_TITLE} {identifier}"
    table_writers = {table: writers.TableWriter(folder, table, variables, book, labels, title,
                                                formats or writers.FORMATS)
                     for table, variables in layout.items()}
    position, cache = 0, {}
    for data in spill.chunks(CUT_CHUNK_ROWS):
        # Column by column: a dict per row and a test per value made most of a cut's time.
        count = len(data[EXPORT_COLUMNS[0]])
        data = anonymity.apply_columns(found, position, data, cache)
        position += count
        for table, columns in research_files.chunk_columns(data, layout).items():
            table_writers[table].append(columns)
    if position != found.rows:
        raise ReleaseError("radene til utgivelsen endret seg mens den ble laget; lag den på nytt", 409)
    files, manifest = {}, []
    for writer in table_writers.values():
        for path in writer.close():
            files[path.name] = path
            manifest.append(_file_entry(path, writer.rows))
    release_notes = notes_of(found.rows, found.report)
    documents = {"codebook.json": json.dumps(book, ensure_ascii=False, indent=1),
                 "ddi.xml": releases.ddi_codebook(identifier, RELEASE_TITLE, cut_at, layout,
                                                  {t: w.rows for t, w in table_writers.items()}, labels),
                 "notes.json": json.dumps(release_notes, ensure_ascii=False, indent=1)}
    for name, text in documents.items():
        files[name] = folder / name
        files[name].write_text(text, encoding="utf-8")
        manifest.append(_file_entry(files[name], None))
    files["manifest.json"] = folder / "manifest.json"
    files["manifest.json"].write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return files, manifest, release_notes


def cut_release(platform, actor: str, labels: str = "nb", cursor: int | None = None) -> dict:
    """A new release of every current row at the newest change (`cursor`, if given, must be it): immutable, with
    its files, manifest, codebook, DDI-Codebook XML and notes (errata since the previous release, what the
    k-anonymity took)."""
    with platform.engine.begin() as conn:
        newest = store.newest_change(conn)
        if cursor is not None and cursor != newest:
            raise ReleaseError(f"a release is cut at the newest change ({newest}); the rows as of {cursor} are "
                               f"not kept")
        previous = store.newest_release(conn)
        number = previous["number"] + 1 if previous else 1
        identifier = releases.release_id(number, 1)
        store.insert_release_rows(conn, number, newest)
        found = []
        if previous:
            found = releases.errata(store.changes_between(conn, previous["cursor"], newest),
                                    store.release_cases(conn, previous["number"]))
        now = platform.clock.now()

        def notes_of(cases, k_anonymity):
            return releases.notes(identifier, previous["id"] if previous else None, now, newest, cases, found,
                                  k_anonymity=k_anonymity)
        with tempfile.TemporaryDirectory() as folder:
            files, manifest, release_notes = _release_files(conn, platform, Path(folder), identifier, number, now,
                                                            labels, notes_of)
            record = {"id": identifier, "number": number, "version": 1, "cut_at": now, "cursor": newest,
                      "codebook_version": releases.CODEBOOK_VERSION, "labels": labels, "cut_by": actor,
                      "status": "published", "notes": release_notes, "manifest": manifest}
            store.insert_release(conn, record, files)
    return record


def recut_withdrawn(platform, actor: str) -> list[dict]:
    """Every release version an erasure withdrew, cut again from its remaining rows as the next version (same
    number and cursor) with the erased pseudonyms as errata, k-anonymous anew (a group an erasure left below k is
    treated again); the withdrawn version is superseded. Returns, per re-cut, the new release and the researchers
    who downloaded the withdrawn one (to be told)."""
    done = []
    with platform.engine.begin() as conn:
        for old in store.withdrawn_releases(conn):
            identifier = releases.release_id(old["number"], old["version"] + 1)
            erased = store.erased_from(conn, old["id"])
            now = platform.clock.now()

            def notes_of(cases, k_anonymity, old=old, identifier=identifier, now=now, erased=erased):
                return releases.notes(identifier, old["notes"]["previous_release"], now, old["cursor"], cases,
                                      old["notes"]["errata"], recut_of=old["id"], erased=erased,
                                      k_anonymity=k_anonymity)
            with tempfile.TemporaryDirectory() as folder:
                files, manifest, release_notes = _release_files(conn, platform, Path(folder), identifier,
                                                                old["number"], now, old["labels"], notes_of)
                record = {**old, "id": identifier, "version": old["version"] + 1, "cut_at": now, "cut_by": actor,
                          "status": "published", "notes": release_notes, "manifest": manifest}
                store.insert_release(conn, record, files)
            store.set_release_status(conn, old["id"], "superseded")
            done.append({"release": record, "tell": store.downloaders(conn, [old["id"]])})
    return done


def list_releases(platform) -> list[dict]:
    with platform.engine.connect() as conn:
        return store.all_releases(conn)


def releases_page(platform, page_of) -> tuple[object, list[dict]]:
    """(page, its releases): page_of(total) picks the page (shared.web.paging)."""
    with platform.engine.connect() as conn:
        page = page_of(store.count_releases(conn))
        return page, store.all_releases(conn, page.offset, page.size)


def get_release(platform, release_id) -> dict:
    with platform.engine.connect() as conn:
        found = store.release(conn, release_id)
    if found is None:
        raise ReleaseError("fant ikke utgivelsen", 404)
    return found


def download_stream(platform, release_id, name, researcher) -> tuple[str, object]:
    """(SHA-256, chunks) of a release file; the download is appended to the hash-chained log first, in its own
    transaction, and the parts are read one at a time as the answer streams. A file an erasure deleted is gone
    (410)."""
    with platform.engine.begin() as conn:
        parts = store.release_file_parts(conn, release_id, name)
        if parts is None:
            raise ReleaseError("fant ikke filen", 404)
        if not parts:
            raise ReleaseError("filen er slettet etter at samtykke ble trukket; se neste versjon av utgivelsen", 410)
        listed = {entry["file"]: entry["sha256"] for entry in store.release(conn, release_id)["manifest"]}
        if name not in listed:  # the manifest itself: small, hashed as it is read
            listed[name] = hashlib.sha256(b"".join(store.release_file_part(conn, release_id, name, part)
                                                   for part in parts)).hexdigest()
        sha256 = listed[name]
        head = store.download_head_for_update(conn)
        entry = {"at": platform.clock.now().replace(microsecond=0), "researcher": researcher,
                 "release_id": release_id, "file": name, "sha256": sha256}
        store.append_download(conn, hashchain.link(head, entry, DOWNLOAD_FIELDS))

    def chunks():
        for part in parts:
            with platform.engine.connect() as conn:
                yield store.release_file_part(conn, release_id, name, part)
    return sha256, chunks()


def download(platform, release_id, name, researcher) -> bytes:
    """A release file's bytes at once (the command line and tests; the API streams), logged as any download."""
    _sha256, chunks = download_stream(platform, release_id, name, researcher)
    return b"".join(chunks)


def download_log(platform) -> dict:
    """The log and what is wrong with its chain (empty: intact)."""
    with platform.engine.connect() as conn:
        rows = store.download_log(conn)
        return {"entries": rows, "problems": hashchain.chain_problems(rows, store.download_head_row(conn),
                                                                      DOWNLOAD_FIELDS)}


def _release_counts(rows, bounds):
    """The inner counts of a release's rows within a filter set, as store.inner_counts gives the live ones."""
    counts, cases, counties_of = {}, {}, {}
    variables = reports.counted_variables()
    for row in rows:
        period = row["closed_period"]
        if (bounds["office"] not in (None, row["office"]) or bounds["county"] not in (None, row["county"])
                or (bounds["lowest"] and period < bounds["lowest"])
                or (bounds["highest"] and period > bounds["highest"])):
            continue
        pair = (row["office"], period[:4])
        counties_of[row["office"]] = row["county"]
        cases[pair] = cases.get(pair, 0) + 1
        for variable, source in variables.items():  # a release cut before table 5 per party: unknown
            key = (variable, reports.counted_value(row, variable, source), pair)
            counts[key] = counts.get(key, 0) + 1
    return counts, cases, counties_of


def release_distribution(platform, release_id, table_id, by="office", **filters) -> dict:
    """A table of a release, from the release's own rows under the filter set's one suppression pattern: the same
    every time it is asked for (until an erasure withdraws the version)."""
    reports.check_request(table_id, by)
    with platform.engine.connect() as conn:
        found = store.release(read_only(conn), release_id)
        if found is None:
            raise ReleaseError("fant ikke utgivelsen", 404)
        if found["status"] != "published":
            raise ReleaseError("utgivelsen er trukket tilbake; bruk den nyeste versjonen", 410)
        bounds = _bounds(conn, platform, filters)
        key = (release_id, tuple(sorted(bounds.items(), key=lambda item: item[0])))
        kept = platform.__dict__.setdefault("_registry_release_patterns", {})
        if key not in kept:
            offices, places = _places(conn, platform)
            counts, cases, counties_of = _release_counts(store.release_rows_of(conn, found["number"]), bounds)
            grid = reports.filter_set_grid(offices, counts, counties_of, filters)
            threshold = _threshold(conn, platform)
            values, hidden = _protected(platform, release_id, found["cursor"], grid, counts, cases, threshold)
            while len(kept) >= _PATTERNS_KEPT:
                kept.pop(next(iter(kept)))
            kept[key] = {"grid": grid, "values": values, "hidden": hidden, "threshold": threshold, "places": places}
        return {**_distribution(kept[key], table_id, by), "release": release_id}
