"""Intake's use cases: each runs inside the caller's transaction (`conn`) unless it says otherwise.

The caller (API, page, CLI, testing helper) opens the transaction; a use case loads from the store, decides in the
domain, saves through the store and emits its event, so the state change, the history entry and the outbox event
are written together: an event exists exactly when its change does. Every lookup is scoped by office: a case id of
another office is "not found" (shared.auth.NotFound), the same as a missing one.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from shared import overdue
from shared.cases import case_reference as shared_case_reference
from shared.text import N_, Text
from shared.web.preconditions import require_version

from . import access, store
from .domain import Conflict, Invalid, NotEligible, derive, rules, states
from .domain import closure as closure_rules
from .domain.rules import add

PARTY_FIELDS = ("counsellor_id", "mentor_id", "mentor_relation", "employer_hash")
EMPLOYER_FIELDS = ("employer_orgnr", "employer_name", "employer_contact_name", "employer_contact_email",
                   "employer_contact_phone")
OPEN_FIELDS = ("national_id", "candidate_name", "in_target_group", "in_follow_up_measure", "entry_point", "industry",
               "initiator", "attachment_before", "counsellor_knew_company", "reasons", "opened_on", "mentor_name",
               "mentor_relation") + EMPLOYER_FIELDS
CONTACT_FIELDS = ("contact_date", "party", "form", "minutes", "note")
MEASURE_FIELDS = ("measure", "from_date", "to_date")
PARTY_FORM_FIELDS = ("mentor_name", "mentor_relation") + EMPLOYER_FIELDS
PLAN_FIELDS = tuple(f"step_{n}" for n in range(1, 8)) + ("start_meeting_on", "plan_tasks", "plan_mentor_expectations")
PAGE_SIZE = 50  # cases per page of the list (page and API default)
MAX_PAGE_SIZE = 500  # the API's largest page
ALREADY_OPEN = N_("Brukeren har allerede en åpen sak ved kontoret. Fortsett i den saken.")
HISTORY_ACTION = {"case.closed": "closed", "case.corrected": "corrected",
                  "case.project_end_status": "project_end_status"}
EMPLOYER_SURVEY = "employer_survey"  # the one purpose a contact detail leaves the office for


@dataclass(frozen=True)
class Actor:
    """Who acts: an office member (a Principal fits) — the office scopes everything."""

    office: str
    subject: str


def _change(conn, platform, case, actor, action, summary, snapshot=None, **updates):
    """Bump the case's revision with `updates` and append the history entry (append-only, snapshot sealed)."""
    store.save_change(conn, platform, case, actor.subject, action, summary, snapshot, **updates)
    return case


def _parties_payload(case):
    return {"case_id": case["id"], **{k: case[k] for k in PARTY_FIELDS}}


# ------------------------------------------------------------------ opening
def open_case(conn, platform, actor, raw: dict) -> dict:
    """Check the form and the eligibility rules, store the case encrypted, emit case.opened."""
    errors = rules.unknown_fields(raw, OPEN_FIELDS)
    today = platform.clock.today()
    counsellor = platform.directory.user(conn, actor.subject)
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
        "counsellor_knew_company": rules.code(errors, "counsellor_knew_company", "yes_no",
                                              raw.get("counsellor_knew_company")),
        "reasons": rules.codes_list(errors, "reasons", "reason", raw.get("reasons")),
        "opened_on": rules.a_date(errors, "opened_on", raw.get("opened_on") or today, not_after=today),
    }
    mentor = _mentor_fields(errors, raw)
    employer = _employer_fields(errors, raw)
    if failed:
        raise NotEligible(errors, failed)
    if errors:
        raise Invalid(errors)
    office, keyring = actor.office, platform.keyring
    candidate_key = store.candidate_hash(keyring, office, fnr)
    if store.has_active_case(conn, office, candidate_key):
        raise Invalid({"national_id": [ALREADY_OPEN]})
    case_id = str(uuid.uuid4())
    now = platform.clock.now()
    case = store.insert_case(conn, keyring, {
        "id": case_id, "office": office, "counsellor_id": actor.subject, "state": states.OPEN, "revision": 0,
        "candidate_hash": candidate_key, "active_candidate": candidate_key,
        "in_target_group": in_target, "in_follow_up_measure": in_follow_up, **values,
        "employer_hash": store.employer_hash(keyring, office, employer["orgnr"]) if employer else None,
        "mentor_id": str(uuid.uuid4()) if mentor["relation"] != "none" else None,
        "mentor_relation": mentor["relation"],
        "steps": {str(n): None for n in range(1, 8)}, "start_meeting_on": None, "plan": None,
        "closure_version": 0, "closed_on": None, "created_at": now, "updated_at": now,
    }, candidate_fnr=fnr, candidate_name=name, mentor_name=mentor["name"], employer=employer)
    if case is None:
        raise Invalid({"national_id": [ALREADY_OPEN]})
    _change(conn, platform, case, actor, "opened",
            {**values, "mentor_relation": mentor["relation"], "employer": bool(employer)},
            snapshot={"candidate_name": name, "mentor_name": mentor["name"], "employer": employer})
    platform.emit(conn, "case.opened", office, {
        "case_id": case_id, "candidate_hash": candidate_key, "opened_on": values["opened_on"],
        "entry_point": values["entry_point"], **{k: case[k] for k in PARTY_FIELDS}})
    return case


