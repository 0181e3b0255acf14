"""Every SQL statement of the consent service and every encrypted field, on the caller's connection.

Functions take the connection first (the caller's transaction) and, where a field is encrypted or opened, the
cipher (`cipher.py`). Rows come back as plain dicts.
"""
from __future__ import annotations

import uuid

from sqlalchemy import and_, func, select, true
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from shared import privacy as shared_privacy
from shared.auth import select_owned

from .domain.audit import GENESIS
from .tables import OWN as T
from .tables import platform as platform_tables

# The encryption context of each encrypted column: the field name bound into the associated data together with
# the office, the row id and the row version (a document also with its consent record), so a ciphertext copied to
# another row, field or office does not open.
ENCRYPTED_FIELDS = {
    "records": {"signer_name": "signer_name", "signer_national_id": "signer_national_id"},
    "documents": {"content": "document"},
}
PRIVACY_LOG = T["privacy_log"]
_NEW_STATUS = "new"  # a status row just created, not yet evaluated

_users = platform_tables["users"]


def sql_name(table: str) -> str:
    """The table's name in the database (progress messages)."""
    return T[table].name


def _binding(table: str, column: str, row: dict) -> dict:
    binding = {"record": row["id"], "version": row["version"], "field": ENCRYPTED_FIELDS[table][column]}
    if table == "documents":
        binding["consent"] = row["record_id"]
    return binding


def _insert_ignore(conn, table, values):
    insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(insert(table).values(**values).on_conflict_do_nothing())


# ---------------------------------------------------------------- templates
def find_template(conn, purpose: str, version: int) -> dict | None:
    t = T["templates"]
    row = conn.execute(select(t).where(t.c.purpose == purpose, t.c.version == version)).mappings().first()
    return dict(row) if row else None


def add_template(conn, item: dict, fields, actor: str, now) -> None:
    conn.execute(T["templates"].insert().values(purpose=item["purpose"], version=item["version"], created_at=now,
                                                created_by=actor, **{k: item.get(k) for k in fields}))


def add_template_titles(conn, template_id: int, titles: dict) -> None:
    """A stored version's missing title translations (domain.templates.check_unchanged)."""
    conn.execute(T["templates"].update().where(T["templates"].c.id == template_id).values(**titles))


def list_templates(conn) -> list[dict]:
    t = T["templates"]
    return [dict(r) for r in conn.execute(select(t).order_by(t.c.purpose, t.c.version)).mappings()]


def current_template(conn, purpose: str, on) -> dict | None:
    """The newest version in force on a date (valid_from passed)."""
    t = T["templates"]
    row = conn.execute(select(t).where(t.c.purpose == purpose, t.c.valid_from <= on)
                       .order_by(t.c.version.desc()).limit(1)).mappings().first()
    return dict(row) if row else None


def current_templates(conn, purposes, on) -> dict[str, dict]:
    """{purpose: `current_template`} of several purposes in one statement (a purpose without one left out)."""
    t = T["templates"]
    found: dict[str, dict] = {}
    for row in conn.execute(select(t).where(t.c.purpose.in_(list(purposes)), t.c.valid_from <= on)
                            .order_by(t.c.purpose, t.c.version.desc())).mappings():
        found.setdefault(row["purpose"], dict(row))  # the first of a purpose is its newest version
    return found


def purposes_of_kind(conn, kind: str) -> list[str]:
    t = T["templates"]
    return [row[0] for row in conn.execute(select(t.c.purpose).where(t.c.subject_kind == kind).distinct())]


# ---------------------------------------------------------------- cases and persons
def _case_id(case_id) -> str | None:
    try:
        return str(uuid.UUID(str(case_id)))
    except ValueError:
        return None


def get_case(conn, case_id) -> dict | None:
    """Any office's case (the consumer checks the office of an event against it)."""
    c = T["cases"]
    key = _case_id(case_id)
    if key is None:
        return None
    row = conn.execute(select(c).where(c.c.case_id == key)).mappings().first()
    return dict(row) if row else None


def owned_case(conn, case_id, office: str) -> dict:
    """The office's case, or NotFound (another office's id alike)."""
    c = T["cases"]
    return dict(select_owned(conn, select(c).where(c.c.case_id == _case_id(case_id)), c.c.office, office))


def owned_person(conn, subject_ref: str, office: str, roles) -> dict:
    """A person of the office in one of `roles` (the directory's user row), or NotFound."""
    query = select(_users).where(_users.c.id == subject_ref, _users.c.role.in_(roles))
    return dict(select_owned(conn, query, _users.c.office_code, office))


