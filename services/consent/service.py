"""Consent's use cases: load from the store, decide in the domain, save through the store, emit the events.

Every use case takes the caller's connection (its transaction), so the outbox row of an event is always written in
the same transaction as the change that caused it; `Deps` carries what the platform provides.
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

from shared import national_ids
from shared.config import REPO_ROOT, env_int
from shared.text import N_, Text
from shared.web.preconditions import require_version

from . import access, store
from .cipher import OfficeCipher
from .domain import Conflict, ConsentInvalid, audit, recording, signers, status, templates, withdrawal
from .domain.uploads import DEFAULT_MAX_BYTES
from .schemas import TemplateFileSchema

DEFAULT_TEMPLATES = REPO_ROOT / "deploy" / "data" / "consent_templates.json"
DOCUMENT_ACTIONS = {"inline": "document.view", "attachment": "document.download"}


@dataclass
class Deps:
    """What the use cases need from the platform; the web layer, the consumer and the CLI wire real ones, tests and
    the benchmark may wire others."""

    cipher: object
    clock: object
    emit: object  # emit(conn, event_type, office, payload)
    directory: object  # shared.directory.Directory: reads on the caller's connection
    max_upload_bytes: int = DEFAULT_MAX_BYTES
    expiring_days: int = 30
    allow_synthetic_national_ids: bool = False  # NATIONAL_ID_SYNTHETIC=allow: a test environment


def deps_from_platform(platform, cipher=None) -> Deps:
    extra = platform.settings.extra
    return Deps(
        cipher=cipher or OfficeCipher(lambda: platform.keyring),
        clock=platform.clock,
        emit=platform.emit,
        directory=platform.directory,
        # Never above what the proxies let through (shared.limits): start-up refuses a larger value, naming it.
        max_upload_bytes=env_int(extra, "CONSENT_MAX_UPLOAD_BYTES", DEFAULT_MAX_BYTES, minimum=1024,
                                 maximum=DEFAULT_MAX_BYTES),
        expiring_days=env_int(extra, "CONSENT_EXPIRING_DAYS", 30, minimum=1, maximum=365),
        allow_synthetic_national_ids=national_ids.synthetic_allowed(),
    )


# ---------------------------------------------------------------- templates
def load_templates(conn, items: list[dict], actor: str, now) -> dict:
    """Add template versions; a version once stored never changes (a changed text is a new version)."""
    added, unchanged = [], []
    for item in items:
        existing = store.find_template(conn, item["purpose"], item["version"])
        if existing is not None:
            titles = templates.check_unchanged(existing, item)
            if titles:
                store.add_template_titles(conn, existing["id"], titles)
            unchanged.append((item["purpose"], item["version"]))
            continue
        store.add_template(conn, item, templates.TEMPLATE_FIELDS, actor, now)
        added.append((item["purpose"], item["version"]))
    return {"added": added, "unchanged": unchanged}


def read_template_file(path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return TemplateFileSchema().load(json.load(handle))["templates"]


def load_template_file(platform, path=DEFAULT_TEMPLATES, actor="cli") -> dict:
    items = read_template_file(path)
    with platform.engine.begin() as conn:
        return load_templates(conn, items, actor, platform.clock.now())


def list_templates(conn) -> list[dict]:
    return store.list_templates(conn)


# ---------------------------------------------------------------- subjects
@dataclass(frozen=True)
class Subject:
    """What a consent concerns: one of the office's cases, or one of its people (focus groups)."""

    case: dict | None = None
    person: dict | None = None

    @property
    def case_id(self):
        return self.case["case_id"] if self.case else None

    @property
    def subject_ref(self):
        return self.person["id"] if self.person else None

    @property
    def kind(self):
        return "case" if self.case else "person"

    @property
    def key(self):
        return signers.subject_key(self.case_id, self.subject_ref)


def owned_subject(conn, office: str, case_id=None, subject_ref=None) -> Subject:
    """The office's case, else the office's person; NotFound for another office's (or an unknown) id."""
    if case_id:
        return Subject(case=store.owned_case(conn, case_id, office))
    return Subject(person=store.owned_person(conn, subject_ref, office, access.PERSON_SUBJECTS))


