"""Ingest from the `registry.ingest` queue: closures, corrections, project-end status forms and consent status.

A closure is accepted only when its office is covered by the research and the case's research-registration
consent is granted. Guest offices: refused before anything is computed or stored (only a reason in the log).
Covered office, consent not (yet) granted: the closure waits, already pseudonymised, so it holds nothing beyond
keyed hashes; it is accepted when consent.granted arrives and dropped after the project's consent_wait_days.
A withdrawal erases the case (or marks it, under the research exemption) and bars every later closure of it.

Handlers follow the bus contract `fn(conn, envelope, platform)`: the effect is written with `conn`, in the same
transaction as the inbox row, and nothing commits here.
"""
from __future__ import annotations

import contextvars
import re
import time
from datetime import timedelta

from sqlalchemy import bindparam, delete, func, insert, select, true, update
from sqlalchemy.exc import OperationalError

from shared import privacy
from shared.bus.consumer import Reject
from shared.db import prepared
from shared.directory import ProjectSettingsSchema

from . import records
from .pseudonym import Pseudonymiser, SecretUnavailable, read_secret
from .tables import OWN

QUEUE = "registry.ingest"
PURPOSE = "research_registration"
CRITERION_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")
_CACHE_SECONDS = 30.0

T = OWN
# What the last handler did (accepted, waiting, refused...): for the CLI's replay summary and for tests; the bus
# consumer itself only needs commit or Reject.
last_outcome: contextvars.ContextVar = contextvars.ContextVar("registry_last_outcome", default=None)


class IngestContext:
    """What the ingest needs besides the message: project settings and the pseudonymiser (holds the secret)."""

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
            table = self.platform.tables["project"]
            row = conn.execute(select(table)).mappings().first()
            if row is None:
                raise SecretUnavailable("no project settings in the directory: run `flask directory load`")
            project = ProjectSettingsSchema().load(row["settings"])
            project["code"] = row["code"]
            self.pseudonymiser = Pseudonymiser(project["code"], read_secret(project["pseudonym_secret_ref"], self.env))
            self.project = project
            offices = self.platform.tables["offices"]
            self.offices = {r["code"]: dict(r) for r in conn.execute(select(offices)).mappings()}
            self._loaded_at = time.monotonic()
        return self


def context(platform, conn) -> IngestContext:
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


def write_log(conn, platform, envelope, outcome, reason, detail=None):
    conn.execute(_INSERT_LOG, {
        "at": platform.clock.now(), "message_id": str(envelope["message_id"]) if envelope.get("message_id") else None,
        "event_type": envelope["type"], "office": envelope.get("office"), "outcome": outcome, "reason": reason,
        "detail": detail})


# Statements built once: the hot path then skips SQLAlchemy's per-call construction and cache-key work; the
# reads every message makes are also planned once per connection on PostgreSQL (shared.db.prepared).
_CURRENT = prepared(select(T["closures"].c.version).where(T["closures"].c.case_pseudonym == bindparam("case")))
_VERSION_STORED = select(T["versions"].c.version).where(T["versions"].c.case_pseudonym == bindparam("case"),
                                                        T["versions"].c.version == bindparam("version"))
_CONSENT = prepared(select(T["consents"].c.state).where(T["consents"].c.case_pseudonym == bindparam("case")))
_INSERT_CONSENT = insert(T["consents"])
_UPDATE_CONSENT = update(T["consents"]).where(T["consents"].c.case_pseudonym == bindparam("case"))
_INSERT_VERSION = insert(T["versions"])
_INSERT_CHANGE = insert(T["changes"])
_INSERT_CLOSURE = insert(T["closures"])
_UPDATE_CLOSURE = update(T["closures"]).where(T["closures"].c.case_pseudonym == bindparam("case"))
_INSERT_LOG = insert(T["log"])
_WAITING_STORED = prepared(select(T["waiting"].c.version).where(T["waiting"].c.case_pseudonym == bindparam("case"),
                                                                T["waiting"].c.version == bindparam("version")))