def add_case(conn, case_id: str, office: str, values: dict) -> None:
    conn.execute(T["cases"].insert().values(case_id=case_id, office=office, **values))


def update_case(conn, case_id: str, values: dict) -> None:
    c = T["cases"]
    conn.execute(c.update().where(c.c.case_id == case_id).values(**values))


def cases_of_office(conn, office: str, offset: int = 0, limit: int | None = None) -> list[dict]:
    """The office's cases, open ones first and newest first; a page of them with offset and limit."""
    c = T["cases"]
    query = (select(c).where(c.c.office == office)
             .order_by(c.c.closed_on.is_not(None), c.c.opened_on.desc(), c.c.case_id).offset(offset).limit(limit))
    return [dict(r) for r in conn.execute(query).mappings()]


def count_cases_of_office(conn, office: str) -> int:
    c = T["cases"]
    return conn.execute(select(func.count()).select_from(c).where(c.c.office == office)).scalar()


def all_cases(conn) -> list[dict]:
    c = T["cases"]
    return [dict(r) for r in conn.execute(select(c).order_by(c.c.opened_on, c.c.case_id)).mappings()]


def has_records(conn, case_id: str) -> bool:
    r = T["records"]
    return bool(conn.execute(select(func.count()).select_from(r).where(r.c.case_id == case_id)).scalar())


# ---------------------------------------------------------------- records, decisions, documents
def add_record(conn, cipher, values: dict, signer_name: str, signer_national_id: str | None) -> None:
    """One signed form; `values` are its plain columns (id, office, version, ...). The names are encrypted here."""
    office = values["office"]
    name_blob = cipher.encrypt(office, signer_name.encode("utf-8"),
                               **_binding("records", "signer_name", values))
    nid_blob = None if signer_national_id is None else cipher.encrypt(
        office, signer_national_id.encode(), **_binding("records", "signer_national_id", values))
    conn.execute(T["records"].insert().values(**values, signer_name=name_blob, signer_national_id=nid_blob,
                                              key_version=cipher.blob_version(name_blob)))


def add_decision(conn, values: dict) -> None:
    conn.execute(T["decisions"].insert().values(**values))


def add_document(conn, cipher, values: dict, content: bytes) -> None:
    """The scan, encrypted as it is (no copy); `values` are its plain columns (id, record_id, office, version, ...)."""
    blob = cipher.encrypt(values["office"], content, **_binding("documents", "content", values))
    conn.execute(T["documents"].insert().values(**values, size_bytes=len(content), content=blob,
                                                key_version=cipher.blob_version(blob)))


def decisions_for(conn, key: str, purpose: str) -> list[dict]:
    """Every decision of a subject for a purpose, with its record's signer role and dates (for the status)."""
    d, r = T["decisions"], T["records"]
    query = (select(d.c.id, d.c.record_id, d.c.decision, d.c.expires_on, d.c.template_version, d.c.withdrawn_at,
                    r.c.signer_role, r.c.signed_on, r.c.recorded_at)
             .join(r, r.c.id == d.c.record_id)
             .where(d.c.subject_key == key, d.c.purpose == purpose))
    return [dict(row) for row in conn.execute(query).mappings()]


def decisions_by_purpose(conn, key: str, purposes) -> dict[str, list[dict]]:
    """{purpose: `decisions_for`} of several purposes in one statement."""
    d, r = T["decisions"], T["records"]
    query = (select(d.c.purpose, d.c.id, d.c.record_id, d.c.decision, d.c.expires_on, d.c.template_version,
                    d.c.withdrawn_at, r.c.signer_role, r.c.signed_on, r.c.recorded_at)
             .join(r, r.c.id == d.c.record_id)
             .where(d.c.subject_key == key, d.c.purpose.in_(list(purposes))))
    found: dict[str, list[dict]] = {}
    for row in conn.execute(query).mappings():
        decision = dict(row)
        found.setdefault(decision.pop("purpose"), []).append(decision)
    return found


def purposes_of_subject(conn, key: str) -> set[str]:
    d, s = T["decisions"], T["status"]
    found = {row[0] for row in conn.execute(select(d.c.purpose).where(d.c.subject_key == key).distinct())}
    found |= {row[0] for row in conn.execute(select(s.c.purpose).where(s.c.subject_key == key))}
    return found


def _decisions_of_record(conn, record_id: str) -> list[dict]:
    d = T["decisions"]
    return [dict(x) for x in conn.execute(
        select(d.c.purpose, d.c.decision, d.c.template_version, d.c.expires_on, d.c.withdrawn_at)
        .where(d.c.record_id == record_id).order_by(d.c.purpose)).mappings()]


