"""Intake's store: every SQL statement of the service and every encrypted field, on the caller's connection.

Functions take the caller's connection first and run inside its transaction; none commits. Personal fields are
sealed and opened here only. Each encrypted field is declared once below with the context its blob is bound to (the
office, the id of its row, the field's name), so a blob copied to another row, field or office fails to open. A
case row comes back with its personal columns still sealed; `case_personal` opens them for the office.
"""
from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass

from sqlalchemy import Date, Integer, String, and_, bindparam, cast, func, literal_column, null, select, true, union_all
from sqlalchemy import case as sql_case
from sqlalchemy.exc import IntegrityError

from shared import overdue, privacy
from shared.auth import NotFound, select_owned
from shared.config import REPO_ROOT
from shared.crypto import decrypt_text, encrypt_text
from shared.db import execute_together, prepared

from .domain import states
from .tables import OWN as T


# ------------------------------------------------------------------ encrypted fields
@dataclass(frozen=True)
class SealedField:
    """An encrypted field: its blob is bound to the office, its row's id (under the key `row`) and `name`."""

    row: str
    name: str
    is_json: bool = False

    def seal(self, keyring, office: str, row_id: str, value) -> bytes | None:
        if self.is_json and value is not None:
            value = json.dumps(value, ensure_ascii=False, default=str)
        return encrypt_text(keyring, office, value, **{self.row: row_id, "field": self.name})

    def open(self, keyring, office: str, row_id: str, blob: bytes | None):
        text = decrypt_text(keyring, office, blob, **{self.row: row_id, "field": self.name})
        return json.loads(text) if self.is_json and text is not None else text


# The case's personal columns, by column name.
CASE_FIELDS = {
    "candidate_fnr": SealedField("case", "candidate_fnr"),
    "candidate_name": SealedField("case", "candidate_name"),
    "mentor_name": SealedField("case", "mentor_name"),
    "employer": SealedField("case", "employer", is_json=True),  # orgnr, name, contact person
    "plan": SealedField("case", "plan", is_json=True),  # tasks, mentor_expectations
    "closure_draft": SealedField("case", "closure_draft", is_json=True),  # the closure form so far
}
CONTACT_NOTE = SealedField("contact", "note")
HISTORY_SNAPSHOT = SealedField("history", "snapshot", is_json=True)


def seal_case_fields(keyring, office: str, case_id: str, **clear) -> dict:
    """{column: blob} for the case's personal columns given in clear."""
    return {column: CASE_FIELDS[column].seal(keyring, office, case_id, value) for column, value in clear.items()}


def case_personal(keyring, case: dict, *columns: str) -> dict:
    """{column: clear value} of the case's personal columns (all of them when none are named)."""
    return {column: CASE_FIELDS[column].open(keyring, case["office"], case["id"], case[column])
            for column in columns or CASE_FIELDS}


def candidate_hash(keyring, office: str, national_id: str) -> str:
    """The office's keyed hash of a national ID: how a candidate is found again (never by the clear number)."""
    return keyring.keyed_hash(office, national_id)


def employer_hash(keyring, office: str, orgnr: str) -> str:
    """The office's keyed hash of an organisation number: the employer as it travels on the bus."""
    return keyring.keyed_hash(office, orgnr)


# ------------------------------------------------------------------ the success-criteria list (a data file)
SUCCESS_CRITERIA_FILE = REPO_ROOT / "deploy" / "data" / "success_criteria.json"
_CRITERIA_CACHE: dict = {}


def load_success_criteria(path=SUCCESS_CRITERIA_FILE) -> dict:
    """The current version of the research team's list: {"version", "criteria": [{"code", "nb", "nn", "en"}]}.

    Read again whenever the file changes (the research team edits data, not code); cached otherwise.
    """
    stamp = (str(path), os.stat(path).st_mtime_ns)
    if _CRITERIA_CACHE.get("stamp") != stamp:
        _CRITERIA_CACHE.update(stamp=stamp, value=_read_success_criteria(path))
    value = _CRITERIA_CACHE["value"]
    return {"version": value["version"], "criteria": [dict(c) for c in value["criteria"]]}