_INSERT_WAITING = insert(T["waiting"])
_HELD = prepared(select(T["waiting"]).where(T["waiting"].c.case_pseudonym == bindparam("case"))
                 .order_by(T["waiting"].c.version))
_DELETE_HELD = delete(T["waiting"]).where(T["waiting"].c.case_pseudonym == bindparam("case"))
_NO_ROW = object()  # _set_consent: the caller knows the case has no consent row yet


def _covered_office(conn, platform, envelope):
    """The office if the research covers it; otherwise log the refusal and return None."""
    office = context(platform, conn).offices.get(envelope["office"])
    if office is None:
        write_log(conn, platform, envelope, "refused", "unknown_office")
        return None
    if not office["covered_by_research"]:
        write_log(conn, platform, envelope, "refused", "office_not_covered_by_research")
        return None
    return office


def _consent_state(conn, case_pseudonym):
    row = conn.execute(_CONSENT, {"case": case_pseudonym}).first()
    return row[0] if row else None


def _record_change(conn, platform, case_pseudonym, change, version):
    result = conn.execute(_INSERT_CHANGE, {"case_pseudonym": case_pseudonym, "change": change, "version": version,
                                           "at": platform.clock.now()})
    return result.inserted_primary_key[0]


def accept(conn, platform, envelope, row: dict, supersedes_version=None) -> str:
    """Store one pseudonymised version: history always, the current row when it is the newest version.

    The natural key (case pseudonym, version) makes the same closure delivered again (even under a new message
    id) a no-op; an older version arriving late is kept in the history only. Acceptances are recorded in the
    change feed, not in the log (the log explains what was not stored)."""
    now = platform.clock.now()
    case, version = row["case_pseudonym"], row["version"]
    current = conn.execute(_CURRENT, {"case": case}).first()
    if current is not None and current[0] >= version:
        if current[0] == version or conn.execute(_VERSION_STORED, {"case": case, "version": version}).first():
            write_log(conn, platform, envelope, "duplicate", "version_already_stored")
            return "duplicate"
    conn.execute(_INSERT_VERSION, {"case_pseudonym": case, "version": version, "record_kind": row["record_kind"],
                                   "supersedes_version": supersedes_version, "record": dict(row), "accepted_at": now})
    if current is not None and current[0] > version:
        write_log(conn, platform, envelope, "accepted", "older_version_kept_in_history")
        return "history"
    seq = _record_change(conn, platform, case, row["record_kind"], version)
    values = dict(row, status="active", change_seq=seq, accepted_at=now)
    if current is None:
        conn.execute(_INSERT_CLOSURE, values)
    else:
        values.pop("case_pseudonym")
        conn.execute(_UPDATE_CLOSURE, dict(values, case=case))
    return "accepted"


def on_closure(conn, envelope, platform):
    """case.closed, case.corrected and case.project_end_status."""
    office = _covered_office(conn, platform, envelope)
    if office is None:
        return "refused"
    payload = envelope["payload"]
    bad_keys = [k for k in payload["success_criteria"]["assessments"] if not CRITERION_KEY.match(k)]
    if bad_keys:
        write_log(conn, platform, envelope, "refused", "success_criterion_key_not_a_code")
        raise Reject("success criterion keys must be codes (a-z, 0-9, _ . -)")
    ctx = context(platform, conn)
    row = records.to_row(payload, envelope["type"], office, ctx.pseudonymiser, ctx.project["date_coarsening"])
    supersedes = payload.get("supersedes_version")
    state = _consent_state(conn, row["case_pseudonym"])
    if state == "withdrawn":
        write_log(conn, platform, envelope, "refused", "consent_withdrawn")
        return "refused"
    if state == "granted":
        return accept(conn, platform, envelope, row, supersedes)
    if conn.execute(_WAITING_STORED, {"case": row["case_pseudonym"], "version": row["version"]}).first():
        write_log(conn, platform, envelope, "duplicate", "already_waiting_for_consent")
        return "duplicate"
    conn.execute(_INSERT_WAITING, {"case_pseudonym": row["case_pseudonym"], "version": row["version"],
                                   "record_kind": row["record_kind"], "supersedes_version": supersedes, "record": row,
                                   "received_at": platform.clock.now()})
    write_log(conn, platform, envelope, "waiting", "consent_expired" if state == "expired" else "consent_not_granted")
    return "waiting"