def _mentor_fields(errors, raw):
    relation = rules.code(errors, "mentor_relation", "mentor_relation", raw.get("mentor_relation") or "none")
    name = rules.text(errors, "mentor_name", raw.get("mentor_name"))
    if relation and relation != "none" and not name:
        add(errors, "mentor_name", N_("Skriv mentorens navn, eller velg «Ingen mentor» som rolle."))
    if relation == "none" and name:
        add(errors, "mentor_relation", N_("Velg mentorens rolle (kollega, leder eller ekstern)."))
    return {"relation": relation or "none", "name": name if relation != "none" else None}


def _employer_fields(errors, raw):
    """The employer is optional at opening (at course start there may be none yet); if given, orgnr is checked."""
    if all(rules.blank(raw.get(f)) for f in EMPLOYER_FIELDS):
        return None
    return {
        "orgnr": rules.organisation_number(errors, "employer_orgnr", raw.get("employer_orgnr"), required=True),
        "name": rules.text(errors, "employer_name", raw.get("employer_name")),
        "contact_name": rules.text(errors, "employer_contact_name", raw.get("employer_contact_name")),
        "contact_email": rules.email(errors, "employer_contact_email", raw.get("employer_contact_email")),
        "contact_phone": rules.phone(errors, "employer_contact_phone", raw.get("employer_contact_phone")),
    }


# ------------------------------------------------------------------ reading
def case_in_clear(keyring, case: dict, leave_out=()) -> dict:
    """The case row with its personal fields opened (the national ID as `national_id`), without `leave_out`."""
    personal = store.case_personal(keyring, case, *(column for column in store.CASE_FIELDS if column not in leave_out))
    item = {k: v for k, v in case.items() if k not in store.CASE_FIELDS and k not in leave_out}
    item.update(national_id=personal.pop("candidate_fnr"), **personal)
    return item


def case_reference(case_id) -> str:
    """The short name of a case on every page and mail ("Sak ef2e8883"): shared.cases.case_reference, the one
    every service names a case by."""
    return shared_case_reference(case_id)


def require_case(conn, office, case_id) -> None:
    """NotFound unless the office has the case."""
    store.case(conn, office, case_id)


def case_view(conn, platform, office, case_id) -> dict:
    """The case with its personal fields decrypted, for the office's own pages and API."""
    case = store.case(conn, office, case_id)
    cid = case["id"]
    view = case_in_clear(platform.keyring, case, leave_out=("active_candidate", "closure_draft"))
    view["plan"] = view["plan"] or {"tasks": None, "mentor_expectations": None}
    view["contacts"] = store.contacts_with_notes(conn, platform.keyring, office, cid)
    view["measures"] = store.measures(conn, cid)
    view["history"] = store.history_summaries(conn, cid)
    view["closures"] = store.closures(conn, cid)
    view["derived"] = derived_summary(case, view["contacts"], view["measures"], platform.clock.today())
    return view


def history_snapshots(conn, platform, office, case_id) -> list[dict]:
    """The full history with snapshots decrypted (what changed, before and after), for the office."""
    case = store.case(conn, office, case_id)
    return store.history(conn, platform.keyring, office, case["id"])