def _read_success_criteria(path) -> dict:
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    versions = {v["version"]: v for v in data["versions"]}
    current = versions[data["current"]]
    seen = [c["code"] for c in current["criteria"]]
    if len(seen) != len(set(seen)):
        raise ValueError(f"success criteria {data['current']}: a code appears twice")
    return {"version": current["version"], "criteria": current["criteria"]}


# ------------------------------------------------------------------ cases
def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def case(conn, office: str, case_id, for_update: bool = False) -> dict:
    """The case if it belongs to `office` (the office in the WHERE); NotFound otherwise, like a missing id."""
    if not _is_uuid(case_id):
        raise NotFound("not found")
    cases = T["cases"]
    return dict(select_owned(conn, select(cases).where(cases.c.id == str(case_id)), cases.c.office, office,
                             for_update=for_update))


def insert_case(conn, keyring, columns: dict, **personal) -> dict | None:
    """Store a new case: its plain `columns` and its `personal` columns given in clear (sealed here). None when the
    office already has an active case of the candidate (the unique key on office and active candidate)."""
    row = {**columns, **seal_case_fields(keyring, columns["office"], columns["id"], **personal)}
    try:
        with conn.begin_nested():
            conn.execute(T["cases"].insert().values(**row))
    except IntegrityError:
        return None
    return row


def has_active_case(conn, office: str, candidate_key: str) -> bool:
    cases = T["cases"]
    return conn.execute(select(cases.c.id).where(cases.c.office == office,
                                                 cases.c.active_candidate == candidate_key)).first() is not None


def case_ids_of_candidate(conn, office: str, candidate_key: str, for_update: bool = False) -> list[str]:
    """The office's case ids of a candidate (by keyed hash), oldest first."""
    cases = T["cases"]
    query = (select(cases.c.id).where(cases.c.office == office, cases.c.candidate_hash == candidate_key)
             .order_by(cases.c.opened_on, cases.c.id))
    return [row[0] for row in conn.execute(query.with_for_update() if for_update else query)]


def revision_total(conn, office: str, case_ids) -> int:
    """The sum of the cases' revisions: it grows with every change of any of them, and with every case added."""
    cases = T["cases"]
    return conn.execute(select(func.coalesce(func.sum(cases.c.revision), 0)).where(
        cases.c.office == office, cases.c.id.in_([str(i) for i in case_ids]))).scalar()


def open_cases_everywhere(conn) -> list[tuple[str, str]]:
    """(case id, office) of every open case of every office, by office and opening date."""
    cases = T["cases"]
    return [(row[0], row[1]) for row in conn.execute(select(cases.c.id, cases.c.office)
                                                     .where(cases.c.state == states.OPEN)
                                                     .order_by(cases.c.office, cases.c.opened_on))]


def _office_cases(query, office, counsellor_id=None, state=None, ids=None):
    cases = T["cases"]
    query = query.where(cases.c.office == office)
    if counsellor_id:
        query = query.where(cases.c.counsellor_id == counsellor_id)
    if state:
        query = query.where(cases.c.state == state)
    if ids is not None:
        query = query.where(cases.c.id.in_([str(i) for i in ids]))
    return query


def list_cases(conn, keyring, office: str, counsellor_id, state, ids, page: int, page_size: int) -> list[dict]:
    """One page of the office's cases, newest first, the candidate's name opened."""
    c = T["cases"]
    query = _office_cases(select(c.c.id, c.c.office, c.c.counsellor_id, c.c.state, c.c.opened_on, c.c.closed_on,
                                 c.c.industry, c.c.mentor_relation, c.c.candidate_name, c.c.closure_version),
                          office, counsellor_id, state, ids)
    rows = conn.execute(query.order_by(c.c.opened_on.desc(), c.c.id)
                        .limit(page_size).offset((page - 1) * page_size)).mappings()
    name = CASE_FIELDS["candidate_name"]
    return [{**row, "candidate_name": name.open(keyring, office, row["id"], row["candidate_name"])} for row in rows]