# ---------------------------------------------------------------- status
def evaluate(conn, case: dict | None, key: str, purpose: str, today) -> status.Evaluation:
    """May this purpose be used for this case (or person) today?"""
    template = store.current_template(conn, purpose, today)
    signed_by_someone = bool(template and signers.required_slots(template, case))
    return _evaluation(case, purpose, template, store.decisions_for(conn, key, purpose) if signed_by_someone else [],
                       today)


def _evaluation(case: dict | None, purpose: str, template: dict | None, decisions: list[dict], today):
    """`evaluate` of a purpose whose template in force and decisions are read already."""
    slots = signers.required_slots(template, case) if template else []
    return status.evaluate(purpose, template, slots, decisions if slots else [], today)


def overview(conn, case: dict | None, key: str, today, kind: str) -> list[status.Evaluation]:
    """Every purpose of this subject kind with its state: who has signed what, and what is missing. The templates
    in force and the subject's decisions are read for all its purposes at once (two statements, not two a
    purpose: intake's case page asks for this on every view)."""
    purposes = status.in_vocabulary_order(store.purposes_of_kind(conn, kind))
    templates = store.current_templates(conn, purposes, today)
    decisions = store.decisions_by_purpose(conn, key, purposes)
    return [_evaluation(case, p, templates.get(p), decisions.get(p, []), today) for p in purposes]


def status_of(conn, deps: Deps, office: str, case_id: str | None, subject_ref: str | None, purpose: str) -> dict:
    """The answer of the status API: may `purpose` be used for the office's case (or person), now."""
    if bool(case_id) == bool(subject_ref):
        raise ConsentInvalid({"case_id": [N_("Oppgi enten case_id eller subject_ref.")]})
    subject = owned_subject(conn, office, case_id, subject_ref)
    evaluation = evaluate(conn, subject.case, signers.subject_key(case_id, subject_ref), purpose, deps.clock.today())
    return {"case_id": case_id, "subject_ref": subject_ref, "purpose": purpose, "granted": evaluation.granted,
            "state": evaluation.state, "missing_roles": evaluation.missing_roles,
            "expires_on": evaluation.expires_on, "template_version": evaluation.template_version,
            "version": store.subject_version(conn, subject.key, office)}


def subject_view(conn, deps: Deps, office: str, case_id=None, subject_ref=None) -> dict:
    """Per purpose who must sign and who has signed (names opened for the office), and the registered forms."""
    subject = owned_subject(conn, office, case_id, subject_ref)
    return {"subject": subject, "subject_key": subject.key,
            "purposes": overview(conn, subject.case, subject.key, deps.clock.today(), subject.kind),
            "records": store.records_of(conn, deps.cipher, subject.key, office),
            "version": store.subject_version(conn, subject.key, office)}


def count_office_cases(conn, office: str) -> int:
    return store.count_cases_of_office(conn, office)


def office_view(conn, deps: Deps, office: str, offset: int = 0, limit: int | None = None) -> dict:
    """The office's cases (a page of them) with their granted purposes, and its staff who may give a person
    consent."""
    cases = store.cases_of_office(conn, office, offset, limit)
    keys = [signers.subject_key(c["case_id"], None) for c in cases]
    return {"cases": cases, "granted": store.granted_counts(conn, office, keys),
            "staff": deps.directory.users(conn, office_code=office, role=access.LISTED_STAFF),
            "office": deps.directory.office(conn, office)}


