"""The schedule: what notify knows of each case, kept current by intake's and consent's events.

Every write is an idempotent upsert keyed by the event's own ids (case, contact revision, measure, consent
effective time), so a redelivered or late event changes nothing; the inbox row the consumer writes in the same
transaction makes a redelivery a no-op before it even gets here. No Flask, no broker: plain functions on a
connection.

The handlers also do the per-case half of the rules, when the event arrives: they resolve the open reminders
whose reason the event removed (and cancel their unsent mail), and they keep what each rule has yet to remind for
(`notify_due` rows, the `*_pending_after` dates), so the sweep reads nothing but what can fall due. They hold the
sweep off while they work (`hold_off_sweep`) and the sweep holds them off while it runs, so a sweep never reminds
for a period an event has just moved.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, select, text

from . import tables as t

CLOSING_RULES = ("closure_overdue", "mentor_contact_missing", "consent_missing", "project_end", "interview")
# One advisory lock on PostgreSQL: the handlers share it, the sweep takes it alone. (SQLite runs one writing
# transaction at a time anyway: BEGIN IMMEDIATE.)
SWEEP_LOCK = 0x6E6F74696679  # "notify"


def hold_off_sweep(conn) -> None:
    """Called first by everything that changes what the sweep reads or resolves a reminder."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": SWEEP_LOCK})