def count_cases(conn, office: str, counsellor_id=None, state=None) -> int:
    return conn.execute(_office_cases(select(func.count()).select_from(T["cases"]), office, counsellor_id,
                                      state)).scalar()


def cases_per_counsellor_and_state(conn, office: str) -> list[tuple[str, str, int]]:
    c = T["cases"]
    return [tuple(row) for row in conn.execute(select(c.c.counsellor_id, c.c.state, func.count())
                                                .where(c.c.office == office).group_by(c.c.counsellor_id, c.c.state))]


def _activity(which):
    """Per case matching `which`: what the worklist and the closure's anchor (shared.overdue) weigh, from the live
    contacts and measures, in one statement: the last contact (any party and the mentor's), how many measures, the
    last start and end and how many run without an end date. The aggregates are limited to the same cases."""
    c, m, k = T["cases"], T["measures"], T["contacts"]
    contacts = (select(k.c.case_id, func.max(k.c.contact_date).label("last_contact"),
                       func.max(sql_case((k.c.party == "mentor", k.c.contact_date))).label("last_mentor_contact"))
                .select_from(k.join(c, c.c.id == k.c.case_id)).where(which, k.c.deleted.is_(False))
                .group_by(k.c.case_id).subquery("contact_dates"))
    measures = (select(m.c.case_id, func.count(m.c.id).label("measure_count"),
                       func.max(m.c.from_date).label("last_start"), func.max(m.c.to_date).label("last_end"),
                       (func.count(m.c.id) - func.count(m.c.to_date)).label("open_ended"))  # without an end date
                .select_from(m.join(c, c.c.id == m.c.case_id)).where(which, m.c.deleted.is_(False))
                .group_by(m.c.case_id).subquery("measure_dates"))
    return (select(c.c.id, c.c.state, c.c.opened_on, contacts.c.last_contact, contacts.c.last_mentor_contact,
                   func.coalesce(measures.c.measure_count, 0).label("measure_count"), measures.c.last_start,
                   measures.c.last_end, func.coalesce(measures.c.open_ended, 0).label("open_ended"))
            .select_from(c.outerjoin(contacts, contacts.c.case_id == c.c.id)
                         .outerjoin(measures, measures.c.case_id == c.c.id))
            .where(which))


def _closure_anchor(row) -> object:
    """The day an open case's closure counts from (shared.overdue), None while a measure runs open-ended or once the
    case is not open (a case with its project-end status sent is no longer reminded for)."""
    if row["state"] != states.OPEN:
        return None
    return overdue.closure_anchor(overdue.last_activity(row["opened_on"], row["last_contact"], row["last_start"]),
                                  row["last_end"], bool(row["open_ended"]))


def closure_anchors(conn, office: str, counsellor_id: str | None = None) -> dict[str, object]:
    """{case id: the day its closure counts from (shared.overdue), None while a measure runs open-ended} for the
    office's open cases, from the same live contacts and measures notify derives its reminders from."""
    c = T["cases"]
    which = and_(c.c.office == office, c.c.state == states.OPEN)
    if counsellor_id is not None:
        which = and_(which, c.c.counsellor_id == counsellor_id)
    return {row["id"]: _closure_anchor(row) for row in conn.execute(_activity(which)).mappings()}


# The worklist's one statement, planned once per connection (shared.db.prepared): the counsellor's active cases, or
# one of them (the case page's next step).
_COUNSELLORS_ACTIVE = and_(T["cases"].c.office == bindparam("office"),
                           T["cases"].c.counsellor_id == bindparam("counsellor_id"),
                           T["cases"].c.state.in_(states.ACTIVE))
_WORKLIST_COLUMNS = (T["cases"].c.mentor_relation, T["cases"].c.candidate_name, T["cases"].c.draft_saved_at)
_WORKLIST = prepared(_activity(_COUNSELLORS_ACTIVE).add_columns(*_WORKLIST_COLUMNS))
_WORKLIST_ONE = prepared(_activity(and_(_COUNSELLORS_ACTIVE, T["cases"].c.id == bindparam("case_id")))
                         .add_columns(*_WORKLIST_COLUMNS))