def refresh_status(conn, deps: Deps, office: str, case: dict | None, case_id: str | None, subject_ref: str | None,
                   purpose: str) -> status.Evaluation:
    """Re-evaluate one (subject, purpose), store it, and emit the event its change means (same transaction)."""
    now = deps.clock.now()
    key = signers.subject_key(case_id, subject_ref)
    old = store.lock_status(conn, key, purpose, office, case_id, subject_ref, now)
    evaluation = evaluate(conn, case, key, purpose, deps.clock.today())  # the project's day, not UTC's
    if status.unchanged(old["state"], old["expires_on"], evaluation):
        return evaluation
    store.save_status(conn, key, purpose, evaluation.state, evaluation.template_version, evaluation.expires_on, now)
    event = status.status_event(old["state"], old["expires_on"], evaluation)
    if event is None:
        return evaluation
    payload = status.status_payload(case_id, subject_ref, purpose, evaluation.template_version, now)
    if event == "consent.granted":
        payload["expires_on"] = evaluation.expires_on
    elif event == "consent.withdrawn":
        payload["data_policy"] = data_policy(conn, deps)
    elif event == "consent.incomplete":
        payload["missing_roles"] = evaluation.missing_roles
    deps.emit(conn, event, office, payload)
    return evaluation


def data_policy(conn, deps: Deps) -> str:
    return withdrawal.data_policy(deps.directory.project_settings(conn))


# ---------------------------------------------------------------- recording
def record_consent(conn, deps: Deps, office: str, actor: str, cmd: dict) -> dict:
    """Check and store one signed consent form: decisions per purpose, encrypted signer, encrypted document.

    cmd: case_id | subject_ref, signer_role, signer_name, signer_national_id (optional), signed_on, method,
    decisions {purpose: granted|refused}, document (bytes). Raises ConsentInvalid (nothing written) or NotFound.
    """
    today = deps.clock.today()
    case_id, subject_ref = cmd.get("case_id"), cmd.get("subject_ref")
    case = None
    if bool(case_id) != bool(subject_ref):  # one subject given: another office's is NotFound before any check
        case = owned_subject(conn, office, case_id, subject_ref).case
        if case is not None:
            case_id = case["case_id"]
    on = recording.template_date(cmd, today)
    in_force = {purpose: store.current_template(conn, purpose, on)
                for purpose, decision in recording.chosen_decisions(cmd).items()
                if recording.known_decision(purpose, decision)}
    checked = recording.check_consent(cmd, case, in_force, today, deps.max_upload_bytes,
                                      deps.allow_synthetic_national_ids)

    now = deps.clock.now()
    record_id, document_id = str(uuid.uuid4()), str(uuid.uuid4())
    store.add_record(conn, deps.cipher, dict(
        id=record_id, office=office, case_id=case_id, subject_ref=subject_ref, signer_role=checked.signer_role,
        signed_on=checked.signed_on, method=checked.method, version=1, recorded_by=actor, recorded_at=now),
        checked.signer_name, checked.signer_national_id)
    key = signers.subject_key(case_id, subject_ref)
    for purpose, decision in checked.decisions.items():
        template = checked.templates[purpose]
        store.add_decision(conn, dict(record_id=record_id, office=office, subject_key=key, purpose=purpose,
                                      template_version=template["version"], decision=decision,
                                      expires_on=template["expires_on"]))
    store.add_document(conn, deps.cipher, dict(id=document_id, record_id=record_id, office=office,
                                               content_type=checked.content_type, version=1, uploaded_at=now),
                       cmd["document"])
    statuses = {p: refresh_status(conn, deps, office, case, case_id, subject_ref, p).state
                for p in sorted(checked.decisions)}
    return {"record_id": record_id, "document_id": document_id, "status": statuses}


# ---------------------------------------------------------------- documents and their audit log
def append_audit(conn, office: str, at, actor: str, actor_role: str, action: str, document_id: str, record_id: str,
                 reason: str) -> dict:
    """Append one entry to the office's hash chain inside the caller's transaction (the head lock serialises
    writers per office)."""
    head = store.lock_audit_head(conn, office)
    entry = audit.next_entry(head, office, at, actor, actor_role, action, document_id, record_id, reason)
    store.add_audit_entry(conn, entry)
    return entry