def _consent_target(conn, envelope, platform):
    """(office, case pseudonym) for a research-registration status of a case at a covered office, else None."""
    payload = envelope["payload"]
    if payload["purpose"] != PURPOSE or payload["case_id"] is None:
        return None
    office = _covered_office(conn, platform, envelope)
    if office is None:
        return None
    return office, context(platform, conn).pseudonymiser.pseudonym("case", str(payload["case_id"]))


def _set_consent(conn, platform, case, state, effective_at, data_policy=None, known=None):
    """Upsert the case's consent state. `known`: the state the caller just read (_NO_ROW when there is none), which
    spares reading it again; None when the caller did not read it."""
    values = dict(state=state, data_policy=data_policy, effective_at=effective_at, updated_at=platform.clock.now())
    if known is None:
        known = _consent_state(conn, case) or _NO_ROW
    if known is _NO_ROW:
        conn.execute(_INSERT_CONSENT, dict(values, case_pseudonym=case))
    else:
        conn.execute(_UPDATE_CONSENT, dict(values, case=case))


def on_consent_granted(conn, envelope, platform):
    target = _consent_target(conn, envelope, platform)
    if target is None:
        return "ignored"
    _office_row, case = target
    state = _consent_state(conn, case)
    if state == "withdrawn":
        # A withdrawal bars the case for good in this project; a new consent does not bring erased data back.
        write_log(conn, platform, envelope, "refused", "case_barred_after_withdrawal")
        return "refused"
    _set_consent(conn, platform, case, "granted", envelope["payload"]["effective_at"], known=state or _NO_ROW)
    held = conn.execute(_HELD, {"case": case}).mappings().all()
    for item in held:
        accept(conn, platform, envelope, dict(item["record"]), item["supersedes_version"])
    if held:
        conn.execute(_DELETE_HELD, {"case": case})
    return "released" if held else "granted"


def on_consent_withdrawn(conn, envelope, platform):
    target = _consent_target(conn, envelope, platform)
    if target is None:
        return "ignored"
    _office_row, case = target
    return _withdraw(conn, platform, envelope, case, envelope["payload"]["data_policy"],
                     envelope["payload"]["effective_at"])


def _withdraw(conn, platform, envelope, case, policy, effective_at):
    """Bar the case for good; erase what researchers have of it, or mark it under the research exemption."""
    _set_consent(conn, platform, case, "withdrawn", effective_at, policy)
    conn.execute(_DELETE_HELD, {"case": case})
    closures = T["closures"]
    present = conn.execute(select(closures.c.version).where(closures.c.case_pseudonym == case)).first()
    if policy == "erase":
        conn.execute(delete(closures).where(closures.c.case_pseudonym == case))
        conn.execute(delete(T["versions"]).where(T["versions"].c.case_pseudonym == case))
        if present:
            _record_change(conn, platform, case, "withdrawn_erased", None)
        write_log(conn, platform, envelope, "accepted", "withdrawn_erased")
        return "erased"
    if present:
        seq = _record_change(conn, platform, case, "withdrawn_marked", present[0])
        conn.execute(update(closures).where(closures.c.case_pseudonym == case)
                     .values(status="withdrawn_marked", change_seq=seq))
    write_log(conn, platform, envelope, "accepted", "withdrawn_marked")
    return "marked"