def worklist_cases(conn, keyring, office: str, counsellor_id: str, case_id=None) -> list[dict]:
    """The counsellor's active cases (only `case_id` when given: the case page's next step) with what the worklist
    weighs: the closure's anchor, the measures' count and last end, the last mentor contact, a draft. One
    statement, however many cases the counsellor has."""
    parameters = {"office": office, "counsellor_id": counsellor_id}
    if case_id is not None:
        parameters["case_id"] = str(case_id)
    rows = conn.execute(_WORKLIST if case_id is None else _WORKLIST_ONE, parameters).mappings()
    name = CASE_FIELDS["candidate_name"]
    return [{"id": row["id"], "state": row["state"], "opened_on": row["opened_on"],
             "mentor_relation": row["mentor_relation"], "draft_saved_at": row["draft_saved_at"],
             "candidate_name": name.open(keyring, office, row["id"], row["candidate_name"]),
             "closure_anchor": _closure_anchor(row), "measure_count": row["measure_count"],
             "last_measure_end": row["last_end"], "last_mentor_contact": row["last_mentor_contact"]}
            for row in rows]


def closures_submitted(conn, office: str) -> int:
    """Closures the office has submitted, each counted once (not its corrections)."""
    closures = T["closures"]
    return conn.execute(select(func.count()).select_from(closures).where(
        closures.c.office == office, closures.c.kind.in_(("case.closed", "case.corrected")),
        closures.c.supersedes_version.is_(None))).scalar()


_CASE_UPDATE = T["cases"].update().where(T["cases"].c.id == bindparam("case_key"))


def save_closure_draft(conn, keyring, case: dict, draft: dict, saved_by: str, saved_at) -> None:
    """Keep the closure form so far in the case's row, sealed."""
    conn.execute(_CASE_UPDATE, {"case_key": case["id"], "draft_saved_by": saved_by, "draft_saved_at": saved_at,
                                **seal_case_fields(keyring, case["office"], case["id"], closure_draft=draft)})


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


# ------------------------------------------------------------------ a change: the case's revision and its history
_HISTORY_INSERT = T["history"].insert()


def change_writes(platform, case: dict, actor: str, action: str, summary: dict, snapshot=None, **updates) -> tuple:
    """The writes `(statement, parameters)` of one change: the case's revision bumped with `updates` (its new
    column values, personal ones in clear: sealed here) and the history entry with its sealed snapshot. For the
    caller to send, with its own writes; `case` is updated as they will leave it."""
    now = platform.clock.now()
    revision = case["revision"] + 1
    entry_id = str(uuid.uuid4())
    personal = {column: updates.pop(column) for column in CASE_FIELDS if column in updates}
    if personal:
        updates.update(seal_case_fields(platform.keyring, case["office"], case["id"], **personal))
    writes = (
        (_CASE_UPDATE, {"case_key": case["id"], "revision": revision, "updated_at": now, **updates}),
        (_HISTORY_INSERT, {
            "id": entry_id, "case_id": case["id"], "office": case["office"], "seq": revision, "at": now,
            "actor": actor, "action": action, "summary": _jsonable(summary),
            "snapshot": HISTORY_SNAPSHOT.seal(platform.keyring, case["office"], entry_id, snapshot)}),
    )
    case.update(updates, revision=revision, updated_at=now)
    return writes


def save_change(conn, platform, case: dict, actor: str, action: str, summary: dict, snapshot=None, **updates) -> None:
    """Send `change_writes` (one round trip on PostgreSQL)."""
    execute_together(conn, *change_writes(platform, case, actor, action, summary, snapshot, **updates))


def history_summaries(conn, case_id: str) -> list[dict]:
    h = T["history"]
    return [dict(r) for r in conn.execute(select(h.c.seq, h.c.at, h.c.actor, h.c.action, h.c.summary)
                                          .where(h.c.case_id == case_id).order_by(h.c.seq)).mappings()]