def derived_summary(case, contacts, measures, today):
    return derive.contact_summary(contacts, measures, case["opened_on"], case["closed_on"], today,
                                  case["mentor_relation"])


def list_cases(conn, platform, office, counsellor_id=None, state=None, ids=None, page=1,
               page_size=PAGE_SIZE) -> list[dict]:
    """One page of the office's cases, newest first, with the candidate's name decrypted for the office.

    Always a page, never the whole office: a request's time and memory stay the same however many cases the
    office has had (see the README)."""
    return store.list_cases(conn, platform.keyring, office, counsellor_id, state, ids, page, page_size)


def count_cases(conn, office, counsellor_id=None, state=None) -> int:
    """How many cases `list_cases` pages through."""
    return store.count_cases(conn, office, counsellor_id, state)


def find_by_national_id(conn, platform, office, national_id) -> list[str]:
    """Case ids of this office for a national ID, found through the keyed hash (never a clear-text search)."""
    errors = {}
    fnr = rules.national_id(errors, "national_id", national_id)
    if errors:
        raise Invalid(errors)
    return store.case_ids_of_candidate(conn, office, store.candidate_hash(platform.keyring, office, fnr))


def overdue_case_ids(conn, platform, office) -> list[str]:
    """Open cases whose closure is overdue: shared.overdue's rule, the one notify reminds and counts by."""
    days = _thresholds(conn, platform)["closure_overdue"]
    today = platform.clock.today()
    return sorted(str(case_id) for case_id, anchor in store.closure_anchors(conn, office).items()
                  if overdue.is_overdue(anchor, today, days))


def _thresholds(conn, platform) -> dict:
    project = platform.directory.project_settings(conn) or {}
    given = project.get("reminder_thresholds_days") or {}
    return {"closure_overdue": overdue.closure_days(project),
            "mentor_contact_missing": given.get("mentor_contact_missing", 21)}


def worklist(conn, platform, office, counsellor_id, needs_closure=False, case_id=None) -> list[dict]:
    """The counsellor's active cases, each with what is next in words (a message id or Text: the page translates it),
    the most urgent first: a sluttskjema past its date (shared.overdue, the overview's and notify's rule), one coming
    due once the measures have ended, a draft to finish, no mentor contact for a while, then the rest.
    `needs_closure`: only cases that are overdue or whose measures have all ended. `case_id`: that case's entry
    alone (the case page's next step), read from its own rows only."""
    limits = _thresholds(conn, platform)
    today = platform.clock.today()
    items = []
    for case in store.worklist_cases(conn, platform.keyring, office, counsellor_id, case_id):
        item = _worklist_entry(case, limits, today)
        if not needs_closure or item["needs_closure"]:
            items.append(item)
    return sorted(items, key=lambda item: (item["rank"], str(item["id"])))


def next_step(conn, platform, office, case: dict) -> dict | None:
    """What is next for an active case: its worklist entry (the same rule and words as the start page, from this
    case's rows only); None for a closed case."""
    if case["state"] not in states.ACTIVE:
        return None
    return next(iter(worklist(conn, platform, office, case["counsellor_id"], case_id=case["id"])), None)


def _worklist_entry(case: dict, limits: dict, today) -> dict:
    """One case's place in the worklist: its rank and what is next."""
    due = overdue.due_on(case["closure_anchor"], limits["closure_overdue"])
    late = overdue.is_overdue(case["closure_anchor"], today, limits["closure_overdue"])
    # Every measure has an end date once the closure has an anchor: all ended when the last one has.
    all_ended = due is not None and case["measure_count"] > 0 and case["last_measure_end"] < today
    quiet = (today - (case["last_mentor_contact"] or case["opened_on"])).days
    if late:
        rank, next_step = (0, due), Text(N_("Sluttskjema forfalt {date}"), date=due.strftime("%d.%m.%Y"))
    elif all_ended:
        rank, next_step = (1, due), Text(N_("Sluttskjema forfaller {date}"), date=due.strftime("%d.%m.%Y"))
    elif case["draft_saved_at"]:
        rank, next_step = (2, today), N_("Fortsett på sluttskjemaet")
    elif case["mentor_relation"] != "none" and quiet > limits["mentor_contact_missing"]:
        rank = (3, today - timedelta(days=quiet))
        next_step = Text(N_("Ingen kontakt med mentor på {days} dager"), days=quiet)
    elif not case["measure_count"]:
        rank, next_step = (4, case["opened_on"]), N_("Registrer tiltak")
    else:
        rank, next_step = (5, case["opened_on"]), N_("Logg kontakter underveis")
    return {**case, "next_step": next_step, "rank": rank, "needs_closure": late or all_ended}


