"""Consent rules, free of Flask: templates, required signers, recording, withdrawal, status and its events.

Every function takes an open connection (the caller's transaction) and what it needs (`Deps`), so the outbox row
of an event is always written in the same transaction as the change that caused it.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import and_, func, select

from shared.auth import NotFound
from shared.vocab import codes, label

from . import uploads
from .tables import OWN as T

SUBJECT_KINDS = ("case", "person")
DECISIONS = ("granted", "refused")
METHODS = ("scanned_paper", "digital")
ENABLED_METHODS = ("scanned_paper",)
DATA_POLICY_TEXT = {
    "erase": "Data som allerede er hos forskerne for dette formålet, skal slettes (sletting er varslet forskerne).",
    "research_exemption": "Data som allerede er hos forskerne, beholdes etter forskningsunntaket "
                          "(personvernforordningen art. 17 nr. 3 bokstav d), men nye data sendes ikke.",
}


class ConsentInvalid(ValueError):
    """Bad input: `errors` maps each field to Norwegian messages. Nothing has been written."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("invalid consent input")
        self.errors = errors


class Conflict(ValueError):
    """The request is well formed but cannot be done in the current state (409)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Deps:
    """What the rules need from the platform; the web layer and the CLI wire real ones, tests may wire others."""

    cipher: object
    clock: object
    emit: object  # emit(conn, event_type, office, payload)
    project_settings: object  # (conn) -> dict
    directory_user: object  # (conn, user_id) -> dict | None
    max_upload_bytes: int = uploads.DEFAULT_MAX_BYTES
    expiring_days: int = 30


def deps_from_platform(platform, cipher=None) -> Deps:
    from shared.config import env_int

    from .cipher import OfficeCipher
    extra = platform.settings.extra
    return Deps(
        cipher=cipher or OfficeCipher(lambda: platform.keyring),
        clock=platform.clock,
        emit=platform.emit,
        project_settings=lambda conn: _project_settings(conn, platform.tables["project"]),
        directory_user=lambda conn, user_id: _directory_user(conn, platform.tables["users"], user_id),
        max_upload_bytes=env_int(extra, "CONSENT_MAX_UPLOAD_BYTES", uploads.DEFAULT_MAX_BYTES, minimum=1024,
                                 maximum=100 * 1024 * 1024),
        expiring_days=env_int(extra, "CONSENT_EXPIRING_DAYS", 30, minimum=1, maximum=365),
    )


def _project_settings(conn, table) -> dict | None:
    """Read in the caller's transaction (SQLite takes its write lock at BEGIN: a second connection would wait)."""
    from shared.directory import ProjectSettingsSchema
    row = conn.execute(select(table)).mappings().first()
    return None if row is None else ProjectSettingsSchema().load(row["settings"])


def _directory_user(conn, table, user_id) -> dict | None:
    row = conn.execute(select(table).where(table.c.id == user_id)).mappings().first()
    return dict(row) if row else None


def subject_key(case_id: str | None, subject_ref: str | None) -> str:
    return str(case_id) if case_id else f"person:{subject_ref}"


# ---------------------------------------------------------------- templates
TEMPLATE_FIELDS = ("subject_kind", "signer_roles", "title_nb", "text_nb", "text_nn", "text_en", "valid_from", "expires_on")


def load_templates(conn, items: list[dict], actor: str, now) -> dict:
    """Add template versions; a version once stored never changes (a changed text is a new version)."""
    t = T["templates"]
    added, unchanged = [], []
    for item in items:
        existing = conn.execute(select(t).where(t.c.purpose == item["purpose"], t.c.version == item["version"])).mappings().first()
        if existing is not None:
            same = all((existing[k] or None) == (item.get(k) or None) for k in TEMPLATE_FIELDS if k != "signer_roles") \
                and sorted(existing["signer_roles"]) == sorted(item["signer_roles"])
            if not same:
                raise ConsentInvalid({"version": [
                    f"Versjon {item['version']} av formålet {item['purpose']} finnes allerede med annet innhold. "
                    "En endret tekst må bli en ny versjon."]})
            unchanged.append((item["purpose"], item["version"]))
            continue
        conn.execute(t.insert().values(purpose=item["purpose"], version=item["version"], created_at=now, created_by=actor,
                                       **{k: item.get(k) for k in TEMPLATE_FIELDS}))
        added.append((item["purpose"], item["version"]))
    return {"added": added, "unchanged": unchanged}