def _records_of_subject(key: str):
    r = T["records"]
    return r.c.subject_ref == key.removeprefix("person:") if key.startswith("person:") else r.c.case_id == key


def records_of(conn, cipher, key: str, office: str, with_names: bool = True) -> list[dict]:
    """The office's forms for a subject, newest first, each with its decisions and its documents (no content);
    the signer's name opened, the national ID left out."""
    r, d, doc = T["records"], T["decisions"], T["documents"]
    rows = [dict(row) for row in conn.execute(
        select(r).where(r.c.office == office, _records_of_subject(key))
        .order_by(r.c.signed_on.desc(), r.c.recorded_at.desc())).mappings()]
    # The forms' decisions and documents in one statement each, not two a form (intake's case page asks for this
    # overview on every view).
    ids = [row["id"] for row in rows]
    decisions: dict = {}
    documents: dict = {}
    if ids:
        for x in conn.execute(select(d.c.record_id, d.c.purpose, d.c.decision, d.c.template_version, d.c.expires_on,
                                     d.c.withdrawn_at).where(d.c.record_id.in_(ids))
                              .order_by(d.c.record_id, d.c.purpose)).mappings():
            decision = dict(x)
            decisions.setdefault(decision.pop("record_id"), []).append(decision)
        for x in conn.execute(select(doc.c.record_id, doc.c.id, doc.c.content_type, doc.c.size_bytes,
                                     doc.c.uploaded_at).where(doc.c.record_id.in_(ids))).mappings():
            document = dict(x)
            documents.setdefault(document.pop("record_id"), []).append(document)
    for row in rows:
        row["decisions"] = decisions.get(row["id"], [])
        row["documents"] = documents.get(row["id"], [])
        row["signer_name"] = open_signer_name(cipher, row) if with_names else None
        row.pop("signer_national_id", None)
    return rows


def case_records(conn, cipher, case_id: str, office: str, opened_role: str) -> list[dict]:
    """The office's forms for a case, oldest first, each with its decisions and its documents. Signer name, national
    ID and scans are opened only for the forms signed in `opened_role` (an access request: the person's own forms),
    `content` is None for the others."""
    r, doc = T["records"], T["documents"]
    rows = conn.execute(select(r).where(r.c.case_id == case_id, r.c.office == office)
                        .order_by(r.c.signed_on, r.c.recorded_at)).mappings().all()
    records = []
    for row in rows:
        opened = row["signer_role"] == opened_role
        item = {"id": row["id"], "signer_role": row["signer_role"], "signed_on": row["signed_on"],
                "method": row["method"], "recorded_by": row["recorded_by"], "recorded_at": row["recorded_at"],
                "signer_name": open_signer_name(cipher, row) if opened else None,
                "signer_national_id": _open_national_id(cipher, row) if opened else None,
                "decisions": _decisions_of_record(conn, row["id"]), "documents": []}
        for document in conn.execute(select(doc).where(doc.c.record_id == row["id"])).mappings():
            item["documents"].append({
                "id": document["id"], "content_type": document["content_type"],
                "size_bytes": document["size_bytes"], "uploaded_at": document["uploaded_at"],
                "content": open_document(cipher, document) if opened else None})
        records.append(item)
    return records


def open_signer_name(cipher, row) -> str:
    return cipher.decrypt(row["office"], row["signer_name"], **_binding("records", "signer_name", row)).decode("utf-8")


def _open_national_id(cipher, row) -> str | None:
    if row["signer_national_id"] is None:
        return None
    return cipher.decrypt(row["office"], row["signer_national_id"],
                          **_binding("records", "signer_national_id", row)).decode("utf-8")


def owned_document(conn, document_id, office: str) -> dict:
    """The office's document with its (encrypted) content, or NotFound."""
    doc = T["documents"]
    return dict(select_owned(conn, select(doc).where(doc.c.id == str(document_id)), doc.c.office, office))


def open_document(cipher, row) -> bytes:
    return cipher.decrypt(row["office"], row["content"], **_binding("documents", "content", row))


# ---------------------------------------------------------------- status
def lock_status(conn, key: str, purpose: str, office: str, case_id, subject_ref, now) -> dict:
    """The status row of (subject, purpose), created if absent and locked, so two transactions on the same subject
    and purpose take turns: the second evaluates after the first has committed. `state` None: never evaluated."""
    s = T["status"]
    _insert_ignore(conn, s, dict(subject_key=key, purpose=purpose, office=office, case_id=case_id,
                                 subject_ref=subject_ref, state=_NEW_STATUS, changed_at=now))
    row = dict(conn.execute(select(s).where(s.c.subject_key == key, s.c.purpose == purpose)
                            .with_for_update()).mappings().one())
    if row["state"] == _NEW_STATUS:
        row["state"] = None
    return row