def office_overview(conn, platform, office) -> dict:
    """The local contact's view: open cases, closures submitted, overdue cases, per counsellor too."""
    per = {}
    for counsellor_id, state, n in store.cases_per_counsellor_and_state(conn, office):
        per.setdefault(counsellor_id, {"open": 0, "project_end": 0, "closed": 0})[state] = n
    overdue = overdue_case_ids(conn, platform, office)
    return {
        "open": sum(p["open"] + p["project_end"] for p in per.values()),
        "closed": sum(p["closed"] for p in per.values()),
        "closures_submitted": store.closures_submitted(conn, office),
        "overdue": len(overdue), "overdue_case_ids": overdue,
        "overdue_days": _thresholds(conn, platform)["closure_overdue"],
        "per_counsellor": per,
    }


def staff_names(conn, platform, office) -> dict:
    """{user id: name} of the office's people in the directory."""
    return {u["id"]: u["name"] for u in platform.directory.users(conn, office_code=office)}


def handover_candidates(conn, platform, office) -> list[dict]:
    """The office's people a case may be handed over to."""
    return [u for u in platform.directory.users(conn, office_code=office) if access.takes_handover(u)]


def office_staff(conn, platform, office) -> tuple[dict, list[dict]]:
    """(`staff_names`, `handover_candidates`) from one read of the office's people (a page shows both)."""
    users = platform.directory.users(conn, office_code=office)
    return {u["id"]: u["name"] for u in users}, [u for u in users if access.takes_handover(u)]