def list_templates(conn) -> list[dict]:
    t = T["templates"]
    return [dict(r) for r in conn.execute(select(t).order_by(t.c.purpose, t.c.version)).mappings()]


def current_template(conn, purpose: str, on: date) -> dict | None:
    """The newest version in force on a date (valid_from passed)."""
    t = T["templates"]
    row = conn.execute(select(t).where(t.c.purpose == purpose, t.c.valid_from <= on)
                       .order_by(t.c.version.desc()).limit(1)).mappings().first()
    return dict(row) if row else None


# ---------------------------------------------------------------- who must sign
@dataclass(frozen=True)
class Slot:
    """One signature the purpose needs; `roles` are the signer roles that fill it."""

    key: str
    roles: frozenset


def required_slots(template: dict, case: dict | None) -> list[Slot]:
    """The signatures a purpose needs for this case.

    - No mentor in the case (mentor_relation "none"): nobody can sign as mentor, so no mentor signature is needed.
    - The employer is the mentor (mentor_relation "manager"): one person, one signature; a consent signed as mentor
      or as employer fills both.
    - An employer not yet known is still required: the purpose waits for the employer's signature.
    """
    roles = list(template["signer_roles"])
    if case is None:
        return [Slot(role, frozenset({role})) for role in roles]
    relation = case["mentor_relation"]
    slots = []
    if relation == "none":
        roles = [r for r in roles if r != "mentor"]
    if relation == "manager" and ("mentor" in roles or "employer" in roles):
        merged = Slot("employer", frozenset({"mentor", "employer"}))
        for role in roles:
            if role in ("mentor", "employer"):
                if merged not in slots:
                    slots.append(merged)
            else:
                slots.append(Slot(role, frozenset({role})))
        return slots
    return [Slot(role, frozenset({role})) for role in roles]


def slot_label(slot: Slot) -> str:
    if len(slot.roles) > 1:
        return "Arbeidsgiver som også er mentor"
    return label("signer_role", next(iter(slot.roles)))


# ---------------------------------------------------------------- status
@dataclass
class SlotState:
    slot: Slot
    state: str  # granted, refused, withdrawn, expired, missing
    decision: dict | None = None


@dataclass
class Evaluation:
    purpose: str
    state: str  # granted, missing, refused, withdrawn, expired, not_applicable, no_template
    slots: list = field(default_factory=list)
    expires_on: date | None = None
    template_version: int | None = None

    @property
    def granted(self):
        return self.state == "granted"

    @property
    def missing_roles(self):
        return [s.slot.key for s in self.slots if s.state != "granted"]


STATE_PRECEDENCE = ("withdrawn", "refused", "expired", "missing")


def _decision_rows(conn, key: str, purpose: str):
    d, r = T["decisions"], T["records"]
    query = (select(d.c.id, d.c.record_id, d.c.decision, d.c.expires_on, d.c.template_version, d.c.withdrawn_at,
                    r.c.signer_role, r.c.signed_on, r.c.recorded_at)
             .join(r, r.c.id == d.c.record_id)
             .where(d.c.subject_key == key, d.c.purpose == purpose))
    return [dict(row) for row in conn.execute(query).mappings()]


