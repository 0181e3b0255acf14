"""Notify's part of the privacy operations (shared/privacy.py): what it holds of a person's cases for an access
request, their erasure when intake's `case.erased` arrives, and retention.

Notify holds no person: a case is a UUID with dates and codes, reminders and notifications name the case and the
counsellor (a directory id), mail rows hold no text. So its part of an access document is case references only.
An erased case is remembered by id (`notify_erased_cases`): a consent event about it still in flight from the
consent service (another producer, so no ordering with intake's events) then changes nothing.
"""
from __future__ import annotations

from sqlalchemy import true

from shared import privacy
from shared.auth import SERVICE_ROLE
from shared.bus.store import erase_rejections
from shared.kept_forms import erase_kept_forms
from shared.replays import erase_replays

from . import store
from . import tables as t
from .domain.wording import RULE_TEXT, rule_title

# The schedule's own bookkeeping (what the sweep has yet to do): not information about the case.
_BOOKKEEPING_SUFFIXES = ("_pending_after",)
SERVICE_ACTOR = "service-notify"  # who erases, in the privacy log


def access_export(conn, principal, request_id, case_ids, now) -> dict:
    """The schedule and reminders of the office's cases among `case_ids` (others are left out)."""
    exported = []
    counts = {"schedule": 0, "contacts": 0, "measures": 0, "consents": 0, "reminders": 0, "notifications": 0}
    for case in store.cases_of_office(conn, principal.office, case_ids):
        case_id = case["case_id"]
        facts = {k: v for k, v in case.items() if not k.endswith(_BOOKKEEPING_SUFFIXES)}
        contacts = store.contacts_of(conn, case_id)
        measures = store.measures_of(conn, case_id)
        consents = store.consents_of(conn, case_id)
        reminders = []
        for reminder in store.reminders_of(conn, case_id):
            item = {k: v for k, v in reminder.items() if k not in ("case_id", "office")}
            item["title"] = rule_title(reminder["rule"]) if reminder["rule"] in RULE_TEXT else reminder["rule"]
            item["notifications"] = store.notification_count(conn, reminder["id"])
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


def on_case_erased(conn, envelope, platform):
    """Delete what notify holds of the erased cases of the event's office, and remember their ids (a bus handler).

    A case id notify knows under another office is never touched. Ids notify has not seen opened (events about them
    that arrived early) are deleted and remembered the same way."""
    store.hold_off_sweep(conn)  # a sweep running now must not remind for what this deletes
    payload = envelope["payload"]
    office, request_id = envelope["office"], str(payload["request_id"])
    if privacy.already_recorded(conn, t.privacy_log, request_id, "erasure"):
        return
    wanted = [str(i) for i in payload["case_ids"]]
    foreign = store.foreign_case_ids(conn, wanted, office)
    ids = [i for i in wanted if i not in foreign]
    counts = privacy.remove(conn, store.erasure_steps(ids, office))
    erase_replays(conn, ids)  # the kept answers of requests about these cases
    erase_kept_forms(conn, ids)  # forms sent after a session ended, kept for their sender (shared.kept_forms)
    erase_rejections(conn, ids)  # the consumer's reasons for dead-lettering events that name these cases
    now = platform.clock.now()
    store.remember_erased(conn, ids, request_id, now)
    privacy.record(conn, t.privacy_log, request_id=request_id, action="erasure", office=office,
                   actor=SERVICE_ACTOR, actor_role=SERVICE_ROLE, at=now, counts=counts, case_count=counts["cases"])


def is_erased(conn, case_id) -> bool:
    return store.is_erased(conn, case_id)


def erasure_receipt(conn, office: str, request_id) -> dict | None:
    return privacy.erasure_receipt(conn, t.privacy_log, office, request_id)


def retention_steps(platform):
    """Every case's schedule, reminders, their notifications and mails, the erased-case ids, the kept answers of
    requests (shared.replays) and the consumer's reasons that name a case; the users' mail preferences and the
    digests (counts, no case) stay."""
    rejections = platform.tables["rejections"]
    return store.retention_steps(platform.tables["replays"]) + [
        ("rejected_messages", rejections, rejections.c.case_id.is_not(None)),
        ("kept_forms", platform.tables["kept_forms"], true())]