# ------------------------------------------------------------------ contact log
def save_contact(conn, platform, actor, case_id, raw: dict, contact_id=None) -> dict:
    """Log a contact, or edit one (new revision); the note is encrypted and never travels."""
    case = store.case(conn, actor.office, case_id, for_update=True)
    states.require_active(case["state"])
    errors = rules.unknown_fields(raw, CONTACT_FIELDS)
    values = {
        "contact_date": rules.a_date(errors, "contact_date", raw.get("contact_date"), not_after=platform.clock.today(),
                                     not_before=case["opened_on"],
                                     not_before_text=Text(N_("Kontakten kan ikke være før saken ble opprettet "
                                                             "({date})."),
                                                          date=case["opened_on"].strftime("%d.%m.%Y"))),
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
        store.insert_contact(conn, platform.keyring, case, contact_id, note, actor.subject, now, **values)
    else:
        before = store.contact(conn, platform.keyring, case["office"], case["id"], contact_id)
        revision = before["revision"] + 1
        store.update_contact(conn, platform.keyring, case["office"], before["id"], revision, note, actor.subject, now,
                             **values)
    _change(conn, platform, case, actor, "contact_logged" if before is None else "contact_edited",
            {"contact_id": contact_id, "revision": revision, **values,
             "changed": sorted(k for k in values if before[k] != values[k]) if before else None},
            snapshot={"before": before and {k: before[k] for k in CONTACT_FIELDS}, "after": {**values, "note": note}})
    platform.emit(conn, "case.contact_logged", case["office"], {"case_id": case["id"], "contact_id": contact_id,
                                                                "revision": revision, "deleted": False, **values})
    return {"id": contact_id, "revision": revision, **values}


def delete_contact(conn, platform, actor, case_id, contact_id) -> None:
    case = store.case(conn, actor.office, case_id, for_update=True)
    states.require_active(case["state"])
    before = store.contact(conn, platform.keyring, case["office"], case["id"], contact_id)
    revision = before["revision"] + 1
    store.mark_deleted(conn, "contacts", before["id"], revision, actor.subject, platform.clock.now())
    values = {k: before[k] for k in ("contact_date", "party", "form", "minutes")}
    _change(conn, platform, case, actor, "contact_deleted",
            {"contact_id": before["id"], "revision": revision, **values},
            snapshot={"before": {**values, "note": before["note"]}})
    platform.emit(conn, "case.contact_logged", case["office"], {"case_id": case["id"], "contact_id": before["id"],
                                                                "revision": revision, "deleted": True, **values})


# ------------------------------------------------------------------ measures and subsidies
def save_measure(conn, platform, actor, case_id, raw: dict, measure_id=None) -> dict:
    case = store.case(conn, actor.office, case_id, for_update=True)
    states.require_active(case["state"])
    errors = rules.unknown_fields(raw, MEASURE_FIELDS)
    values = {"measure": rules.code(errors, "measure", "measure", raw.get("measure")),
              "from_date": rules.a_date(errors, "from_date", raw.get("from_date"))}
    values["to_date"] = rules.a_date(errors, "to_date", raw.get("to_date"), required=False,
                                     not_before=values["from_date"],
                                     not_before_text=N_("Til-datoen kan ikke være før fra-datoen."))
    if errors:
        raise Invalid(errors)
    now = platform.clock.now()
    if measure_id is None:
        measure_id, revision, before = str(uuid.uuid4()), 1, None
        store.insert_measure(conn, case, measure_id, actor.subject, now, **values)
    else:
        before = store.measure(conn, case["office"], case["id"], measure_id)
        revision = before["revision"] + 1
        store.update_measure(conn, before["id"], revision, actor.subject, now, **values)
    _change(conn, platform, case, actor, "measure_added" if before is None else "measure_changed",
            {"measure_id": measure_id, **values, "before": before and {k: before[k] for k in MEASURE_FIELDS}})
    platform.emit(conn, "case.measure_changed", case["office"], {"case_id": case["id"], "measure_id": measure_id,
                                                                 "deleted": False, **values})
    return {"id": measure_id, "revision": revision, **values}


def delete_measure(conn, platform, actor, case_id, measure_id) -> None:
    case = store.case(conn, actor.office, case_id, for_update=True)
    states.require_active(case["state"])
    before = store.measure(conn, case["office"], case["id"], measure_id)
    store.mark_deleted(conn, "measures", before["id"], before["revision"] + 1, actor.subject, platform.clock.now())
    values = {k: before[k] for k in MEASURE_FIELDS}
    _change(conn, platform, case, actor, "measure_deleted", {"measure_id": before["id"], **values})
    platform.emit(conn, "case.measure_changed", case["office"], {"case_id": case["id"], "measure_id": before["id"],
                                                                 "deleted": True, **values})


# ------------------------------------------------------------------ parties, handover, plan
def update_parties(conn, platform, actor, case_id, raw: dict) -> dict:
    """Set the mentor and the employer (with its contact person); a new mentor name gets a new mentor id."""
    case = store.case(conn, actor.office, case_id, for_update=True)
    states.require_active(case["state"])
    errors = rules.unknown_fields(raw, PARTY_FORM_FIELDS)
    mentor = _mentor_fields(errors, raw)
    employer = _employer_fields(errors, raw)
    if errors:
        raise Invalid(errors)
    old = store.case_personal(platform.keyring, case, "mentor_name", "employer")
    before = {k: case[k] for k in PARTY_FIELDS}
    mentor_id = case["mentor_id"]
    if mentor["relation"] == "none":
        mentor_id = None
    elif mentor_id is None or (mentor["name"] or "").casefold() != (old["mentor_name"] or "").casefold():
        mentor_id = str(uuid.uuid4())
    updates = {
        "mentor_id": mentor_id, "mentor_relation": mentor["relation"], "mentor_name": mentor["name"],
        "employer": employer,
        "employer_hash": store.employer_hash(platform.keyring, case["office"], employer["orgnr"]) if employer else None,
    }
    changed = sorted(k for k in PARTY_FIELDS if k != "counsellor_id" and before[k] != updates[k])
    _change(conn, platform, case, actor, "parties_changed",
            {"changed": changed, "mentor_relation": mentor["relation"], "employer": bool(employer)},
            snapshot={"before": old, "after": {"mentor_name": mentor["name"], "employer": employer}}, **updates)
    if changed:
        platform.emit(conn, "case.parties_changed", case["office"], _parties_payload(case))
    return case


def handover(conn, platform, actor, case_id, counsellor_id) -> dict:
    """Hand the case to a colleague: a counsellor of the same office who is not a job specialist."""
    case = store.case(conn, actor.office, case_id, for_update=True)
    states.require_active(case["state"])
    colleague = (platform.directory.user(conn, counsellor_id) if isinstance(counsellor_id, str) and counsellor_id
                 else None)
    if colleague is None or colleague["office_code"] != case["office"] or not access.takes_handover(colleague):
        raise Invalid({"counsellor_id": [N_("Velg en veileder ved eget kontor.")]})
    if colleague["id"] == case["counsellor_id"]:
        raise Invalid({"counsellor_id": [N_("Saken er allerede hos denne veilederen.")]})
    previous = case["counsellor_id"]
    _change(conn, platform, case, actor, "handed_over", {"from": previous, "to": colleague["id"]},
            counsellor_id=colleague["id"])
    platform.emit(conn, "case.parties_changed", case["office"], _parties_payload(case))
    return case


def update_plan(conn, platform, actor, case_id, raw: dict) -> dict:
    """The seven steps (date each was done), the start meeting and the written plan (encrypted). No event."""
    case = store.case(conn, actor.office, case_id, for_update=True)
    states.require_active(case["state"])
    errors = rules.unknown_fields(raw, PLAN_FIELDS)
    today = platform.clock.today()
    steps = {str(n): rules.a_date(errors, f"step_{n}", raw.get(f"step_{n}"), required=False, not_after=today)
             for n in range(1, 8)}
    start_meeting = rules.a_date(errors, "start_meeting_on", raw.get("start_meeting_on"), required=False)
    tasks = rules.text(errors, "plan_tasks", raw.get("plan_tasks"), max_length=4000)
    expectations = rules.text(errors, "plan_mentor_expectations", raw.get("plan_mentor_expectations"), max_length=4000)
    if errors:
        raise Invalid(errors)
    old_plan = store.case_personal(platform.keyring, case, "plan")["plan"]
    new_steps = {k: v.isoformat() if v else None for k, v in steps.items()}
    plan = {"tasks": tasks, "mentor_expectations": expectations}
    _change(conn, platform, case, actor, "plan_updated",
            {"steps": new_steps, "start_meeting_on": start_meeting,
             "plan_changed": (old_plan or {"tasks": None, "mentor_expectations": None}) != plan},
            snapshot={"before": old_plan, "after": plan},
            steps=new_steps, start_meeting_on=start_meeting, plan=plan if (tasks or expectations) else None)
    return case


# ------------------------------------------------------------------ closure
def closure_context(conn, platform, office, case_id) -> dict:
    """What the closure form needs: the case, its log, the derived summary, the draft and the criteria list."""
    case = store.case(conn, office, case_id)
    contacts, measures = store.contacts(conn, case["id"]), store.measures(conn, case["id"])
    today = platform.clock.today()
    draft = store.case_personal(platform.keyring, case, "closure_draft")["closure_draft"]
    latest = store.closure_record(conn, case["id"], case["closure_version"]) if case["closure_version"] else None
    # Derived over the period the form will report: to the draft's closure date when one is saved, else today.
    draft_closed = rules.parse_date(draft["closed_on"]) if draft and isinstance(draft.get("closed_on"), str) else None
    period_end = draft_closed if draft_closed and case["opened_on"] <= draft_closed <= today else None
    derived = derive.contact_summary(contacts, measures, case["opened_on"], period_end or case["closed_on"], today,
                                     case["mentor_relation"])
    if period_end is None and case["closed_on"] is None:
        derived["duration"] = derive.duration_category(derive.period_start(case["opened_on"], measures), None)
    return {"case": case, "contacts": contacts, "measures": measures,
            "derived": derived, "draft": draft, "latest": latest,
            "criteria": store.load_success_criteria(), "today": today}


def prefilled_values(ctx: dict) -> dict:
    """The closure form's values from `closure_context`: the draft, else the latest version, else derived."""
    source = ctx["draft"] or (ctx["latest"] and closure_rules.values_from_record(ctx["latest"]))
    return closure_rules.prefill(ctx["case"], ctx["derived"], source, ctx["today"])


def closure_form(conn, platform, office, case_id) -> dict:
    """The closure form prefilled (draft, else the case's answers and the derived tables 5/6)."""
    ctx = closure_context(conn, platform, office, case_id)
    case = ctx["case"]
    return {"state": case["state"], "revision": case["revision"], "closure_version": case["closure_version"],
            "derived": ctx["derived"],
            "draft": ctx["draft"], "criteria": ctx["criteria"], "latest": ctx["latest"],
            "values": prefilled_values(ctx)}


def save_draft(conn, platform, actor, case_id, raw: dict) -> dict:
    """Keep the form so far, to resume later: each field checked as the closure checks it (dates and codes only),
    none required; stored encrypted like the case's other personal fields."""
    case = store.case(conn, actor.office, case_id, for_update=True)
    draft, errors = closure_rules.validate_draft(raw, store.load_success_criteria())
    if errors:
        raise Invalid(errors, N_("Utkastet ble ikke lagret: rett feltene som er merket."))
    store.save_closure_draft(conn, platform.keyring, case, draft, actor.subject, platform.clock.now())
    return draft


def submit_closure(conn, platform, actor, case_id, raw: dict, expected_version: int) -> dict:
    """Validate everything at once; store the closure version, close the case, emit case.closed or case.corrected.

    `expected_version` is the case's revision the counsellor saw: checked under the row lock, so a repeat or a race
    of the same submission makes one version and the other gets 409 (werkzeug Conflict naming the revision).
    A benchmarked hot path: one locked read (`store.closure_inputs`) and one combined write (`_store_version`)."""
    case, contacts, measures = store.closure_inputs(conn, actor.office, case_id)
    require_version(expected_version, case["revision"])
    event_type, next_state, version, supersedes = states.submission(case["state"], case["closure_version"])
    today = platform.clock.today()
    derived = derived_summary(case, contacts, measures, today)
    values, errors = closure_rules.validate(raw, case, contacts, measures, derived,
                                            store.load_success_criteria(), today)
    if errors:
        raise Invalid(errors, N_("Avslutningen ble ikke sendt: rett feltene som er merket."))
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
        store.closure_write(case, version, event_type, supersedes, envelope["payload"], actor.subject,
                            platform.clock.now()),
        *store.change_writes(platform, case, actor.subject, HISTORY_ACTION[event_type],
                             {"version": version, "supersedes_version": supersedes, "closed_on": values["closed_on"],
                              "closure_reason": values["closure_reason"]}, **updates))
    return envelope["payload"]