def evaluate(conn, case: dict | None, key: str, purpose: str, today: date) -> Evaluation:
    """May this purpose be used for this case (or person) today? Granted only if every required signature holds."""
    template = current_template(conn, purpose, today)
    if template is None:
        return Evaluation(purpose, "no_template")
    slots = required_slots(template, case)
    if not slots:
        return Evaluation(purpose, "not_applicable", template_version=template["version"])
    rows = _decision_rows(conn, key, purpose)
    states = []
    for slot in slots:
        mine = [row for row in rows if row["signer_role"] in slot.roles]
        if not mine:
            states.append(SlotState(slot, "missing"))
            continue
        latest = max(mine, key=lambda row: (row["signed_on"], row["recorded_at"], row["id"]))
        if latest["withdrawn_at"] is not None:
            state = "withdrawn"
        elif latest["decision"] == "refused":
            state = "refused"
        elif latest["expires_on"] < today:
            state = "expired"
        else:
            state = "granted"
        states.append(SlotState(slot, state, latest))
    if all(s.state == "granted" for s in states):
        return Evaluation(purpose, "granted", states, expires_on=min(s.decision["expires_on"] for s in states),
                          template_version=max(s.decision["template_version"] for s in states))
    overall = next(p for p in STATE_PRECEDENCE if any(s.state == p for s in states))
    return Evaluation(purpose, overall, states, template_version=template["version"])


def _status_payload(case_id, subject_ref, purpose, template_version, effective_at):
    return {"case_id": uuid.UUID(case_id) if case_id else None, "subject_ref": subject_ref, "purpose": purpose,
            "template_version": template_version or 1, "effective_at": effective_at}


def refresh_status(conn, deps: Deps, office: str, case: dict | None, case_id: str | None, subject_ref: str | None,
                   purpose: str) -> Evaluation:
    """Re-evaluate one (subject, purpose), store it, and emit the event its change means (same transaction).

    granted (newly, or with a new expiry) -> consent.granted; granted -> withdrawn or refused -> consent.withdrawn
    (with the project's data policy); granted -> expired -> consent.expired; granted -> anything else (a new party
    who has not signed) -> consent.incomplete.
    """
    now = deps.clock.now()
    key = subject_key(case_id, subject_ref)
    s = T["status"]
    # Lock the status row first (created if absent), so two transactions on the same subject and purpose take
    # turns: the second evaluates after the first has committed and emits only what its own change means.
    _insert_ignore(conn, s, dict(subject_key=key, purpose=purpose, office=office, case_id=case_id,
                                 subject_ref=subject_ref, state=NEW, changed_at=now))
    old = conn.execute(select(s).where(s.c.subject_key == key, s.c.purpose == purpose).with_for_update()).mappings().one()
    evaluation = evaluate(conn, case, key, purpose, now.date())
    old_state = None if old["state"] == NEW else old["state"]
    old_expires = old["expires_on"]
    if old_state == evaluation.state and old_expires == evaluation.expires_on:
        return evaluation
    conn.execute(s.update().where(s.c.subject_key == key, s.c.purpose == purpose).values(
        state=evaluation.state, template_version=evaluation.template_version, expires_on=evaluation.expires_on,
        changed_at=now))
    base = _status_payload(case_id, subject_ref, purpose, evaluation.template_version, now)
    if evaluation.granted and (old_state != "granted" or old_expires != evaluation.expires_on):
        deps.emit(conn, "consent.granted", office, {**base, "expires_on": evaluation.expires_on})
    elif old_state == "granted" and not evaluation.granted:
        if evaluation.state in ("withdrawn", "refused"):
            deps.emit(conn, "consent.withdrawn", office, {**base, "data_policy": data_policy(conn, deps)})
        elif evaluation.state == "expired":
            deps.emit(conn, "consent.expired", office, base)
        else:
            deps.emit(conn, "consent.incomplete", office, {**base, "missing_roles": evaluation.missing_roles})
    return evaluation


NEW = "new"  # a status row just created, not yet evaluated


def _insert_ignore(conn, table, values):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    conn.execute(insert(table).values(**values).on_conflict_do_nothing())


def data_policy(conn, deps: Deps) -> str:
    settings = deps.project_settings(conn) or {}
    return settings.get("withdrawal_policy", "erase")


