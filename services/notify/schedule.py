"""The schedule: what notify knows of each case, kept current by intake's and consent's events.

Every write is an idempotent upsert keyed by the event's own ids (case, contact revision, measure, consent
effective time), so a redelivered or late event changes nothing; the inbox row the consumer writes in the same
transaction makes a redelivery a no-op before it even gets here. No Flask, no broker: plain functions on a
connection.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import and_, func, select

from . import tables as t

CLOSING_RULES = ("closure_overdue", "mentor_contact_missing", "consent_missing", "project_end", "interview")


class UnknownCase(LookupError):
    pass


def _get_case(conn, case_id):
    return conn.execute(select(t.cases).where(t.cases.c.case_id == case_id)).mappings().first()


def upsert_case(conn, office: str, payload: dict, now: datetime, opened_on: date | None = None) -> None:
    """case.opened / case.parties_changed: who is in the case. A later parties event never reopens a closed case."""
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
            research_consent=None, survey_consent=None, consent_pending_on=opened_on, **values))
        _apply_consents(conn, case_id)
    else:
        if row["office"] != office:
            raise ValueError(f"case {case_id} belongs to another office")
        conn.execute(t.cases.update().where(t.cases.c.case_id == case_id).values(**values))
    recompute_case(conn, case_id)


def record_contact(conn, payload: dict) -> None:
    """A contact logged or edited: keep the highest revision only."""
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
    recompute_case(conn, values["case_id"])


def record_measure(conn, payload: dict) -> None:
    measure_id = str(payload["measure_id"])
    values = dict(case_id=str(payload["case_id"]), from_date=payload["from_date"], to_date=payload["to_date"],
                  deleted=bool(payload.get("deleted")))
    if conn.execute(select(t.measures.c.measure_id).where(t.measures.c.measure_id == measure_id)).first():
        conn.execute(t.measures.update().where(t.measures.c.measure_id == measure_id).values(**values))
    else:
        conn.execute(t.measures.insert().values(measure_id=measure_id, **values))
    recompute_case(conn, values["case_id"])


def record_closure(conn, office: str, payload: dict, now: datetime, project_end_status: bool = False) -> None:
    """case.closed / case.corrected / case.project_end_status: the closure form is in; its reminders are resolved."""
    case_id = str(payload["case_id"])
    if _get_case(conn, case_id) is None:
        upsert_case(conn, office, payload, now, opened_on=payload["opened_on"])
    values = {"updated_at": now, "changed": True}
    if project_end_status:
        values["end_status_sent"] = True
    else:
        values["closed_on"] = payload["closed_on"]
        if _get_case(conn, case_id)["closed_on"] != payload["closed_on"]:
            values["survey_pending_on"] = payload["closed_on"]  # the survey invitation's period
    conn.execute(t.cases.update().where(t.cases.c.case_id == case_id).values(**values))
    rules = ("closure_overdue", "project_end") if project_end_status else CLOSING_RULES
    resolve_case_reminders(conn, case_id, rules, "closure_submitted", now)


def record_consent(conn, event_type: str, payload: dict) -> None:
    """Latest status per (case, purpose); an event older than what is stored changes nothing."""
    if payload.get("case_id") is None:
        return  # a person's own consent (focus groups): no case reminder depends on it
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
    _apply_consents(conn, case_id)


def _apply_consents(conn, case_id):
    statuses = dict(conn.execute(select(t.consents.c.purpose, t.consents.c.status)
                                 .where(t.consents.c.case_id == case_id)).all())
    conn.execute(t.cases.update().where(t.cases.c.case_id == case_id).values(
        research_consent=statuses.get("research_registration"), survey_consent=statuses.get("employer_survey"),
        interview_consent=statuses.get("interviews"), changed=True))


def recompute_case(conn, case_id: str) -> None:
    """Derive the dates the rules compare against from the stored contacts and measures (one case, aggregates).

    Every change to a case's facts marks it `changed`: the sweep re-checks the open reminders of marked cases only."""
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
    dates = [d for d in (case["opened_on"], last_contact, last_start) if d is not None]
    last_activity = max(dates)
    # Closure is due N days after the later of the last activity and the last measure's end; a measure without
    # an end date keeps the case running.
    closure_anchor = None if open_ended else max(d for d in (last_activity, last_end) if d is not None)
    mentor_anchor = None
    if case["mentor_relation"] != "none":
        mentor_anchor = last_mentor or case["opened_on"]
    values = dict(last_activity_on=last_activity, last_mentor_contact_on=last_mentor, closure_anchor_on=closure_anchor,
                  mentor_anchor_on=mentor_anchor, changed=True)
    # A moved period is pending until the sweep has its reminder (or finds it already there).
    if closure_anchor != case["closure_anchor_on"]:
        values["closure_pending_on"] = closure_anchor
    if mentor_anchor != case["mentor_anchor_on"]:
        values["mentor_pending_on"] = mentor_anchor
    conn.execute(t.cases.update().where(t.cases.c.case_id == case_id).values(**values))


def resolve_case_reminders(conn, case_id, rules, resolution, now, by=None):
    return conn.execute(t.reminders.update().where(
        t.reminders.c.case_id == case_id, t.reminders.c.rule.in_(rules), t.reminders.c.resolved_at.is_(None),
    ).values(resolved_at=now, resolution=resolution, resolved_by=by)).rowcount