def project_end_preview(conn, platform) -> dict:
    """What `project_end` would send, sending nothing: how many open cases, per office (for its confirmation)."""
    per_office: dict[str, int] = {}
    for _, office in store.open_cases_everywhere(conn):
        per_office[office] = per_office.get(office, 0) + 1
    names = {o["code"]: o["name"] for o in platform.directory.offices(conn)}
    return {"cases": sum(per_office.values()),
            "offices": [{"code": code, "name": names.get(code, code), "cases": n} for code, n in per_office.items()]}


def project_end(platform, actor) -> dict:
    """Submit the status form for every case still open, in every office (one transaction per case)."""
    with platform.engine.connect() as conn:
        ids = store.open_cases_everywhere(conn)
    sent = 0
    for case_id, office in ids:
        with platform.engine.begin() as conn:
            ctx = closure_context(conn, platform, office, case_id)
            case = store.case(conn, office, case_id, for_update=True)
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


# ------------------------------------------------------------------ the employer contact, for the survey invitation
def employer_contact(conn, platform, actor_subject: str, case_id) -> dict:
    """The one flow of a contact detail out of the office (issue #6): a case's employer contact, for notify's
    employer-survey invitation. Any office's case (opened with that office's key); NotFound for an unknown case,
    Conflict when no contact person is recorded. Every contact handed out is recorded (intake_disclosures) in the
    same transaction: who asked, when, which case. The consent check is notify's, which holds the consent state."""
    case, employer = store.employer_of_any_office(conn, platform.keyring, case_id)
    if not employer or not employer.get("contact_email") or not employer.get("contact_name"):
        raise Conflict(N_("Saken har ingen registrert kontaktperson hos arbeidsgiveren."))
    store.record_disclosure(conn, case, platform.clock.now(), actor_subject, "employer_contact", EMPLOYER_SURVEY)
    return {"organisation": employer.get("name") or employer.get("orgnr"), "contact_name": employer["contact_name"],
            "email": employer["contact_email"], "phone": employer.get("contact_phone") or None}