def purposes_of_subject(conn, key: str) -> set[str]:
    d, s = T["decisions"], T["status"]
    found = {row[0] for row in conn.execute(select(d.c.purpose).where(d.c.subject_key == key).distinct())}
    found |= {row[0] for row in conn.execute(select(s.c.purpose).where(s.c.subject_key == key))}
    return found


def overview(conn, case: dict | None, key: str, today: date, kind: str) -> list[Evaluation]:
    """Every purpose of this subject kind with its state: who has signed what, and what is missing."""
    t = T["templates"]
    purposes = [row[0] for row in conn.execute(select(t.c.purpose).where(t.c.subject_kind == kind).distinct())]
    order = {code: i for i, code in enumerate(codes("consent_purpose"))}
    return [evaluate(conn, case, key, p, today) for p in sorted(purposes, key=lambda p: order.get(p, 99))]


# ---------------------------------------------------------------- subjects
def get_case(conn, case_id, office: str | None = None) -> dict | None:
    c = T["cases"]
    try:
        case_id = str(uuid.UUID(str(case_id)))
    except ValueError:
        return None
    row = conn.execute(select(c).where(c.c.case_id == case_id)).mappings().first()
    return dict(row) if row else None


def owned_case(conn, case_id, office: str) -> dict:
    case = get_case(conn, case_id)
    if case is None or case["office"] != office:
        raise NotFound("not found")
    return case


def owned_person(conn, deps: Deps, subject_ref: str, office: str) -> dict:
    user = deps.directory_user(conn, subject_ref) if subject_ref else None
    if user is None or user.get("office_code") != office or user["role"] not in ("counsellor", "local_contact"):
        raise NotFound("not found")
    return user


# ---------------------------------------------------------------- recording
def _valid_national_id(value: str) -> bool:
    from stdnum.no import fodselsnummer
    return fodselsnummer.is_valid(value)