def save_status(conn, key: str, purpose: str, state: str, template_version, expires_on, now) -> None:
    s = T["status"]
    conn.execute(s.update().where(s.c.subject_key == key, s.c.purpose == purpose).values(
        state=state, template_version=template_version, expires_on=expires_on, changed_at=now))


def granted_statuses(conn) -> list[dict]:
    s = T["status"]
    return [dict(row) for row in conn.execute(select(s).where(s.c.state == "granted")).mappings()]


def mark_expiring_notified(conn, key: str, purpose: str, expires_on) -> None:
    s = T["status"]
    conn.execute(s.update().where(s.c.subject_key == key, s.c.purpose == purpose)
                 .values(expiring_notified_for=expires_on))


def granted_counts(conn, office: str, keys=None) -> dict:
    """Granted purposes per subject key of the office; only those of `keys` (one page of cases) when given."""
    s = T["status"]
    query = select(s.c.subject_key, func.count()).where(s.c.office == office, s.c.state == "granted")
    if keys is not None:
        query = query.where(s.c.subject_key.in_(list(keys)))
    rows = conn.execute(query.group_by(s.c.subject_key)).all()
    return {key: n for key, n in rows}


def statuses_of(conn, key: str, office: str) -> list[dict]:
    s = T["status"]
    return [dict(x) for x in conn.execute(
        select(s.c.purpose, s.c.state, s.c.expires_on, s.c.changed_at)
        .where(s.c.subject_key == key, s.c.office == office).order_by(s.c.purpose)).mappings()]


# ---------------------------------------------------------------- withdrawal
def subject_version(conn, key: str, office: str) -> int:
    """The version of a subject's consents: how many forms and withdrawals the office has registered for it. Each
    changes what a withdrawal reaches, and neither is ever deleted but with the subject (erasure, retention)."""
    r, w = T["records"], T["withdrawals"]
    forms = select(func.count()).select_from(r).where(r.c.office == office, _records_of_subject(key))
    withdrawals = select(func.count()).select_from(w).where(w.c.office == office, w.c.subject_key == key)
    return conn.execute(select(forms.scalar_subquery() + withdrawals.scalar_subquery())).scalar()


def lock_subject(conn, key: str, office: str) -> None:
    """Lock the subject's status rows (every purpose it has a decision for): two withdrawals of one subject take
    turns, and the second reads the version the first made. A form recorded meanwhile locks the rows of its
    purposes before its status changes."""
    s = T["status"]
    conn.execute(select(s.c.purpose).where(s.c.subject_key == key, s.c.office == office).with_for_update()).all()


def granted_decisions(conn, key: str, office: str, purposes, roles) -> list:
    """The decisions a withdrawal reaches: granted, not withdrawn, of these purposes (all if empty) and signer roles
    (all if None)."""
    d, r = T["decisions"], T["records"]
    conditions = [d.c.subject_key == key, d.c.office == office, d.c.decision == "granted", d.c.withdrawn_at.is_(None)]
    if purposes:
        conditions.append(d.c.purpose.in_(purposes))
    if roles:
        conditions.append(d.c.record_id.in_(select(r.c.id).where(r.c.signer_role.in_(roles))))
    return conn.execute(select(d.c.id, d.c.purpose).where(and_(*conditions))).all()


def add_withdrawal(conn, values: dict) -> None:
    conn.execute(T["withdrawals"].insert().values(**values))


def mark_withdrawn(conn, decision_ids, withdrawal_id: str, now) -> None:
    d = T["decisions"]
    conn.execute(d.update().where(d.c.id.in_(decision_ids)).values(withdrawn_at=now, withdrawal_id=withdrawal_id))


def withdrawals_of(conn, key: str, office: str) -> list[dict]:
    w = T["withdrawals"]
    rows = [dict(x) for x in conn.execute(select(w).where(w.c.subject_key == key, w.c.office == office)
                                          .order_by(w.c.recorded_at)).mappings()]
    for row in rows:
        row.pop("subject_key", None)
    return rows