def hold_off_handlers(conn) -> None:
    """The sweep's first statement: waits for the handlers in flight, keeps new ones waiting until its commit."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SWEEP_LOCK})


class UnknownCase(LookupError):
    pass


def move_due(conn, case, rule, old_period=None, new_period=None) -> None:
    """The case's period of a per-case rule still to be reminded for moves: the old one's notify_due row goes, the
    new one's comes (either may be None), unless that period has had its reminder already (once is enough, e.g.
    for a consent that lapses again). The row carries office and recipient, so the sweep reads nothing else."""
    d, r = t.due, t.reminders
    case_id = case["case_id"]
    for period in {old_period, new_period} - {None}:  # the new one too: it is inserted below exactly once
        conn.execute(d.delete().where(d.c.rule == rule, d.c.period == period, d.c.case_id == case_id))
    if new_period is None or conn.execute(select(r.c.id).where(
            r.c.rule == rule, r.c.period == new_period, r.c.case_id == case_id)).first():
        return
    conn.execute(d.insert().values(rule=rule, period=new_period, case_id=case_id, office=case["office"],
                                   recipient_id=None if rule == "employer_survey" else case["counsellor_id"]))


def _get_case(conn, case_id):
    return conn.execute(select(t.cases).where(t.cases.c.case_id == case_id)).mappings().first()


def _is_open(case) -> bool:
    return case["closed_on"] is None and not case["end_status_sent"]


def upsert_case(conn, office: str, payload: dict, now: datetime, opened_on: date | None = None) -> None:
    """case.opened / case.parties_changed: who is in the case. A later parties event never reopens a closed case."""
    hold_off_sweep(conn)
    case_id = str(payload["case_id"])
    row = _get_case(conn, case_id)
    values = {"counsellor_id": payload["counsellor_id"], "mentor_relation": payload["mentor_relation"],
              "updated_at": now}
    if row is None:
        if opened_on is None:
            raise UnknownCase(f"parties changed for a case notify has not seen opened: {case_id}")
        conn.execute(t.cases.insert().values(
            case_id=case_id, office=office, opened_on=opened_on, closed_on=None, end_status_sent=False,
            last_activity_on=opened_on, last_mentor_contact_on=None, closure_anchor_on=None, mentor_anchor_on=None,
            research_consent=None, survey_consent=None, interview_consent=None,
            project_end_pending_after=opened_on - timedelta(days=1), **values))
        # Until the research consent is answered (consents that came before the case are applied next).
        move_due(conn, _get_case(conn, case_id), "consent_missing", new_period=opened_on)
        _apply_consents(conn, case_id, now)
    else:
        if row["office"] != office:
            raise ValueError(f"case {case_id} belongs to another office")
        conn.execute(t.cases.update().where(t.cases.c.case_id == case_id).values(**values))
        if row["counsellor_id"] != values["counsellor_id"]:  # a handover: what is still due goes to the new one
            d = t.due
            for rule, period in _due_periods(row, ("closure_overdue", "mentor_contact_missing", "consent_missing")):
                conn.execute(d.update().where(d.c.rule == rule, d.c.period == period, d.c.case_id == case_id)
                             .values(recipient_id=values["counsellor_id"]))
    recompute_case(conn, case_id, now)


def record_contact(conn, payload: dict, now: datetime) -> None:
    """A contact logged or edited: keep the highest revision only."""
    hold_off_sweep(conn)
    contact_id = str(payload["contact_id"])
    existing = conn.execute(select(t.contacts.c.revision).where(t.contacts.c.contact_id == contact_id)).scalar()
    values = dict(case_id=str(payload["case_id"]), revision=payload["revision"], contact_date=payload["contact_date"],
                  party=payload["party"], deleted=bool(payload.get("deleted")))
    if existing is None:
        conn.execute(t.contacts.insert().values(contact_id=contact_id, **values))
    elif payload["revision"] > existing:
        conn.execute(t.contacts.update().where(t.contacts.c.contact_id == contact_id).values(**values))
    else:
        return  # an older or repeated revision
    recompute_case(conn, values["case_id"], now)


def record_measure(conn, payload: dict, now: datetime) -> None:
    hold_off_sweep(conn)
    measure_id = str(payload["measure_id"])
    values = dict(case_id=str(payload["case_id"]), from_date=payload["from_date"], to_date=payload["to_date"],
                  deleted=bool(payload.get("deleted")))
    if conn.execute(select(t.measures.c.measure_id).where(t.measures.c.measure_id == measure_id)).first():
        conn.execute(t.measures.update().where(t.measures.c.measure_id == measure_id).values(**values))
    else:
        conn.execute(t.measures.insert().values(measure_id=measure_id, **values))
    recompute_case(conn, values["case_id"], now)


def record_closure(conn, office: str, payload: dict, now: datetime, project_end_status: bool = False) -> None:
    """case.closed / case.corrected / case.project_end_status: the closure form is in; its reminders are resolved,
    and no rule for open cases looks at the case again."""
    hold_off_sweep(conn)
    case_id = str(payload["case_id"])
    if _get_case(conn, case_id) is None:
        upsert_case(conn, office, payload, now, opened_on=payload["opened_on"])
    case = _get_case(conn, case_id)
    if _is_open(case):  # nothing more to remind for while open
        for rule, period in _due_periods(case, ("closure_overdue", "mentor_contact_missing", "consent_missing")):
            move_due(conn, case, rule, old_period=period)
    values = {"updated_at": now, "project_end_pending_after": None, "interview_pending_after": None}
    if project_end_status:
        values["end_status_sent"] = True
    else:
        values["closed_on"] = payload["closed_on"]
        # A new closing date is a new survey period: the invitation goes for the latest one (if still unsent).
        move_due(conn, case, "employer_survey", old_period=case["closed_on"],
                 new_period=payload["closed_on"] if case["survey_consent"] == "granted" else None)
    conn.execute(t.cases.update().where(t.cases.c.case_id == case_id).values(**values))
    rules = ("closure_overdue", "project_end") if project_end_status else CLOSING_RULES
    resolve_case_reminders(conn, case, rules, "closure_submitted", now)


def record_consent(conn, event_type: str, payload: dict, now: datetime) -> None:
    """Latest status per (case, purpose); an event older than what is stored changes nothing."""
    if payload.get("case_id") is None:
        return  # a person's own consent (focus groups): no case reminder depends on it
    hold_off_sweep(conn)
    case_id, purpose = str(payload["case_id"]), payload["purpose"]
    status = event_type.split(".", 1)[1]  # granted | withdrawn | expired | expiring | incomplete
    if status == "expiring":
        return  # still valid; consent's own sweep warns
    at = payload["effective_at"]
    key = and_(t.consents.c.case_id == case_id, t.consents.c.purpose == purpose)
    current = conn.execute(select(t.consents.c.effective_at).where(key)).scalar()
    if current is None:
        conn.execute(t.consents.insert().values(case_id=case_id, purpose=purpose, status=status, effective_at=at))
    elif at >= current:
        conn.execute(t.consents.update().where(key).values(status=status, effective_at=at))
    else:
        return
    _apply_consents(conn, case_id, now)


def _apply_consents(conn, case_id, now):
    """The case's consent statuses, and what they mean for its reminders: research consent answered (granted,
    withdrawn or expired) ends `consent_missing`; survey and interview reminders need their consent to hold."""
    case = _get_case(conn, case_id)
    if case is None:
        return  # consents that arrived before case.opened wait for it
    statuses = dict(conn.execute(select(t.consents.c.purpose, t.consents.c.status)
                                 .where(t.consents.c.case_id == case_id)).all())
    research, survey, interview = (statuses.get("research_registration"), statuses.get("employer_survey"),
                                   statuses.get("interviews"))
    values = dict(research_consent=research, survey_consent=survey, interview_consent=interview)
    if research in ("granted", "withdrawn", "expired"):  # answered
        move_due(conn, case, "consent_missing", old_period=case["opened_on"])
        resolve_case_reminders(conn, case, ("consent_missing",), "consent_registered", now)
    elif research != case["research_consent"] and _is_open(case):
        move_due(conn, case, "consent_missing", new_period=case["opened_on"])  # missing again (incomplete)
    if survey == "granted":
        if case["closed_on"] is not None and case["survey_consent"] != "granted":
            move_due(conn, case, "employer_survey", new_period=case["closed_on"])
    else:
        move_due(conn, case, "employer_survey", old_period=case["closed_on"])
        resolve_case_reminders(conn, case, ("employer_survey",), "consent_withdrawn", now)
    if interview == "granted":
        if _is_open(case) and case["interview_pending_after"] is None:
            # From the opening on, past the points already reminded for (the consent may have lapsed in between).
            r = t.reminders
            reminded = conn.execute(select(func.max(r.c.period)).where(
                r.c.case_id == case_id, text(t.COMMON_DATE_RULES), r.c.rule == "interview")).scalar()
            values["interview_pending_after"] = max(d for d in (case["opened_on"] - timedelta(days=1), reminded) if d)
    else:
        values["interview_pending_after"] = None
        resolve_case_reminders(conn, case, ("interview",), "no_interview_consent", now)
    conn.execute(t.cases.update().where(t.cases.c.case_id == case_id).values(**values))


def recompute_case(conn, case_id: str, now: datetime) -> None:
    """Derive the dates the rules count from (one case, aggregates over its contacts and measures). A moved
    period resolves the reminder of the old one and is due to be reminded for (in an open case)."""
    case = _get_case(conn, case_id)
    if case is None:
        return  # contacts or measures that arrived before case.opened wait for it
    live_contacts = and_(t.contacts.c.case_id == case_id, t.contacts.c.deleted.is_(False))
    last_contact = conn.execute(select(func.max(t.contacts.c.contact_date)).where(live_contacts)).scalar()
    last_mentor = conn.execute(select(func.max(t.contacts.c.contact_date))
                               .where(live_contacts, t.contacts.c.party == "mentor")).scalar()
    live_measures = and_(t.measures.c.case_id == case_id, t.measures.c.deleted.is_(False))
    open_ended = conn.execute(select(func.count()).where(live_measures, t.measures.c.to_date.is_(None))).scalar()
    last_start = conn.execute(select(func.max(t.measures.c.from_date)).where(live_measures)).scalar()
    last_end = conn.execute(select(func.max(t.measures.c.to_date)).where(live_measures)).scalar()
    last_activity = max(d for d in (case["opened_on"], last_contact, last_start) if d is not None)
    values = derive(case["opened_on"], case["mentor_relation"], last_activity, last_mentor, last_end, bool(open_ended))
    for anchor, rule, resolution in (("closure_anchor_on", "closure_overdue", "case_active_again"),
                                     ("mentor_anchor_on", "mentor_contact_missing", "mentor_contact_logged")):
        if values[anchor] != case[anchor]:
            resolve_case_reminders(conn, case, (rule,), resolution, now)  # the old period's
            if _is_open(case):
                move_due(conn, case, rule, old_period=case[anchor], new_period=values[anchor])
    conn.execute(t.cases.update().where(t.cases.c.case_id == case_id).values(**values))


def derive(opened_on, mentor_relation, last_activity, last_mentor, last_end, open_ended) -> dict:
    """The dates the rules count from. Closure is due N days after the later of the last activity and the last
    measure's end; a measure without an end date keeps the case running."""
    closure_anchor = None if open_ended else max(d for d in (last_activity, last_end) if d is not None)
    mentor_anchor = None if mentor_relation == "none" else (last_mentor or opened_on)
    return dict(last_activity_on=last_activity, last_mentor_contact_on=last_mentor, closure_anchor_on=closure_anchor,
                mentor_anchor_on=mentor_anchor)