def on_case_erased(conn, envelope, platform):
    """intake's case.erased: the office erased the cases at the person's request. For the registry that is a
    withdrawal of the research consent, with the policy the event carries (the project's withdrawal_policy): the
    same erasure or mark, change feed entry and bar, and nothing waits for consent any longer."""
    if _covered_office(conn, platform, envelope) is None:
        return "refused"  # a guest office's cases never reached the registry
    payload = envelope["payload"]
    pseudonymiser = context(platform, conn).pseudonymiser
    policy = payload["data_policy"]
    cases = [pseudonymiser.pseudonym("case", str(case_id)) for case_id in payload["case_ids"]]
    held = {name: conn.execute(select(func.count()).select_from(T[name]).where(T[name].c.case_pseudonym.in_(cases))
                               ).scalar() for name in ("closures", "versions", "waiting")}
    for case in cases:
        _withdraw(conn, platform, envelope, case, policy, envelope["occurred_at"])
    counts = {"waiting": held["waiting"]}
    if policy == "erase":
        counts.update(closures=held["closures"], versions=held["versions"])
    else:
        counts["marked"] = held["closures"]
    privacy.record(conn, T["privacy_log"], request_id=payload["request_id"], action="erasure",
                   office=envelope["office"], actor="service-registry", actor_role="service",
                   at=platform.clock.now(), counts=counts, case_count=len(cases), outcome=policy)
    return "erased" if policy == "erase" else "marked"


def retention_steps(platform):
    """Past the project's retention date the research data goes too: every pseudonymised closure, its history,
    what waits, the consent states (bars) and the change feed. The log (codes only) stays."""
    return [(name, T[name], true()) for name in ("closures", "versions", "waiting", "consents", "changes")]


def on_consent_expired(conn, envelope, platform):
    """Expiry is not withdrawal: stored data stays; later closures wait for a renewed consent."""
    target = _consent_target(conn, envelope, platform)
    if target is None:
        return "ignored"
    _office_row, case = target
    state = _consent_state(conn, case)
    if state != "withdrawn":
        _set_consent(conn, platform, case, "expired", envelope["payload"]["effective_at"], known=state or _NO_ROW)
    return "expired"


def _recording(handler):
    def run(conn, envelope, platform):
        outcome = handler(conn, envelope, platform)
        last_outcome.set(outcome)
        return outcome
    run.__name__ = handler.__name__
    run.__doc__ = handler.__doc__
    return run


HANDLERS = {event: _recording(handler) for event, handler in {
    "case.closed": on_closure,
    "case.corrected": on_closure,
    "case.project_end_status": on_closure,
    "consent.granted": on_consent_granted,
    "consent.withdrawn": on_consent_withdrawn,
    "consent.expired": on_consent_expired,
    "case.erased": on_case_erased,
}.items()}


def consumer_spec():
    from shared.bus.consumer import ConsumerSpec
    return ConsumerSpec(queue=QUEUE, handlers=HANDLERS)


def process(platform, envelope: dict):
    """One envelope through the bus's own inbox + handler transaction, without a broker (CLI replay, demo, tests).

    Returns the handler's outcome (accepted, waiting, refused, duplicate, ...), "redelivery" when the inbox had the
    message already, or "ignored" for a type the registry does not consume."""
    from shared.bus.consumer import ConsumerSpec, apply_envelope
    last_outcome.set(None)
    result = apply_envelope(platform, ConsumerSpec(queue=QUEUE, handlers=HANDLERS), envelope)
    if result == "duplicate":
        return "redelivery"
    if result == "ignored":
        return "ignored"
    return last_outcome.get()


def purge_waiting(platform) -> int:
    """Drop closures that waited longer than consent_wait_days for consent; log one reason per dropped closure."""
    project = platform.directory.project_settings()
    cutoff = platform.clock.now() - timedelta(days=project["consent_wait_days"])
    waiting = T["waiting"]
    with platform.engine.begin() as conn:
        expired = conn.execute(select(waiting.c.case_pseudonym, waiting.c.version, waiting.c.record_kind)
                               .where(waiting.c.received_at < cutoff)).all()
        for _case, _version, kind in expired:
            conn.execute(insert(T["log"]).values(at=platform.clock.now(), message_id=None,
                                                 event_type="registry.purge_waiting", office=None, outcome="dropped",
                                                 reason="consent_wait_expired", detail=kind))
        conn.execute(delete(waiting).where(waiting.c.received_at < cutoff))
    return len(expired)