# ---------------------------------------------------------------- audit log (the chain itself: domain.audit)
def lock_audit_head(conn, office: str) -> dict:
    """The office's chain head, created if absent and locked: it serialises writers per office."""
    head = T["audit_head"]
    _insert_ignore(conn, head, {"office": office, "seq": 0, "hash": GENESIS})
    return dict(conn.execute(select(head).where(head.c.office == office).with_for_update()).mappings().one())


def add_audit_entry(conn, entry: dict) -> None:
    """The entry (with `prev_hash` and `hash`), and the head moved to it."""
    head = T["audit_head"]
    conn.execute(T["audit_log"].insert().values(**entry))
    conn.execute(head.update().where(head.c.office == entry["office"]).values(seq=entry["seq"], hash=entry["hash"]))


def audit_offices(conn) -> list[str]:
    head, log = T["audit_head"], T["audit_log"]
    return sorted({r[0] for r in conn.execute(select(head.c.office))}
                  | {r[0] for r in conn.execute(select(log.c.office).distinct())})


def audit_chain(conn, office: str):
    """The office's entries in sequence order (streamed)."""
    log = T["audit_log"]
    return conn.execute(select(log).where(log.c.office == office).order_by(log.c.seq)).mappings()


def audit_head(conn, office: str) -> dict | None:
    head = T["audit_head"]
    row = conn.execute(select(head).where(head.c.office == office)).mappings().first()
    return dict(row) if row else None


def audit_trail(conn, office: str, record_ids) -> list[dict]:
    log = T["audit_log"]
    return [dict(x) for x in conn.execute(
        select(log.c.seq, log.c.at, log.c.actor, log.c.actor_role, log.c.action, log.c.document_id,
               log.c.record_id, log.c.reason)
        .where(log.c.office == office, log.c.record_id.in_(record_ids)).order_by(log.c.seq)).mappings()]


# ---------------------------------------------------------------- erasure and retention
def erasure_steps(conn, outbox, office: str, case_ids) -> list:
    """shared.privacy.remove's steps (children first) for every consent of these cases in their office."""
    r, d = T["records"], T["decisions"]
    records = select(r.c.id).where(r.c.case_id.in_(case_ids), r.c.office == office)

    def keyed(table):
        return and_(table.c.subject_key.in_(case_ids), table.c.office == office)

    return [
        ("documents", T["documents"], T["documents"].c.record_id.in_(records)),
        ("decisions", d, d.c.record_id.in_(records)),
        ("records", r, r.c.id.in_(records)),
        ("withdrawals", T["withdrawals"], keyed(T["withdrawals"])),
        ("status", T["status"], keyed(T["status"])),
        ("cases", T["cases"], and_(T["cases"].c.case_id.in_(case_ids), T["cases"].c.office == office)),
        ("outbox_events", outbox, shared_privacy.sent_events_about(conn, outbox, office, case_ids)),
    ]


def retention_steps(outbox, replays) -> list:
    """Every consent (cases' and persons'), its documents, decisions, withdrawals and status, the cases, the sent
    outbox rows and the kept answers of requests (shared.replays). Templates stay (no person in them); the audit log
    stays (append-only, ids only)."""
    return [("documents", T["documents"], true()), ("decisions", T["decisions"], true()),
            ("records", T["records"], true()), ("withdrawals", T["withdrawals"], true()),
            ("status", T["status"], true()), ("cases", T["cases"], true()),
            ("outbox_events", outbox, shared_privacy.sent_events(outbox)), ("replays", replays, true())]


# ---------------------------------------------------------------- key rotation
def rewrap_batch(conn, cipher, office: str, table_name: str, batch_size: int) -> int:
    """Re-wrap one batch of the office's rows whose key version is behind (only the data keys: a scan's bulk
    ciphertext is untouched); returns how many."""
    table = T[table_name]
    current = cipher.current_version(office)
    query = (select(table).where(table.c.office == office, table.c.key_version < current)
             .order_by(table.c.id).limit(batch_size))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)  # two rewrap runs never fight over a row
    rows = [dict(r) for r in conn.execute(query).mappings()]
    for row in rows:
        values = {column: cipher.rewrap(office, row[column], **_binding(table_name, column, row))
                  for column in ENCRYPTED_FIELDS[table_name] if row[column] is not None}
        conn.execute(table.update().where(table.c.id == row["id"]).values(**values, key_version=current))
    return len(rows)


def rows_behind(conn, cipher, office: str) -> int:
    current = cipher.current_version(office)
    total = 0
    for table_name in ENCRYPTED_FIELDS:
        table = T[table_name]
        total += conn.execute(select(func.count()).select_from(table)
                              .where(table.c.office == office, table.c.key_version < current)).scalar()
    return total