def open_document(conn, deps: Deps, principal, document_id, reason: str, disposition: str) -> tuple[dict, bytes]:
    """The office's document, opened: every opening is appended to the audit log in the same transaction."""
    row = store.owned_document(conn, document_id, principal.office)
    append_audit(conn, principal.office, deps.clock.now(), principal.subject, principal.role,
                 DOCUMENT_ACTIONS[disposition], row["id"], row["record_id"], reason)
    return row, store.open_document(deps.cipher, row)


def find_document(conn, office: str, document_id) -> dict:
    """The office's document (not opened), or NotFound."""
    return store.owned_document(conn, document_id, office)


def verify_audit(conn, office: str | None = None) -> dict[str, list[str]]:
    """Recompute every chain; return problems per office (empty lists mean intact)."""
    return {code: audit.chain_problems(store.audit_chain(conn, code), store.audit_head(conn, code))
            for code in ([office] if office else store.audit_offices(conn))}


# ---------------------------------------------------------------- withdrawal
def withdrawal_subject(conn, office: str, cmd: dict) -> Subject:
    """The office's case or person a withdrawal concerns (cmd: case_id | subject_ref): ConsentInvalid when neither
    or both are given, NotFound for another office's (or an unknown) id."""
    withdrawal.check_subject(cmd)
    return owned_subject(conn, office, cmd.get("case_id"), cmd.get("subject_ref"))


def withdraw(conn, deps: Deps, office: str, actor: str, subject: Subject, cmd: dict, expected_version: int) -> dict:
    """Withdraw per purpose or everything, effective at once; events for every purpose that stops holding.

    `subject` is the office's (withdrawal_subject), `expected_version` the version of its consents the caller saw
    (`store.subject_version`, the ETag of the status and the overview): another version is refused with 409, so a
    repeated or concurrent withdrawal, or one made on a view older than a newly recorded form, changes nothing.
    cmd: signer_role (None: every signer), purposes (empty/None: all), requested_on.
    """
    case, case_id, subject_ref = subject.case, subject.case_id, subject.subject_ref
    checked = withdrawal.check_withdrawal(cmd, deps.clock.today())
    key = subject.key
    store.lock_subject(conn, key, office)
    require_version(expected_version, store.subject_version(conn, key, office), Text(N_("Samtykkeoversikten")))
    targets = _withdrawal_targets(conn, office, subject, checked)
    now = deps.clock.now()
    policy = data_policy(conn, deps)
    withdrawal_id = str(uuid.uuid4())
    affected = sorted({row.purpose for row in targets})
    store.add_withdrawal(conn, dict(
        id=withdrawal_id, office=office, subject_key=key, signer_role=checked.signer_role, purposes=affected,
        requested_on=checked.requested_on, data_policy=policy, recorded_by=actor, recorded_at=now))
    store.mark_withdrawn(conn, [row.id for row in targets], withdrawal_id, now)
    statuses = {p: refresh_status(conn, deps, office, case, case_id, subject_ref, p).state for p in affected}
    return {"withdrawal_id": withdrawal_id, "purposes": affected, "data_policy": policy,
            "data_policy_text": withdrawal.DATA_POLICY_TEXT[policy], "status": statuses}


def _withdrawal_targets(conn, office: str, subject: Subject, checked) -> list:
    """The granted decisions a checked withdrawal ends; Conflict when there is none."""
    roles = signers.withdrawn_roles(subject.case, checked.signer_role) if checked.signer_role else None
    targets = store.granted_decisions(conn, subject.key, office, checked.purposes, roles)
    if not targets:
        raise Conflict(N_("Det finnes ikke noe gjeldende samtykke å trekke tilbake for dette valget."))
    return targets