def record_consent(conn, deps: Deps, office: str, actor: str, cmd: dict) -> dict:
    """Validate and store one signed consent form: decisions per purpose, encrypted signer, encrypted document.

    cmd: case_id | subject_ref, signer_role, signer_name, signer_national_id (optional), signed_on, method,
    decisions {purpose: granted|refused}, document (bytes). Raises ConsentInvalid (nothing written) or NotFound.
    """
    errors: dict[str, list[str]] = {}

    def err(name, message):
        errors.setdefault(name, []).append(message)

    today = deps.clock.today()
    content_type = None
    try:
        content_type = uploads.sniff_document(cmd.get("document"), deps.max_upload_bytes)
    except uploads.UploadRefused as refused:
        err("document", refused.message)

    case_id, subject_ref = cmd.get("case_id"), cmd.get("subject_ref")
    case = None
    if bool(case_id) == bool(subject_ref):
        err("case_id", "Oppgi enten saken eller personen samtykket gjelder (ikke begge).")
    elif case_id:
        case = owned_case(conn, case_id, office)
        case_id = case["case_id"]
    else:
        owned_person(conn, deps, subject_ref, office)
    kind = "case" if case_id else "person"

    signer_role = cmd.get("signer_role")
    if signer_role not in codes("signer_role"):
        err("signer_role", "Velg hvem som har signert (bruker, mentor, arbeidsgiver eller veileder).")
    name = (cmd.get("signer_name") or "").strip()
    if not name:
        err("signer_name", "Skriv navnet til den som har signert.")
    elif len(name) > 200:
        err("signer_name", "Navnet kan være høyst 200 tegn.")
    national_id = (cmd.get("signer_national_id") or "").replace(" ", "") or None
    if national_id is not None and not _valid_national_id(national_id):
        err("signer_national_id", "Fødselsnummeret er ikke gyldig (11 siffer med riktige kontrollsiffer).")
    method = cmd.get("method") or "scanned_paper"
    if method not in METHODS:
        err("method", "Ukjent signeringsmåte.")
    elif method not in ENABLED_METHODS:
        err("method", "Digital signering er ikke tatt i bruk ennå. Registrer skannet papirsamtykke.")
    signed_on = cmd.get("signed_on")
    if not isinstance(signed_on, date):
        err("signed_on", "Oppgi datoen samtykket ble signert.")
    elif signed_on > today:
        err("signed_on", "Signeringsdatoen kan ikke være frem i tid.")

    decisions = {p: d for p, d in (cmd.get("decisions") or {}).items() if d}
    templates = {}
    if not decisions:
        err("decisions", "Kryss av for minst ett formål: samtykket eller ikke samtykket.")
    for purpose, decision in decisions.items():
        if purpose not in codes("consent_purpose") or decision not in DECISIONS:
            err("decisions", f"Ukjent formål eller svar: {purpose}.")
            continue
        purpose_label = label("consent_purpose", purpose)
        template = current_template(conn, purpose, signed_on if isinstance(signed_on, date) else today)
        if template is None:
            err("decisions", f"Det finnes ingen samtykkemal for «{purpose_label}» på signeringsdatoen.")
            continue
        if template["subject_kind"] != kind:
            where = "en sak" if template["subject_kind"] == "case" else "en ansatt (ikke en sak)"
            err("decisions", f"«{purpose_label}» gjelder {where}.")
            continue
        if isinstance(signed_on, date) and signed_on > template["expires_on"]:
            err("signed_on", f"Malen for «{purpose_label}» gjaldt til {template['expires_on']:%d.%m.%Y}.")
        if signer_role in codes("signer_role"):
            fills = [slot for slot in required_slots(template, case) if signer_role in slot.roles]
            if not fills:
                err("signer_role", f"{label('signer_role', signer_role)} skal ikke signere for «{purpose_label}»"
                                   + (" i denne saken." if case else "."))
        templates[purpose] = template
    if case is not None and signer_role == "mentor" and case["mentor_relation"] == "none":
        err("signer_role", "Saken har ingen mentor.")
    if kind == "person" and signer_role not in (None, "counsellor") and signer_role in codes("signer_role"):
        err("signer_role", "Et samtykke som gjelder en ansatt, signeres av den ansatte selv (veileder).")
    if errors:
        raise ConsentInvalid(errors)

    now = deps.clock.now()
    record_id, document_id = str(uuid.uuid4()), str(uuid.uuid4())
    cipher = deps.cipher
    name_blob = cipher.encrypt(office, name.encode("utf-8"), record=record_id, version=1, field="signer_name")
    nid_blob = None if national_id is None else cipher.encrypt(
        office, national_id.encode(), record=record_id, version=1, field="signer_national_id")
    conn.execute(T["records"].insert().values(
        id=record_id, office=office, case_id=case_id, subject_ref=subject_ref, signer_role=signer_role,
        signer_name=name_blob, signer_national_id=nid_blob, signed_on=signed_on, method=method, version=1,
        key_version=cipher.blob_version(name_blob), recorded_by=actor, recorded_at=now))
    key = subject_key(case_id, subject_ref)
    for purpose, decision in decisions.items():
        template = templates[purpose]
        conn.execute(T["decisions"].insert().values(
            record_id=record_id, office=office, subject_key=key, purpose=purpose, template_version=template["version"],
            decision=decision, expires_on=template["expires_on"]))
    document = cmd["document"]
    doc_blob = cipher.encrypt(office, document, record=document_id, version=1, field="document", consent=record_id)
    conn.execute(T["documents"].insert().values(
        id=document_id, record_id=record_id, office=office, content_type=content_type, size_bytes=len(document),
        content=doc_blob, version=1, key_version=cipher.blob_version(doc_blob), uploaded_at=now))
    statuses = {p: refresh_status(conn, deps, office, case, case_id, subject_ref, p).state for p in sorted(decisions)}
    return {"record_id": record_id, "document_id": document_id, "status": statuses}