def history(conn, keyring, office: str, case_id: str) -> list[dict]:
    """The case's history, oldest first, each snapshot opened."""
    h = T["history"]
    rows = conn.execute(select(h).where(h.c.case_id == str(case_id)).order_by(h.c.seq)).mappings()
    return [{**{k: r[k] for k in ("seq", "at", "actor", "action", "summary")},
             "snapshot": HISTORY_SNAPSHOT.open(keyring, office, r["id"], r["snapshot"])} for r in rows]


# ------------------------------------------------------------------ contacts and measures
_LIVE_CONTACTS = (select(T["contacts"]).where(T["contacts"].c.case_id == bindparam("case_id"),
                                              T["contacts"].c.deleted.is_(False))
                  .order_by(T["contacts"].c.contact_date, T["contacts"].c.updated_at))
_LIVE_MEASURES = (select(T["measures"]).where(T["measures"].c.case_id == bindparam("case_id"),
                                              T["measures"].c.deleted.is_(False))
                  .order_by(T["measures"].c.from_date))


def contacts(conn, case_id: str, include_deleted: bool = False) -> list[dict]:
    """The case's contact log by date (notes still sealed); deleted contacts too when asked."""
    if not include_deleted:
        return [dict(r) for r in conn.execute(_LIVE_CONTACTS, {"case_id": case_id}).mappings()]
    c = T["contacts"]
    return [dict(r) for r in conn.execute(select(c).where(c.c.case_id == case_id)
                                          .order_by(c.c.contact_date, c.c.updated_at)).mappings()]


def contacts_with_notes(conn, keyring, office: str, case_id: str, include_deleted: bool = False) -> list[dict]:
    log = contacts(conn, case_id, include_deleted)
    for contact in log:
        contact["note"] = CONTACT_NOTE.open(keyring, office, contact["id"], contact["note"])
    return log


def contact(conn, keyring, office: str, case_id: str, contact_id) -> dict:
    """A live contact of the case, its note opened; NotFound unless it is the office's (the office in the WHERE)."""
    c = T["contacts"]
    row = dict(select_owned(conn, select(c).where(c.c.id == str(contact_id), c.c.case_id == case_id,
                                                  c.c.deleted.is_(False)), c.c.office, office))
    row["note"] = CONTACT_NOTE.open(keyring, office, row["id"], row["note"])
    return row


def insert_contact(conn, keyring, case: dict, contact_id: str, note, updated_by: str, updated_at, **values) -> None:
    conn.execute(T["contacts"].insert().values(
        id=contact_id, case_id=case["id"], office=case["office"], revision=1, deleted=False,
        note=CONTACT_NOTE.seal(keyring, case["office"], contact_id, note), updated_by=updated_by,
        updated_at=updated_at, **values))


def update_contact(conn, keyring, office: str, contact_id: str, revision: int, note, updated_by: str, updated_at,
                   **values) -> None:
    c = T["contacts"]
    conn.execute(c.update().where(c.c.id == contact_id).values(
        revision=revision, note=CONTACT_NOTE.seal(keyring, office, contact_id, note), updated_by=updated_by,
        updated_at=updated_at, **values))


def measures(conn, case_id: str, include_deleted: bool = False) -> list[dict]:
    """The case's measures by start date; deleted ones too when asked."""
    if not include_deleted:
        return [dict(r) for r in conn.execute(_LIVE_MEASURES, {"case_id": case_id}).mappings()]
    m = T["measures"]
    return [dict(r) for r in conn.execute(select(m).where(m.c.case_id == case_id)
                                          .order_by(m.c.from_date)).mappings()]


def measure(conn, office: str, case_id: str, measure_id) -> dict:
    """A live measure of the case; NotFound unless it is the office's (the office in the WHERE)."""
    m = T["measures"]
    return dict(select_owned(conn, select(m).where(m.c.id == str(measure_id), m.c.case_id == case_id,
                                                   m.c.deleted.is_(False)), m.c.office, office))


def insert_measure(conn, case: dict, measure_id: str, updated_by: str, updated_at, **values) -> None:
    conn.execute(T["measures"].insert().values(id=measure_id, case_id=case["id"], office=case["office"], revision=1,
                                               deleted=False, updated_by=updated_by, updated_at=updated_at, **values))