# Where a per-case rule's period comes from: its notify_due row and its open reminder (at most one: a moved period
# resolves the old one's) are found by their keys (rule, period, case) with the period the case row holds.
PERIOD_OF = {"closure_overdue": "closure_anchor_on", "mentor_contact_missing": "mentor_anchor_on",
             "consent_missing": "opened_on", "employer_survey": "closed_on"}


def _due_periods(case, rules):
    return [(rule, case[PERIOD_OF[rule]]) for rule in rules if case[PERIOD_OF[rule]] is not None]


def resolve_case_reminders(conn, case, rules, resolution, now) -> int:
    """Resolve the case's open reminders of these rules, for the periods in `case` (the row as it was before this
    event changed it), and cancel their mail not yet sent."""
    r, m = t.reminders, t.mails
    keys = [and_(r.c.rule == rule, r.c.period == period, r.c.case_id == case["case_id"])
            for rule, period in _due_periods(case, [rule for rule in rules if rule in PERIOD_OF])]
    keys += [and_(r.c.case_id == case["case_id"], text(t.COMMON_DATE_RULES), r.c.rule == rule)
             for rule in rules if rule not in PERIOD_OF]
    ids = [i for which in keys for i in conn.execute(select(r.c.id).where(which, r.c.resolved_at.is_(None))).scalars()]
    if not ids:
        return 0
    conn.execute(m.update().where(m.c.reminder_id.in_(ids), m.c.status == "pending")
                 .values(status="cancelled", claimed_until=None))
    return conn.execute(r.update().where(r.c.id.in_(ids)).values(resolved_at=now, resolution=resolution)).rowcount