# ---------------------------------------------------------------- reading
def records_of(conn, deps: Deps, key: str, office: str, with_names: bool = True) -> list[dict]:
    r, d, doc = T["records"], T["decisions"], T["documents"]
    rows = [dict(row) for row in conn.execute(
        select(r).where(r.c.office == office, (r.c.case_id == key) if not key.startswith("person:")
                        else (r.c.subject_ref == key.removeprefix("person:")))
        .order_by(r.c.signed_on.desc(), r.c.recorded_at.desc())).mappings()]
    for row in rows:
        row["decisions"] = [dict(x) for x in conn.execute(
            select(d.c.purpose, d.c.decision, d.c.template_version, d.c.expires_on, d.c.withdrawn_at)
            .where(d.c.record_id == row["id"]).order_by(d.c.purpose)).mappings()]
        row["documents"] = [dict(x) for x in conn.execute(
            select(doc.c.id, doc.c.content_type, doc.c.size_bytes, doc.c.uploaded_at)
            .where(doc.c.record_id == row["id"])).mappings()]
        row["signer_name"] = open_signer_name(deps, row) if with_names else None
        row.pop("signer_national_id", None)
    return rows


def open_signer_name(deps: Deps, row: dict) -> str:
    return deps.cipher.decrypt(row["office"], row["signer_name"], record=row["id"], version=row["version"],
                               field="signer_name").decode("utf-8")


def owned_document(conn, document_id: str, office: str) -> dict:
    doc = T["documents"]
    row = conn.execute(select(doc).where(doc.c.id == str(document_id))).mappings().first()
    if row is None or row["office"] != office:
        raise NotFound("not found")
    return dict(row)


def open_document(deps: Deps, row: dict) -> bytes:
    return deps.cipher.decrypt(row["office"], row["content"], record=row["id"], version=row["version"],
                               field="document", consent=row["record_id"])


# ---------------------------------------------------------------- withdrawal
def withdraw(conn, deps: Deps, office: str, actor: str, cmd: dict) -> dict:
    """Withdraw per purpose or everything, effective at once; events for every purpose that stops holding.

    cmd: case_id | subject_ref, signer_role (None: every signer), purposes (empty/None: all), requested_on.
    """
    case_id, subject_ref = cmd.get("case_id"), cmd.get("subject_ref")
    if bool(case_id) == bool(subject_ref):
        raise ConsentInvalid({"case_id": ["Oppgi enten saken eller personen samtykket gjelder (ikke begge)."]})
    case = None
    if case_id:
        case = owned_case(conn, case_id, office)
        case_id = case["case_id"]
    else:
        owned_person(conn, deps, subject_ref, office)
    today = deps.clock.today()
    requested_on = cmd.get("requested_on") or today
    errors = {}
    if requested_on > today:
        errors["requested_on"] = ["Datoen for tilbaketrekkingen kan ikke være frem i tid."]
    signer_role = cmd.get("signer_role") or None
    if signer_role is not None and signer_role not in codes("signer_role"):
        errors["signer_role"] = ["Ukjent rolle."]
    purposes = list(cmd.get("purposes") or [])
    unknown = [p for p in purposes if p not in codes("consent_purpose")]
    if unknown:
        errors["purposes"] = [f"Ukjent formål: {', '.join(unknown)}."]
    if errors:
        raise ConsentInvalid(errors)
    key = subject_key(case_id, subject_ref)
    d, r = T["decisions"], T["records"]
    conditions = [d.c.subject_key == key, d.c.office == office, d.c.decision == "granted", d.c.withdrawn_at.is_(None)]
    if purposes:
        conditions.append(d.c.purpose.in_(purposes))
    if signer_role:
        roles = {signer_role}
        if case is not None and case["mentor_relation"] == "manager" and signer_role in ("mentor", "employer"):
            roles = {"mentor", "employer"}  # one person, one signature: withdrawing it withdraws both roles
        conditions.append(d.c.record_id.in_(select(r.c.id).where(r.c.signer_role.in_(roles))))
    targets = conn.execute(select(d.c.id, d.c.purpose).where(and_(*conditions))).all()
    if not targets:
        raise Conflict("Det finnes ikke noe gjeldende samtykke å trekke tilbake for dette valget.")
    now = deps.clock.now()
    policy = data_policy(conn, deps)
    withdrawal_id = str(uuid.uuid4())
    affected = sorted({row.purpose for row in targets})
    conn.execute(T["withdrawals"].insert().values(
        id=withdrawal_id, office=office, subject_key=key, signer_role=signer_role, purposes=affected,
        requested_on=requested_on, data_policy=policy, recorded_by=actor, recorded_at=now))
    conn.execute(d.update().where(d.c.id.in_([row.id for row in targets]))
                 .values(withdrawn_at=now, withdrawal_id=withdrawal_id))
    statuses = {p: refresh_status(conn, deps, office, case, case_id, subject_ref, p).state for p in affected}
    return {"withdrawal_id": withdrawal_id, "purposes": affected, "data_policy": policy,
            "data_policy_text": DATA_POLICY_TEXT[policy], "status": statuses}


