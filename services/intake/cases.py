"""Intake's service layer: each function is one use case, run inside the caller's transaction (`conn`).

The caller (API, page, CLI, testing helper) opens the transaction; here the state change, the history entry and
the outbox event are written together, so an event exists exactly when its change does. Every lookup is scoped
by office: a case id of another office is "not found" (shared.auth.NotFound), the same as a missing one.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from sqlalchemy import Date, Integer, String, and_, bindparam, cast, func, literal_column, null, select, true, union_all
from sqlalchemy.exc import IntegrityError

from shared.auth import NotFound
from shared.crypto import decrypt_text, encrypt_text
from shared.db import execute_together, prepared

from .domain import Invalid, NotEligible, derive, rules, states
from .domain import closure as closure_rules
from .domain.rules import add
from .tables import OWN as T

PARTY_FIELDS = ("counsellor_id", "mentor_id", "mentor_relation", "employer_hash")
EMPLOYER_FIELDS = ("employer_orgnr", "employer_name", "employer_contact_name", "employer_contact_email",
                   "employer_contact_phone")
OPEN_FIELDS = ("national_id", "candidate_name", "in_target_group", "in_follow_up_measure", "entry_point", "industry",
               "initiator", "attachment_before", "counsellor_knew_company", "reasons", "opened_on", "mentor_name",
               "mentor_relation") + EMPLOYER_FIELDS


@dataclass(frozen=True)
class Actor:
    """Who acts: an office member (a Principal fits) — the office scopes everything."""

    office: str
    subject: str


# ------------------------------------------------------------------ helpers
def _enc(platform, office, text, **binding):
    return encrypt_text(platform.keyring, office, text, **binding)


def _dec(platform, office, blob, **binding):
    return decrypt_text(platform.keyring, office, blob, **binding)


def _enc_json(platform, office, data, **binding):
    return None if data is None else _enc(platform, office, json.dumps(data, ensure_ascii=False, default=str), **binding)


def _dec_json(platform, office, blob, **binding):
    text = _dec(platform, office, blob, **binding)
    return None if text is None else json.loads(text)


def _reject_unknown(raw: dict, allowed) -> dict:
    errors = {}
    for field in sorted(set(raw) - set(allowed)):
        add(errors, field, "Ukjent felt.")
    return errors


# Statements built once with bind parameters: the hot paths (closure, contact log) skip SQLAlchemy's per-call
# construction and cache-key work, which costs more CPU than the database round trip.
_CASE = select(T["cases"]).where(and_(T["cases"].c.id == bindparam("case_id"), T["cases"].c.office == bindparam("office")))
_CASE_FOR_UPDATE = _CASE.with_for_update()
_CONTACTS = (select(T["contacts"]).where(and_(T["contacts"].c.case_id == bindparam("case_id"),
                                              T["contacts"].c.deleted.is_(False)))
             .order_by(T["contacts"].c.contact_date, T["contacts"].c.updated_at))
_MEASURES = (select(T["measures"]).where(and_(T["measures"].c.case_id == bindparam("case_id"),
                                              T["measures"].c.deleted.is_(False))).order_by(T["measures"].c.from_date))
# What a closure reads, in one round trip: the case's own columns that the closure uses (locked), beside its live
# contacts and measures as one row each (kind "c" or "m"); a case with neither still gives one row.
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
_HISTORY_INSERT = T["history"].insert()
_CLOSURE_INSERT = T["closures"].insert()
_CASE_UPDATE = T["cases"].update().where(T["cases"].c.id == bindparam("case_key"))


def owned_case(conn, office: str, case_id: str, for_update=False) -> dict:
    """The case if it belongs to `office`; NotFound otherwise (another office's id answers like a missing one)."""
    try:
        uuid.UUID(str(case_id))
    except ValueError:
        raise NotFound("not found") from None
    query = _CASE_FOR_UPDATE if for_update else _CASE
    row = conn.execute(query, {"case_id": str(case_id), "office": office}).mappings().first()
    if row is None:
        raise NotFound("not found")
    return dict(row)


def _closure_inputs(conn, office: str, case_id: str) -> tuple[dict, list[dict], list[dict]]:
    """(case, live contacts, live measures by start date) for a closure, the case locked; NotFound as owned_case."""
    try:
        uuid.UUID(str(case_id))
    except ValueError:
        raise NotFound("not found") from None
    rows = conn.execute(_CLOSURE_INPUTS, {"case_id": str(case_id), "office": office}).all()
    if not rows:
        raise NotFound("not found")
    case = {name: rows[0][i] for i, name in enumerate(_CLOSURE_CASE_COLUMNS)}
    contacts, measures = [], []
    for row in rows:
        if row.log_kind == "c":
            contacts.append({"contact_date": row.log_on, "party": row.log_what, "form": row.log_form,
                             "minutes": row.log_minutes})
        elif row.log_kind == "m":
            measures.append({"measure": row.log_what, "from_date": row.log_on, "to_date": row.log_until})
    measures.sort(key=lambda m: (m["from_date"], m["measure"], m["to_date"] or m["from_date"]))
    return case, contacts, measures


def _contacts(conn, case_id, include_deleted=False):
    if not include_deleted:
        return [dict(r) for r in conn.execute(_CONTACTS, {"case_id": case_id}).mappings()]
    query = select(T["contacts"]).where(T["contacts"].c.case_id == case_id)
    if not include_deleted:
        query = query.where(T["contacts"].c.deleted.is_(False))
    return [dict(r) for r in conn.execute(query.order_by(T["contacts"].c.contact_date, T["contacts"].c.updated_at)).mappings()]


def _measures(conn, case_id, include_deleted=False):
    if not include_deleted:
        return [dict(r) for r in conn.execute(_MEASURES, {"case_id": case_id}).mappings()]
    query = select(T["measures"]).where(T["measures"].c.case_id == case_id)
    if not include_deleted:
        query = query.where(T["measures"].c.deleted.is_(False))
    return [dict(r) for r in conn.execute(query.order_by(T["measures"].c.from_date)).mappings()]


def _change(conn, platform, case, actor, action, summary, snapshot=None, **updates):
    """Bump the case's revision, apply `updates`, and append the history entry (append-only, encrypted snapshot)."""
    execute_together(conn, *_change_writes(platform, case, actor, action, summary, snapshot, **updates))
    return case


def _change_writes(platform, case, actor, action, summary, snapshot=None, **updates) -> tuple:
    """The writes of `_change`, for the caller to send (with its own); `case` is updated as they will leave it."""
    now = platform.clock.now()
    revision = case["revision"] + 1
    entry_id = str(uuid.uuid4())
    writes = (
        (_CASE_UPDATE, {"case_key": case["id"], "revision": revision, "updated_at": now, **updates}),
        (_HISTORY_INSERT, {
            "id": entry_id, "case_id": case["id"], "office": case["office"], "seq": revision, "at": now,
            "actor": actor.subject, "action": action, "summary": _jsonable(summary),
            "snapshot": _enc_json(platform, case["office"], snapshot, history=entry_id, field="snapshot")}),
    )
    case.update(updates, revision=revision, updated_at=now)
    return writes


def directory_user(conn, platform, user_id):
    """A directory user read on the caller's connection (a second connection would wait on SQLite's write lock)."""
    users = platform.tables["users"]
    row = conn.execute(select(users).where(users.c.id == user_id)).mappings().first()
    return dict(row) if row else None


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


def _parties_payload(case):
    return {"case_id": case["id"], **{k: case[k] for k in PARTY_FIELDS}}


# ------------------------------------------------------------------ opening
def open_case(conn, platform, actor, raw: dict) -> dict:
    """Check the form and the eligibility rules, store the case encrypted, emit case.opened."""
    errors = _reject_unknown(raw, OPEN_FIELDS)
    today = platform.clock.today()
    counsellor = directory_user(conn, platform, actor.subject)
    in_target = rules.yes_no(errors, "in_target_group", raw.get("in_target_group"))
    in_follow_up = rules.yes_no(errors, "in_follow_up_measure", raw.get("in_follow_up_measure"))
    failed = rules.eligibility(errors, counsellor, in_target, in_follow_up)
    fnr = rules.national_id(errors, "national_id", raw.get("national_id"))
    name = rules.text(errors, "candidate_name", raw.get("candidate_name"), required=True)
    values = {
        "entry_point": rules.code(errors, "entry_point", "entry_point", raw.get("entry_point")),
        "industry": rules.code(errors, "industry", "industry", raw.get("industry")),
        "initiator": rules.code(errors, "initiator", "initiator", raw.get("initiator")),
        "attachment_before": rules.code(errors, "attachment_before", "attachment_before", raw.get("attachment_before")),
        "counsellor_knew_company": rules.code(errors, "counsellor_knew_company", "yes_no", raw.get("counsellor_knew_company")),
        "reasons": rules.codes_list(errors, "reasons", "reason", raw.get("reasons")),
        "opened_on": rules.a_date(errors, "opened_on", raw.get("opened_on") or today, not_after=today),
    }
    mentor = _mentor_fields(errors, raw)
    employer = _employer_fields(errors, raw)
    if failed:
        raise NotEligible(errors, failed)
    if errors:
        raise Invalid(errors)
    office = actor.office
    candidate_hash = platform.keyring.keyed_hash(office, fnr)
    existing = conn.execute(select(T["cases"].c.id).where(and_(
        T["cases"].c.office == office, T["cases"].c.active_candidate == candidate_hash))).first()
    if existing:
        raise Invalid({"national_id": ["Brukeren har allerede en åpen sak ved kontoret. Fortsett i den saken."]})
    case_id = str(uuid.uuid4())
    now = platform.clock.now()
    case = {
        "id": case_id, "office": office, "counsellor_id": actor.subject, "state": states.OPEN, "revision": 0,
        "candidate_hash": candidate_hash, "active_candidate": candidate_hash,
        "candidate_fnr": _enc(platform, office, fnr, case=case_id, field="candidate_fnr"),
        "candidate_name": _enc(platform, office, name, case=case_id, field="candidate_name"),
        "in_target_group": in_target, "in_follow_up_measure": in_follow_up, **values,
        "employer_hash": employer["hash"] if employer else None,
        "employer": _enc_json(platform, office, employer["data"] if employer else None, case=case_id, field="employer"),
        "mentor_id": str(uuid.uuid4()) if mentor["relation"] != "none" else None,
        "mentor_relation": mentor["relation"],
        "mentor_name": _enc(platform, office, mentor["name"], case=case_id, field="mentor_name"),
        "steps": {str(n): None for n in range(1, 8)}, "start_meeting_on": None, "plan": None,
        "closure_version": 0, "closed_on": None, "created_at": now, "updated_at": now,
    }
    if employer:
        case["employer_hash"] = platform.keyring.keyed_hash(office, employer["data"]["orgnr"])
    try:
        with conn.begin_nested():
            conn.execute(T["cases"].insert().values(**case))
    except IntegrityError:
        raise Invalid({"national_id": ["Brukeren har allerede en åpen sak ved kontoret. Fortsett i den saken."]}) from None
    _change(conn, platform, case, actor, "opened",
            {**{k: values[k] for k in values}, "mentor_relation": mentor["relation"], "employer": bool(employer)},
            snapshot={"candidate_name": name, "mentor_name": mentor["name"], "employer": employer and employer["data"]})
    platform.emit(conn, "case.opened", office, {
        "case_id": case_id, "candidate_hash": candidate_hash, "opened_on": values["opened_on"],
        "entry_point": values["entry_point"], **{k: case[k] for k in PARTY_FIELDS}})
    return case


def _mentor_fields(errors, raw):
    relation = rules.code(errors, "mentor_relation", "mentor_relation", raw.get("mentor_relation") or "none")
    name = rules.text(errors, "mentor_name", raw.get("mentor_name"))
    if relation and relation != "none" and not name:
        add(errors, "mentor_name", "Skriv mentorens navn, eller velg «Ingen mentor» som rolle.")
    if relation == "none" and name:
        add(errors, "mentor_relation", "Velg mentorens rolle (kollega, leder eller ekstern).")
    return {"relation": relation or "none", "name": name if relation != "none" else None}


def _employer_fields(errors, raw):
    """The employer is optional at opening (at course start there may be none yet); if given, orgnr is checked."""
    given = {f: raw.get(f) for f in EMPLOYER_FIELDS if not rules.blank(raw.get(f))}
    if not given:
        return None
    data = {
        "orgnr": rules.organisation_number(errors, "employer_orgnr", raw.get("employer_orgnr"), required=True),
        "name": rules.text(errors, "employer_name", raw.get("employer_name")),
        "contact_name": rules.text(errors, "employer_contact_name", raw.get("employer_contact_name")),
        "contact_email": rules.email(errors, "employer_contact_email", raw.get("employer_contact_email")),
        "contact_phone": rules.phone(errors, "employer_contact_phone", raw.get("employer_contact_phone")),
    }
    return {"data": data, "hash": None}


# ------------------------------------------------------------------ reading
def case_view(conn, platform, office, case_id) -> dict:
    """The case with its personal fields decrypted, for the office's own pages and API."""
    case = owned_case(conn, office, case_id)
    cid = case["id"]
    view = {k: v for k, v in case.items() if k not in ("candidate_fnr", "candidate_name", "employer", "mentor_name",
                                                          "plan", "active_candidate", "closure_draft")}
    view["candidate_name"] = _dec(platform, office, case["candidate_name"], case=cid, field="candidate_name")
    view["national_id"] = _dec(platform, office, case["candidate_fnr"], case=cid, field="candidate_fnr")
    view["mentor_name"] = _dec(platform, office, case["mentor_name"], case=cid, field="mentor_name")
    view["employer"] = _dec_json(platform, office, case["employer"], case=cid, field="employer")
    view["plan"] = _dec_json(platform, office, case["plan"], case=cid, field="plan") or {"tasks": None, "mentor_expectations": None}
    contacts = _contacts(conn, cid)
    for c in contacts:
        c["note"] = _dec(platform, office, c["note"], contact=c["id"], field="note")
    view["contacts"] = contacts
    view["measures"] = _measures(conn, cid)
    view["history"] = [dict(r) for r in conn.execute(select(
        T["history"].c.seq, T["history"].c.at, T["history"].c.actor, T["history"].c.action, T["history"].c.summary)
        .where(T["history"].c.case_id == cid).order_by(T["history"].c.seq)).mappings()]
    view["closures"] = [dict(r) for r in conn.execute(select(T["closures"]).where(T["closures"].c.case_id == cid)
                                                      .order_by(T["closures"].c.version)).mappings()]
    view["derived"] = derived_summary(case, contacts, view["measures"], platform.clock.today())
    return view


def history_snapshots(conn, platform, office, case_id) -> list[dict]:
    """The full history with snapshots decrypted (what changed, before and after), for the office."""
    owned_case(conn, office, case_id)
    rows = conn.execute(select(T["history"]).where(T["history"].c.case_id == str(case_id))
                        .order_by(T["history"].c.seq)).mappings()
    return [{**{k: r[k] for k in ("seq", "at", "actor", "action", "summary")},
             "snapshot": _dec_json(platform, office, r["snapshot"], history=r["id"], field="snapshot")} for r in rows]


def derived_summary(case, contacts, measures, today):
    return derive.contact_summary(contacts, measures, case["opened_on"], case["closed_on"], today,
                                  case["mentor_relation"])


PAGE_SIZE = 50  # cases per page of the list (page and API default)
MAX_PAGE_SIZE = 500  # the API's largest page


def _office_cases(query, office, counsellor_id=None, state=None, ids=None):
    c = T["cases"]
    query = query.where(c.c.office == office)
    if counsellor_id:
        query = query.where(c.c.counsellor_id == counsellor_id)
    if state:
        query = query.where(c.c.state == state)
    if ids is not None:
        query = query.where(c.c.id.in_([str(i) for i in ids]))
    return query


def list_cases(conn, platform, office, counsellor_id=None, state=None, ids=None, page=1,
               page_size=PAGE_SIZE) -> list[dict]:
    """One page of the office's cases, newest first, with the candidate's name decrypted for the office.

    Always a page, never the whole office: a request's time and memory stay the same however many cases the
    office has had (a whole list grew each worker's peak memory with every case closed; see the soak in
    deploy/README.md)."""
    c = T["cases"]
    query = _office_cases(select(c.c.id, c.c.office, c.c.counsellor_id, c.c.state, c.c.opened_on, c.c.closed_on,
                                 c.c.industry, c.c.mentor_relation, c.c.candidate_name, c.c.closure_version),
                          office, counsellor_id, state, ids)
    rows = conn.execute(query.order_by(c.c.opened_on.desc(), c.c.id)
                        .limit(page_size).offset((page - 1) * page_size)).mappings()
    result = []
    for r in rows:
        item = dict(r)
        item["candidate_name"] = _dec(platform, office, r["candidate_name"], case=r["id"], field="candidate_name")
        result.append(item)
    return result


def count_cases(conn, office, counsellor_id=None, state=None) -> int:
    """How many cases `list_cases` pages through."""
    return conn.execute(_office_cases(select(func.count()).select_from(T["cases"]), office, counsellor_id,
                                      state)).scalar()


def find_by_national_id(conn, platform, office, national_id) -> list[str]:
    """Case ids of this office for a national ID, found through the keyed hash (never a clear-text search)."""
    errors = {}
    fnr = rules.national_id(errors, "national_id", national_id)
    if errors:
        raise Invalid(errors)
    key = platform.keyring.keyed_hash(office, fnr)
    return [r[0] for r in conn.execute(select(T["cases"].c.id).where(and_(
        T["cases"].c.office == office, T["cases"].c.candidate_hash == key)))]


def overdue_case_ids(conn, platform, office) -> list[str]:
    """Active cases whose measures all ended more than `closure_overdue` days ago (project setting)."""
    project = conn.execute(select(platform.tables["project"].c.settings)).scalar() or {}
    days = (project.get("reminder_thresholds_days") or {}).get("closure_overdue", 30)
    today = platform.clock.today()
    c, m = T["cases"], T["measures"]
    active = [r[0] for r in conn.execute(select(c.c.id).where(and_(c.c.office == office,
                                                                     c.c.state.in_(states.ACTIVE))))]
    overdue = []
    for case_id in active:
        ends = [r[0] for r in conn.execute(select(m.c.to_date).where(and_(m.c.case_id == case_id, m.c.deleted.is_(False))))]
        if ends and all(e is not None for e in ends) and (today - max(ends)).days > days:
            overdue.append(case_id)
    return overdue


def office_overview(conn, platform, office) -> dict:
    """The local contact's view: open cases, closures submitted, overdue cases, per counsellor too."""
    c = T["cases"]
    rows = conn.execute(select(c.c.counsellor_id, c.c.state, func.count()).where(c.c.office == office)
                        .group_by(c.c.counsellor_id, c.c.state)).all()
    per = {}
    for counsellor_id, state, n in rows:
        per.setdefault(counsellor_id, {"open": 0, "project_end": 0, "closed": 0})[state] = n
    overdue = overdue_case_ids(conn, platform, office)
    submitted = conn.execute(select(func.count()).select_from(T["closures"]).where(and_(
        T["closures"].c.office == office, T["closures"].c.kind.in_(("case.closed", "case.corrected")),
        T["closures"].c.supersedes_version.is_(None)))).scalar()
    return {
        "open": sum(p["open"] + p["project_end"] for p in per.values()),
        "closed": sum(p["closed"] for p in per.values()),
        "closures_submitted": submitted,
        "overdue": len(overdue), "overdue_case_ids": overdue,
        "per_counsellor": per,
    }


# ------------------------------------------------------------------ contact log
CONTACT_FIELDS = ("contact_date", "party", "form", "minutes", "note")


def save_contact(conn, platform, actor, case_id, raw: dict, contact_id=None) -> dict:
    """Log a contact, or edit one (new revision); the note is encrypted and never travels."""
    case = owned_case(conn, actor.office, case_id, for_update=True)
    states.require_active(case["state"])
    errors = _reject_unknown(raw, CONTACT_FIELDS)
    values = {
        "contact_date": rules.a_date(errors, "contact_date", raw.get("contact_date"), not_after=platform.clock.today(),
                                     not_before=case["opened_on"],
                                     not_before_text="Kontakten kan ikke være før saken ble opprettet "
                                                     f"({case['opened_on'].strftime('%d.%m.%Y')})."),
        "party": rules.code(errors, "party", "party", raw.get("party")),
        "form": rules.code(errors, "form", "contact_form", raw.get("form")),
        "minutes": rules.integer(errors, "minutes", raw.get("minutes")),
    }
    note = rules.text(errors, "note", raw.get("note"), max_length=1000)
    if errors:
        raise Invalid(errors)
    now = platform.clock.now()
    if contact_id is None:
        contact_id = str(uuid.uuid4())
        before, revision = None, 1
        conn.execute(T["contacts"].insert().values(
            id=contact_id, case_id=case["id"], office=case["office"], revision=1, deleted=False,
            note=_enc(platform, case["office"], note, contact=contact_id, field="note"),
            updated_by=actor.subject, updated_at=now, **values))
    else:
        before = _owned_contact(conn, case, contact_id)
        revision = before["revision"] + 1
        conn.execute(T["contacts"].update().where(T["contacts"].c.id == before["id"]).values(
            revision=revision, note=_enc(platform, case["office"], note, contact=before["id"], field="note"),
            updated_by=actor.subject, updated_at=now, **values))
        before["note"] = _dec(platform, case["office"], before["note"], contact=before["id"], field="note")
    _change(conn, platform, case, actor, "contact_logged" if before is None else "contact_edited",
            {"contact_id": contact_id, "revision": revision, **values,
             "changed": sorted(k for k in values if before and before[k] != values[k]) if before else None},
            snapshot={"before": before and {k: before[k] for k in CONTACT_FIELDS}, "after": {**values, "note": note}})
    platform.emit(conn, "case.contact_logged", case["office"], {"case_id": case["id"], "contact_id": contact_id,
                                                                "revision": revision, "deleted": False, **values})
    return {"id": contact_id, "revision": revision, **values}


def _owned_contact(conn, case, contact_id):
    row = conn.execute(select(T["contacts"]).where(and_(T["contacts"].c.id == str(contact_id),
                                                        T["contacts"].c.case_id == case["id"],
                                                        T["contacts"].c.deleted.is_(False)))).mappings().first()
    if row is None:
        raise NotFound("not found")
    return dict(row)


def delete_contact(conn, platform, actor, case_id, contact_id) -> None:
    case = owned_case(conn, actor.office, case_id, for_update=True)
    states.require_active(case["state"])
    before = _owned_contact(conn, case, contact_id)
    revision = before["revision"] + 1
    conn.execute(T["contacts"].update().where(T["contacts"].c.id == before["id"]).values(
        revision=revision, deleted=True, updated_by=actor.subject, updated_at=platform.clock.now()))
    values = {k: before[k] for k in ("contact_date", "party", "form", "minutes")}
    _change(conn, platform, case, actor, "contact_deleted", {"contact_id": before["id"], "revision": revision, **values},
            snapshot={"before": {**values, "note": _dec(platform, case["office"], before["note"], contact=before["id"], field="note")}})
    platform.emit(conn, "case.contact_logged", case["office"], {"case_id": case["id"], "contact_id": before["id"],
                                                                "revision": revision, "deleted": True, **values})


# ------------------------------------------------------------------ measures and subsidies
MEASURE_FIELDS = ("measure", "from_date", "to_date")


def save_measure(conn, platform, actor, case_id, raw: dict, measure_id=None) -> dict:
    case = owned_case(conn, actor.office, case_id, for_update=True)
    states.require_active(case["state"])
    errors = _reject_unknown(raw, MEASURE_FIELDS)
    values = {"measure": rules.code(errors, "measure", "measure", raw.get("measure")),
              "from_date": rules.a_date(errors, "from_date", raw.get("from_date"))}
    values["to_date"] = rules.a_date(errors, "to_date", raw.get("to_date"), required=False,
                                     not_before=values["from_date"],
                                     not_before_text="Til-datoen kan ikke være før fra-datoen.")
    if errors:
        raise Invalid(errors)
    now = platform.clock.now()
    if measure_id is None:
        measure_id, revision, before = str(uuid.uuid4()), 1, None
        conn.execute(T["measures"].insert().values(id=measure_id, case_id=case["id"], office=case["office"], revision=1,
                                                   deleted=False, updated_by=actor.subject, updated_at=now, **values))
    else:
        before = _owned_measure(conn, case, measure_id)
        revision = before["revision"] + 1
        conn.execute(T["measures"].update().where(T["measures"].c.id == before["id"]).values(
            revision=revision, updated_by=actor.subject, updated_at=now, **values))
    _change(conn, platform, case, actor, "measure_added" if before is None else "measure_changed",
            {"measure_id": measure_id, **values, "before": before and {k: before[k] for k in MEASURE_FIELDS}})
    platform.emit(conn, "case.measure_changed", case["office"], {"case_id": case["id"], "measure_id": measure_id,
                                                                 "deleted": False, **values})
    return {"id": measure_id, "revision": revision, **values}


def _owned_measure(conn, case, measure_id):
    row = conn.execute(select(T["measures"]).where(and_(T["measures"].c.id == str(measure_id),
                                                        T["measures"].c.case_id == case["id"],
                                                        T["measures"].c.deleted.is_(False)))).mappings().first()
    if row is None:
        raise NotFound("not found")
    return dict(row)


def delete_measure(conn, platform, actor, case_id, measure_id) -> None:
    case = owned_case(conn, actor.office, case_id, for_update=True)
    states.require_active(case["state"])
    before = _owned_measure(conn, case, measure_id)
    conn.execute(T["measures"].update().where(T["measures"].c.id == before["id"]).values(
        revision=before["revision"] + 1, deleted=True, updated_by=actor.subject, updated_at=platform.clock.now()))
    values = {k: before[k] for k in MEASURE_FIELDS}
    _change(conn, platform, case, actor, "measure_deleted", {"measure_id": before["id"], **values})
    platform.emit(conn, "case.measure_changed", case["office"], {"case_id": case["id"], "measure_id": before["id"],
                                                                 "deleted": True, **values})


# ------------------------------------------------------------------ parties, handover, plan
PARTY_FORM_FIELDS = ("mentor_name", "mentor_relation") + EMPLOYER_FIELDS


def update_parties(conn, platform, actor, case_id, raw: dict) -> dict:
    """Set the mentor and the employer (with its contact person); a new mentor name gets a new mentor id."""
    case = owned_case(conn, actor.office, case_id, for_update=True)
    states.require_active(case["state"])
    errors = _reject_unknown(raw, PARTY_FORM_FIELDS)
    mentor = _mentor_fields(errors, raw)
    employer = _employer_fields(errors, raw)
    if errors:
        raise Invalid(errors)
    office, cid = case["office"], case["id"]
    old_mentor = _dec(platform, office, case["mentor_name"], case=cid, field="mentor_name")
    old_employer = _dec_json(platform, office, case["employer"], case=cid, field="employer")
    before = {k: case[k] for k in PARTY_FIELDS}
    mentor_id = case["mentor_id"]
    if mentor["relation"] == "none":
        mentor_id = None
    elif mentor_id is None or (mentor["name"] or "").casefold() != (old_mentor or "").casefold():
        mentor_id = str(uuid.uuid4())
    updates = {
        "mentor_id": mentor_id, "mentor_relation": mentor["relation"],
        "mentor_name": _enc(platform, office, mentor["name"], case=cid, field="mentor_name"),
        "employer": _enc_json(platform, office, employer and employer["data"], case=cid, field="employer"),
        "employer_hash": platform.keyring.keyed_hash(office, employer["data"]["orgnr"]) if employer else None,
    }
    changed = sorted(k for k in PARTY_FIELDS if k != "counsellor_id" and before[k] != updates[k])
    _change(conn, platform, case, actor, "parties_changed",
            {"changed": changed, "mentor_relation": mentor["relation"], "employer": bool(employer)},
            snapshot={"before": {"mentor_name": old_mentor, "employer": old_employer},
                      "after": {"mentor_name": mentor["name"], "employer": employer and employer["data"]}}, **updates)
    if changed:
        platform.emit(conn, "case.parties_changed", office, _parties_payload(case))
    return case


def handover(conn, platform, actor, case_id, counsellor_id) -> dict:
    """Hand the case to a colleague: a counsellor of the same office who is not a job specialist."""
    case = owned_case(conn, actor.office, case_id, for_update=True)
    states.require_active(case["state"])
    colleague = directory_user(conn, platform, counsellor_id) if isinstance(counsellor_id, str) and counsellor_id else None
    if (colleague is None or colleague["office_code"] != case["office"] or colleague["role"] != "counsellor"
            or colleague["is_job_specialist"]):
        raise Invalid({"counsellor_id": ["Velg en veileder ved eget kontor."]})
    if colleague["id"] == case["counsellor_id"]:
        raise Invalid({"counsellor_id": ["Saken er allerede hos denne veilederen."]})
    previous = case["counsellor_id"]
    _change(conn, platform, case, actor, "handed_over", {"from": previous, "to": colleague["id"]},
            counsellor_id=colleague["id"])
    platform.emit(conn, "case.parties_changed", case["office"], _parties_payload(case))
    return case


PLAN_FIELDS = tuple(f"step_{n}" for n in range(1, 8)) + ("start_meeting_on", "plan_tasks", "plan_mentor_expectations")


def update_plan(conn, platform, actor, case_id, raw: dict) -> dict:
    """The seven steps (date each was done), the start meeting and the written plan (encrypted). No event."""
    case = owned_case(conn, actor.office, case_id, for_update=True)
    states.require_active(case["state"])
    errors = _reject_unknown(raw, PLAN_FIELDS)
    today = platform.clock.today()
    steps = {str(n): rules.a_date(errors, f"step_{n}", raw.get(f"step_{n}"), required=False, not_after=today)
             for n in range(1, 8)}
    start_meeting = rules.a_date(errors, "start_meeting_on", raw.get("start_meeting_on"), required=False)
    tasks = rules.text(errors, "plan_tasks", raw.get("plan_tasks"), max_length=4000)
    expectations = rules.text(errors, "plan_mentor_expectations", raw.get("plan_mentor_expectations"), max_length=4000)
    if errors:
        raise Invalid(errors)
    office, cid = case["office"], case["id"]
    old_plan = _dec_json(platform, office, case["plan"], case=cid, field="plan")
    new_steps = {k: v.isoformat() if v else None for k, v in steps.items()}
    plan = {"tasks": tasks, "mentor_expectations": expectations}
    _change(conn, platform, case, actor, "plan_updated",
            {"steps": new_steps, "start_meeting_on": start_meeting,
             "plan_changed": (old_plan or {"tasks": None, "mentor_expectations": None}) != plan},
            snapshot={"before": old_plan, "after": plan},
            steps=new_steps, start_meeting_on=start_meeting,
            plan=_enc_json(platform, office, plan if (tasks or expectations) else None, case=cid, field="plan"))
    return case


# ------------------------------------------------------------------ closure
def closure_context(conn, platform, office, case_id) -> dict:
    """What the closure form needs: the case, its log, the derived summary, the draft and the criteria list."""
    case = owned_case(conn, office, case_id)
    contacts, measures = _contacts(conn, case["id"]), _measures(conn, case["id"])
    today = platform.clock.today()
    draft = case["closure_draft"]
    latest = None
    if case["closure_version"]:
        latest = conn.execute(select(T["closures"].c.record).where(and_(
            T["closures"].c.case_id == case["id"], T["closures"].c.version == case["closure_version"]))).scalar()
    # Derived over the period the form will report: to the draft's closure date when one is saved, else today.
    draft_closed = rules.parse_date(draft["closed_on"]) if draft and isinstance(draft.get("closed_on"), str) else None
    period_end = draft_closed if draft_closed and case["opened_on"] <= draft_closed <= today else None
    derived = derive.contact_summary(contacts, measures, case["opened_on"], period_end or case["closed_on"], today,
                                     case["mentor_relation"])
    if period_end is None and case["closed_on"] is None:
        derived["duration"] = derive.duration_category(derive.period_start(case["opened_on"], measures), None)
    return {"case": case, "contacts": contacts, "measures": measures,
            "derived": derived, "draft": draft, "latest": latest,
            "criteria": closure_rules.load_success_criteria(), "today": today}


def save_draft(conn, platform, actor, case_id, raw: dict) -> dict:
    """Keep the form as typed, without validation, to resume later (codes and dates only)."""
    case = owned_case(conn, actor.office, case_id, for_update=True)
    errors = _reject_unknown(raw, closure_rules.FORM_FIELDS + ("list_version",))
    if errors:
        raise Invalid(errors)
    data = _jsonable(raw)
    conn.execute(_CASE_UPDATE, {"case_key": case["id"], "closure_draft": data, "draft_saved_by": actor.subject,
                                "draft_saved_at": platform.clock.now()})
    return data


def submit_closure(conn, platform, actor, case_id, raw: dict) -> dict:
    """Validate everything at once; store the closure version, close the case, emit case.closed or case.corrected."""
    case, contacts, measures = _closure_inputs(conn, actor.office, case_id)
    event_type, next_state, version, supersedes = states.submission(case["state"], case["closure_version"])
    today = platform.clock.today()
    derived = derived_summary(case, contacts, measures, today)
    values, errors = closure_rules.validate(raw, case, contacts, measures, derived,
                                            closure_rules.load_success_criteria(), today)
    if errors:
        raise Invalid(errors, "Avslutningen ble ikke sendt: rett feltene som er merket.")
    derived = derive.contact_summary(contacts, measures, case["opened_on"], values["closed_on"], today,
                                     case["mentor_relation"])
    return _store_version(conn, platform, actor, case, values, measures, derived, event_type, next_state,
                          version, supersedes)


def _store_version(conn, platform, actor, case, values, measures, derived, event_type, next_state, version, supersedes):
    """Write the closure version, the case's new state, its history entry and the event (one round trip on
    PostgreSQL); returns the record exactly as sent (JSON-ready)."""
    record = closure_rules.record(case, values, measures, derived, version)
    payload = dict(record, supersedes_version=supersedes) if event_type == "case.corrected" else record
    envelope = platform.event(event_type, case["office"], payload)
    updates = {"state": next_state, "closure_version": version}
    if next_state == states.CLOSED:
        updates.update(closed_on=values["closed_on"], active_candidate=None, closure_draft=None,
                       draft_saved_by=None, draft_saved_at=None)
    platform.queue(
        conn, envelope,
        (_CLOSURE_INSERT, {"case_id": case["id"], "version": version, "office": case["office"], "kind": event_type,
                           "supersedes_version": supersedes, "record": envelope["payload"],
                           "submitted_by": actor.subject, "submitted_at": platform.clock.now()}),
        *_change_writes(platform, case, actor, {"case.closed": "closed", "case.corrected": "corrected",
                                                "case.project_end_status": "project_end_status"}[event_type],
                        {"version": version, "supersedes_version": supersedes, "closed_on": values["closed_on"],
                         "closure_reason": values["closure_reason"]}, **updates))
    return envelope["payload"]


def project_end(platform, actor) -> dict:
    """Submit the status form for every case still open, in every office (one transaction per case)."""
    c = T["cases"]
    with platform.engine.connect() as conn:
        ids = [(r[0], r[1]) for r in conn.execute(select(c.c.id, c.c.office).where(c.c.state == states.OPEN)
                                                  .order_by(c.c.office, c.c.opened_on))]
    sent = 0
    for case_id, office in ids:
        with platform.engine.begin() as conn:
            ctx = closure_context(conn, platform, office, case_id)
            case = owned_case(conn, office, case_id, for_update=True)
            if case["state"] != states.OPEN:
                continue  # closed meanwhile
            event_type, next_state, version, supersedes = states.submission(case["state"], case["closure_version"],
                                                                            project_end=True)
            ongoing = derive.contact_summary(ctx["contacts"], ctx["measures"], case["opened_on"], None, ctx["today"],
                                             case["mentor_relation"])  # until today; duration "ikke avsluttet"
            values = closure_rules.project_end_values(case, ongoing, ctx["draft"], ctx["today"], ctx["criteria"])
            _store_version(conn, platform, Actor(office, actor.subject), case, values, ctx["measures"], ongoing,
                           event_type, next_state, version, supersedes)
            sent += 1
    return {"status_forms": sent}