def withdrawal_preview(conn, deps: Deps, office: str, subject: Subject, cmd: dict, expected_version: int) -> dict:
    """What `withdraw` would change, changing nothing (the confirmation page shows it before anything happens):
    the purposes whose consent stops holding, from when, and what happens to data the researchers have.
    ConsentInvalid, Conflict and a stale version (409) as `withdraw`, so a page gone stale says so at once."""
    checked = withdrawal.check_withdrawal(cmd, deps.clock.today())
    require_version(expected_version, store.subject_version(conn, subject.key, office), Text(N_("Samtykkeoversikten")))
    targets = _withdrawal_targets(conn, office, subject, checked)
    policy = data_policy(conn, deps)
    return {"purposes": sorted({row.purpose for row in targets}), "signer_role": checked.signer_role,
            "requested_on": checked.requested_on, "data_policy": policy,
            "data_policy_text": withdrawal.DATA_POLICY_TEXT[policy]}


# ---------------------------------------------------------------- expiry
def sweep_expiry(conn, deps: Deps) -> dict:
    """Granted statuses past their expiry become expired (event); those within N days get one expiring event."""
    today = deps.clock.today()
    expired = expiring = 0
    for row in store.granted_statuses(conn):
        if status.past_expiry(row["expires_on"], today):
            case = store.get_case(conn, row["case_id"]) if row["case_id"] else None
            result = refresh_status(conn, deps, row["office"], case, row["case_id"], row["subject_ref"], row["purpose"])
            expired += result.state != "granted"
            continue
        if status.expiring_due(row["expires_on"], row["expiring_notified_for"], today, deps.expiring_days):
            payload = status.status_payload(row["case_id"], row["subject_ref"], row["purpose"],
                                            row["template_version"], deps.clock.now())
            deps.emit(conn, "consent.expiring", row["office"], {**payload, "expires_on": row["expires_on"]})
            store.mark_expiring_notified(conn, row["subject_key"], row["purpose"], row["expires_on"])
            expiring += 1
    return {"expired": expired, "expiring": expiring}


# ---------------------------------------------------------------- cases from intake's events
def upsert_case(conn, deps: Deps, office: str, payload: dict, opened_on=None, closed_on=None, require_known=False):
    """Keep the case's office and parties; re-evaluate every purpose when the parties change.

    Raises ValueError for another office's case and LookupError for an unknown one when `require_known`."""
    case_id = str(payload["case_id"])
    existing = store.get_case(conn, case_id)
    if existing is not None and existing["office"] != office:
        raise ValueError("case belongs to another office")
    if existing is None and require_known:
        raise LookupError("unknown case")
    values = dict(counsellor_id=payload["counsellor_id"],
                  mentor_id=str(payload["mentor_id"]) if payload.get("mentor_id") else None,
                  mentor_relation=payload["mentor_relation"], has_employer=payload.get("employer_hash") is not None,
                  updated_at=deps.clock.now())
    if opened_on is not None:
        values["opened_on"] = opened_on
    if closed_on is not None:
        values["closed_on"] = closed_on
    if existing is None:
        store.add_case(conn, case_id, office, values)
    else:
        store.update_case(conn, case_id, values)
    case = store.get_case(conn, case_id)
    if signers.parties_changed(existing, case):
        for purpose in sorted(store.purposes_of_subject(conn, case_id)):
            refresh_status(conn, deps, office, case, case_id, None, purpose)
    return case


# ---------------------------------------------------------------- key rotation
def rewrap_office(engine, cipher, office: str, batch_size: int = 50, pause: float = 0.0, progress=None) -> int:
    """Re-wrap every record and document of the office under its current key version, in small committed batches;
    returns how many rows this run re-wrapped.

    A run killed at any moment leaves every row either wholly old or wholly new, and the next run picks up the rows
    still old: the command is resumable by running it again."""
    done = 0
    document_batch = max(1, min(batch_size, 10))  # scans are up to 10 MiB each: keep a batch's memory small
    for table_name, size in (("records", batch_size), ("documents", document_batch)):
        while True:
            with engine.begin() as conn:
                n = store.rewrap_batch(conn, cipher, office, table_name, size)
            if n == 0:
                break
            done += n
            if progress:
                progress(office, store.sql_name(table_name), n, done)
            if pause:
                time.sleep(pause)
    return done


def rows_behind(engine, cipher, office: str) -> int:
    with engine.connect() as conn:
        return store.rows_behind(conn, cipher, office)