def update_measure(conn, measure_id: str, revision: int, updated_by: str, updated_at, **values) -> None:
    m = T["measures"]
    conn.execute(m.update().where(m.c.id == measure_id).values(revision=revision, updated_by=updated_by,
                                                               updated_at=updated_at, **values))


def mark_deleted(conn, kind: str, row_id: str, revision: int, updated_by: str, updated_at) -> None:
    """A contact or measure (`kind` "contacts" or "measures") marked deleted as a new revision: still held."""
    table = T[kind]
    conn.execute(table.update().where(table.c.id == row_id).values(revision=revision, deleted=True,
                                                                   updated_by=updated_by, updated_at=updated_at))


# ------------------------------------------------------------------ closures
# What a closure reads, in one round trip: the case's own columns that the closure uses (locked), beside its live
# contacts and measures as one row each (kind "c" or "m"); a case with neither still gives one row. A prepared
# statement with the office in its WHERE (not select_owned: it reads many rows, and is built once).
_CLOSURE_LOG = union_all(
    select(literal_column("'c'").label("log_kind"), T["contacts"].c.contact_date.label("log_on"),
           cast(null(), Date).label("log_until"), T["contacts"].c.party.label("log_what"),
           T["contacts"].c.form.label("log_form"), T["contacts"].c.minutes.label("log_minutes"))
    .where(T["contacts"].c.case_id == bindparam("case_id"), T["contacts"].c.deleted.is_(False)),
    select(literal_column("'m'"), T["measures"].c.from_date, T["measures"].c.to_date, T["measures"].c.measure,
           cast(null(), String), cast(null(), Integer))
    .where(T["measures"].c.case_id == bindparam("case_id"), T["measures"].c.deleted.is_(False)),
).subquery("log")
_CLOSURE_CASE_COLUMNS = ("id", "office", "counsellor_id", "state", "revision", "candidate_hash", "mentor_id",
                         "employer_hash", "entry_point", "mentor_relation", "opened_on", "closed_on", "closure_version")
_CLOSURE_INPUTS = prepared(select(*(T["cases"].c[name] for name in _CLOSURE_CASE_COLUMNS), _CLOSURE_LOG)
                           .select_from(T["cases"].outerjoin(_CLOSURE_LOG, true()))
                           .where(T["cases"].c.id == bindparam("case_id"), T["cases"].c.office == bindparam("office"))
                           .with_for_update(of=T["cases"]))
_CLOSURE_INSERT = T["closures"].insert()


def closure_inputs(conn, office: str, case_id) -> tuple[dict, list[dict], list[dict]]:
    """(case, live contacts, live measures by start date) for a closure, the case locked; NotFound as `case`."""
    if not _is_uuid(case_id):
        raise NotFound("not found")
    rows = conn.execute(_CLOSURE_INPUTS, {"case_id": str(case_id), "office": office}).all()
    if not rows:
        raise NotFound("not found")
    case_row = {name: rows[0][i] for i, name in enumerate(_CLOSURE_CASE_COLUMNS)}
    contact_rows, measure_rows = [], []
    for row in rows:
        if row.log_kind == "c":
            contact_rows.append({"contact_date": row.log_on, "party": row.log_what, "form": row.log_form,
                                 "minutes": row.log_minutes})
        elif row.log_kind == "m":
            measure_rows.append({"measure": row.log_what, "from_date": row.log_on, "to_date": row.log_until})
    measure_rows.sort(key=lambda m: (m["from_date"], m["measure"], m["to_date"] or m["from_date"]))
    return case_row, contact_rows, measure_rows


def closure_write(case: dict, version: int, kind: str, supersedes, record: dict, submitted_by: str,
                  submitted_at) -> tuple:
    """The write `(statement, parameters)` of a closure version, for the caller to send with the change's."""
    return (_CLOSURE_INSERT, {"case_id": case["id"], "version": version, "office": case["office"], "kind": kind,
                              "supersedes_version": supersedes, "record": record, "submitted_by": submitted_by,
                              "submitted_at": submitted_at})


