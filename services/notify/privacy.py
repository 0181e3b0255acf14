"""Notify's part of the privacy operations (shared/privacy.py): what it holds of a person's cases for an access
request, their erasure when intake's `case.erased` arrives, and retention.

Notify holds no person: a case is a UUID with dates and codes, reminders and notifications name the case and the
counsellor (a directory id), mail rows hold no text. So its part of an access document is case references only.
An erased case is remembered by id (`notify_erased_cases`): a consent event about it still in flight from the
consent service (another producer, so no ordering with intake's events) then changes nothing.
"""
from __future__ import annotations

from sqlalchemy import and_, func, insert, or_, select, true

from shared import privacy

from . import schedule
from . import tables as t
from .mailer import RULE_TEXT

# The schedule's own bookkeeping (what the sweep has yet to do): not information about the case.
_BOOKKEEPING_SUFFIXES = ("_pending_after",)


def _owned(conn, office, case_ids) -> list[dict]:
    rows = conn.execute(select(t.cases).where(t.cases.c.case_id.in_([str(i) for i in case_ids]),
                                              t.cases.c.office == office).order_by(t.cases.c.opened_on)).mappings()
    return [dict(r) for r in rows]


def access_export(conn, principal, request_id, case_ids, now) -> dict:
    """The schedule and reminders of the office's cases among `case_ids` (others are left out)."""
    exported = []
    counts = {"schedule": 0, "contacts": 0, "measures": 0, "consents": 0, "reminders": 0, "notifications": 0}
    for case in _owned(conn, principal.office, case_ids):
        case_id = case["case_id"]
        facts = {k: v for k, v in case.items() if not k.endswith(_BOOKKEEPING_SUFFIXES)}
        contacts = [dict(r) for r in conn.execute(select(t.contacts).where(t.contacts.c.case_id == case_id)
                                                  .order_by(t.contacts.c.contact_date)).mappings()]
        measures = [dict(r) for r in conn.execute(select(t.measures).where(t.measures.c.case_id == case_id)
                                                  .order_by(t.measures.c.from_date)).mappings()]
        consents = [dict(r) for r in conn.execute(select(t.consents).where(t.consents.c.case_id == case_id)
                                                  .order_by(t.consents.c.purpose)).mappings()]
        reminders = []
        for reminder in conn.execute(select(t.reminders).where(t.reminders.c.case_id == case_id)
                                     .order_by(t.reminders.c.due_on, t.reminders.c.id)).mappings():
            item = {k: v for k, v in reminder.items() if k not in ("case_id", "office")}
            item["title"] = RULE_TEXT[reminder["rule"]][0] if reminder["rule"] in RULE_TEXT else reminder["rule"]
            item["notifications"] = conn.execute(select(func.count()).select_from(t.notifications).where(
                t.notifications.c.reminder_id == reminder["id"])).scalar()
            reminders.append(item)
        exported.append({"case_id": case_id, "schedule": facts, "contacts": contacts, "measures": measures,
                         "consents": consents, "reminders": reminders})
        counts["schedule"] += 1
        counts["contacts"] += len(contacts)
        counts["measures"] += len(measures)
        counts["consents"] += len(consents)
        counts["reminders"] += len(reminders)
        counts["notifications"] += sum(r["notifications"] for r in reminders)
    privacy.record(conn, t.privacy_log, request_id=request_id, action="access_export", office=principal.office,
                   actor=principal.subject, actor_role=principal.role, at=now, counts=counts,
                   case_count=len(exported))
    return {"cases": exported, "counts": counts}


def _steps(reminder_filter, case_filter, office_case_filter):
    """Deletion steps for the cases a filter selects: mails and notifications of their reminders first."""
    reminder_ids = select(t.reminders.c.id).where(reminder_filter)
    notification_ids = select(t.notifications.c.id).where(t.notifications.c.reminder_id.in_(reminder_ids))
    return [
        ("mails", t.mails, or_(t.mails.c.reminder_id.in_(reminder_ids), t.mails.c.notification_id.in_(notification_ids))),
        ("notifications", t.notifications, t.notifications.c.reminder_id.in_(reminder_ids)),
        ("reminders", t.reminders, reminder_filter),
        ("due", t.due, case_filter(t.due)),  # what the sweep had yet to remind for
        ("contacts", t.contacts, case_filter(t.contacts)),
        ("measures", t.measures, case_filter(t.measures)),
        ("consents", t.consents, case_filter(t.consents)),
        ("cases", t.cases, office_case_filter),
    ]


def on_case_erased(conn, envelope, platform):
    """Delete what notify holds of the erased cases of the event's office, and remember their ids.

    A case id notify knows under another office is never touched. Ids notify has not seen opened (events about them
    that arrived early) are deleted and remembered the same way."""
    schedule.hold_off_sweep(conn)  # a sweep running now must not remind for what this deletes
    payload = envelope["payload"]
    office, request_id = envelope["office"], str(payload["request_id"])
    if privacy.already_recorded(conn, t.privacy_log, request_id, "erasure"):
        return
    wanted = [str(i) for i in payload["case_ids"]]
    foreign = {r[0] for r in conn.execute(select(t.cases.c.case_id).where(t.cases.c.case_id.in_(wanted),
                                                                         t.cases.c.office != office))}
    ids = [i for i in wanted if i not in foreign]
    counts = privacy.remove(conn, _steps(
        and_(t.reminders.c.case_id.in_(ids), t.reminders.c.office == office),
        lambda table: table.c.case_id.in_(ids),
        and_(t.cases.c.case_id.in_(ids), t.cases.c.office == office)))
    now = platform.clock.now()
    known = {r[0] for r in conn.execute(select(t.erased_cases.c.case_id).where(t.erased_cases.c.case_id.in_(ids)))}
    new = [{"case_id": i, "request_id": request_id, "erased_at": now} for i in ids if i not in known]
    if new:
        conn.execute(insert(t.erased_cases), new)
    privacy.record(conn, t.privacy_log, request_id=request_id, action="erasure", office=office,
                   actor="service-notify", actor_role="service", at=now, counts=counts, case_count=counts["cases"])


def is_erased(conn, case_id) -> bool:
    if case_id is None:
        return False
    return conn.execute(select(t.erased_cases.c.case_id).where(t.erased_cases.c.case_id == str(case_id))
                        ).first() is not None


def erasure_receipt(conn, office: str, request_id) -> dict | None:
    row = conn.execute(select(t.privacy_log).where(t.privacy_log.c.request_id == str(request_id),
                                                   t.privacy_log.c.action == "erasure",
                                                   t.privacy_log.c.office == office)).mappings().first()
    if row is None:
        return None
    return {"request_id": row["request_id"], "at": row["at"], "case_count": row["case_count"],
            "deleted": row["counts"]}


def retention_steps(platform):
    """Every case's schedule, reminders, their notifications and mails, and the erased-case ids; the users' mail
    preferences and the digests (counts, no case) stay."""
    return _steps(true(), lambda table: true(), true()) + [("erased_cases", t.erased_cases, true())]