# ---------------------------------------------------------------- expiry
def sweep_expiry(conn, deps: Deps) -> dict:
    """Granted statuses past their expiry become expired (event); those within N days get one expiring event."""
    s = T["status"]
    today = deps.clock.today()
    expired = expiring = 0
    granted = [dict(row) for row in conn.execute(select(s).where(s.c.state == "granted")).mappings()]
    for row in granted:
        case = get_case(conn, row["case_id"]) if row["case_id"] else None
        if row["expires_on"] is not None and row["expires_on"] < today:
            result = refresh_status(conn, deps, row["office"], case, row["case_id"], row["subject_ref"], row["purpose"])
            expired += result.state != "granted"
            continue
        if (row["expires_on"] is not None and row["expires_on"] - timedelta(days=deps.expiring_days) <= today
                and row["expiring_notified_for"] != row["expires_on"]):
            payload = _status_payload(row["case_id"], row["subject_ref"], row["purpose"], row["template_version"],
                                      deps.clock.now())
            deps.emit(conn, "consent.expiring", row["office"], {**payload, "expires_on": row["expires_on"]})
            conn.execute(s.update().where(s.c.subject_key == row["subject_key"], s.c.purpose == row["purpose"])
                         .values(expiring_notified_for=row["expires_on"]))
            expiring += 1
    return {"expired": expired, "expiring": expiring}


# ---------------------------------------------------------------- cases from intake's events
def upsert_case(conn, deps: Deps, office: str, payload: dict, opened_on=None, closed_on=None, require_known=False):
    """Keep the case's office and parties; re-evaluate every purpose when the parties change."""
    c = T["cases"]
    case_id = str(payload["case_id"])
    existing = get_case(conn, case_id)
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
        conn.execute(c.insert().values(case_id=case_id, office=office, **values))
    else:
        conn.execute(c.update().where(c.c.case_id == case_id).values(**values))
    case = get_case(conn, case_id)
    parties_changed = existing is None or any(existing[k] != case[k] for k in ("mentor_relation", "has_employer"))
    if parties_changed:
        for purpose in sorted(purposes_of_subject(conn, case_id)):
            refresh_status(conn, deps, office, case, case_id, None, purpose)
    return case


def cases_of_office(conn, office: str) -> list[dict]:
    c = T["cases"]
    return [dict(r) for r in conn.execute(select(c).where(c.c.office == office)
                                          .order_by(c.c.closed_on.is_not(None), c.c.opened_on.desc())).mappings()]


def granted_counts(conn, office: str) -> dict:
    s = T["status"]
    rows = conn.execute(select(s.c.subject_key, func.count()).where(s.c.office == office, s.c.state == "granted")
                        .group_by(s.c.subject_key)).all()
    return {key: n for key, n in rows}