def closure_record(conn, case_id: str, version: int) -> dict | None:
    closures = T["closures"]
    return conn.execute(select(closures.c.record).where(closures.c.case_id == case_id,
                                                        closures.c.version == version)).scalar()


def closures(conn, case_id: str) -> list[dict]:
    c = T["closures"]
    return [dict(r) for r in conn.execute(select(c).where(c.c.case_id == case_id).order_by(c.c.version)).mappings()]


# ------------------------------------------------------------------ disclosures of the employer contact
def employer_of_any_office(conn, keyring, case_id) -> tuple[dict, dict | None]:
    """(the case's id and office, its employer opened with that office's key) for a case of any office: only the
    service-token flow asks (the employer-survey invitation). NotFound for an unknown case."""
    if not _is_uuid(case_id):
        raise NotFound("not found")
    cases = T["cases"]
    row = conn.execute(select(cases.c.id, cases.c.office, cases.c.employer).where(cases.c.id == str(case_id))
                       ).mappings().first()
    if row is None:
        raise NotFound("not found")
    return {"id": row["id"], "office": row["office"]}, case_personal(keyring, row, "employer")["employer"]


def record_disclosure(conn, case: dict, at, actor: str, what: str, purpose: str) -> None:
    conn.execute(T["disclosures"].insert().values(id=str(uuid.uuid4()), case_id=case["id"], office=case["office"],
                                                  at=at, actor=actor, what=what, purpose=purpose))


def disclosures(conn, case_id: str) -> list[dict]:
    d = T["disclosures"]
    return [dict(r) for r in conn.execute(select(d).where(d.c.case_id == case_id).order_by(d.c.at)).mappings()]


# ------------------------------------------------------------------ privacy: erasure, retention, audit
def erasure_steps(conn, platform, office: str, case_ids) -> list:
    """The deletion steps of shared.privacy.remove for these cases of `office` (office and ids in every WHERE),
    children first, and the sent outbox rows that name them (they carry keyed hashes)."""
    ids = [str(i) for i in case_ids]

    def under(table):
        return and_(table.c.case_id.in_(ids), table.c.office == office)

    outbox = platform.tables["outbox"]
    return [
        ("contacts", T["contacts"], under(T["contacts"])),
        ("measures", T["measures"], under(T["measures"])),
        ("closures", T["closures"], under(T["closures"])),
        ("history", T["history"], under(T["history"])),
        ("disclosures", T["disclosures"], under(T["disclosures"])),
        ("cases", T["cases"], and_(T["cases"].c.id.in_(ids), T["cases"].c.office == office)),
        ("outbox_events", outbox, privacy.sent_events_about(conn, outbox, office, ids)),
    ]


def retention_steps(platform) -> list:
    """Every case of every office and every row under it, the sent outbox rows (they carry keyed hashes) and every
    kept answer of a repeated request (they may quote a case)."""
    outbox = platform.tables["outbox"]
    return [("contacts", T["contacts"], true()), ("measures", T["measures"], true()),
            ("closures", T["closures"], true()), ("history", T["history"], true()),
            ("disclosures", T["disclosures"], true()), ("cases", T["cases"], true()),
            ("outbox_events", outbox, privacy.sent_events(outbox)),
            ("replays", platform.tables["replays"], true())]


PRIVACY_LOG = T["privacy_log"]


def record_privacy_request(conn, **entry) -> dict:
    """One row of intake_privacy_log (shared.privacy.record)."""
    return privacy.record(conn, PRIVACY_LOG, **entry)


def privacy_requests(conn, office: str | None, limit: int) -> list[dict]:
    return privacy.log_entries(conn, PRIVACY_LOG, office, limit)


def erasure_entry(conn, office: str, request_id) -> dict:
    """The office's own erasure audit row (the office in the WHERE); NotFound for another office's or none."""
    log = PRIVACY_LOG
    return dict(select_owned(conn, select(log).where(log.c.request_id == str(request_id), log.c.action == "erasure"),
                             log.c.office, office))
