"""Consent's part of the privacy operations (shared/privacy.py): the consents of a person's cases for an access
request, their erasure when intake's `case.erased` arrives, and retention.

Intake finds the person (consent holds no keyed hash of the candidate) and asks for the case ids, on the local
contact's own token: only that office's cases answer, others are left out as if unknown. What is handed out:
- the candidate's own consent forms in full: name and national ID decrypted, decisions, the scanned form (base64);
  every scan opened this way is appended to the hash-chained audit log (action `access_export`), as any opening;
- the other signers' forms in the case (mentor, employer: their own data) by role, date and decisions only;
- withdrawals, the per-purpose status and the audit trail of the candidate's documents.
The audit log itself is append-only (the database refuses DELETE): its entries name documents by id and stay after
an erasure as the record of who opened what.
"""
from __future__ import annotations

import base64
from datetime import date

from sqlalchemy import true

from shared import privacy
from shared.auth import NotFound
from shared.bus.store import erase_rejections
from shared.kept_forms import erase_kept_forms
from shared.replays import erase_replays

from . import service, store

CANDIDATE = "candidate"  # signer_role code: the person the case is about
EXPORT_REASON = "Innsyn (personvernforordningen art. 15), forespørsel {}"


def _owned_cases(conn, office: str, case_ids) -> list[dict]:
    """The office's cases among these ids, oldest first; another office's or an unknown id is left out."""
    found = []
    for case_id in dict.fromkeys(str(i) for i in case_ids):
        try:
            found.append(store.owned_case(conn, case_id, office))
        except NotFound:
            continue
    return sorted(found, key=lambda case: (case["opened_on"] or date.min, case["case_id"]))


def access_export(conn, deps, principal, request_id, case_ids) -> dict:
    """The office's consents for these cases (the caller's transaction: audit entries commit with the export)."""
    office = principal.office
    now = deps.clock.now()
    exported, counts = [], {"records": 0, "decisions": 0, "documents": 0, "withdrawals": 0, "status": 0,
                            "audit_entries": 0}
    for case in _owned_cases(conn, office, case_ids):
        case_id = case["case_id"]
        records = store.case_records(conn, deps.cipher, case_id, office, opened_role=CANDIDATE)
        for item in records:
            own = item["signer_role"] == CANDIDATE
            for document in item["documents"]:
                content = document.pop("content")
                document["content_base64"] = base64.b64encode(content).decode() if own else None
                if own:  # every scan handed out is an opening, audited as any other
                    service.append_audit(conn, office, now, principal.subject, principal.role, "access_export",
                                         document["id"], item["id"], EXPORT_REASON.format(request_id))
        withdrawals = store.withdrawals_of(conn, case_id, office)
        status = store.statuses_of(conn, case_id, office)
        own_records = [x["id"] for x in records if x["signer_role"] == CANDIDATE]
        trail = store.audit_trail(conn, office, own_records)
        exported.append({"case_id": case_id, "records": records, "withdrawals": withdrawals, "status": status,
                         "audit_trail": trail})
        counts["records"] += len(records)
        counts["decisions"] += sum(len(x["decisions"]) for x in records)
        counts["documents"] += sum(len(x["documents"]) for x in records)
        counts["withdrawals"] += len(withdrawals)
        counts["status"] += len(status)
        counts["audit_entries"] += len(trail)
    privacy.record(conn, store.PRIVACY_LOG, request_id=request_id, action="access_export", office=office,
                   actor=principal.subject, actor_role=principal.role, at=now, counts=counts,
                   case_count=len(exported))
    return {"cases": exported, "counts": counts}


# ---------------------------------------------------------------- erasure
def on_case_erased(conn, envelope, platform):
    """Delete every consent of the erased cases in their office (another office's case with the same id: never)."""
    payload = envelope["payload"]
    office, request_id = envelope["office"], str(payload["request_id"])
    if privacy.already_recorded(conn, store.PRIVACY_LOG, request_id, "erasure"):
        return
    case_ids = [str(i) for i in payload["case_ids"]]
    counts = privacy.remove(conn, store.erasure_steps(conn, platform.tables["outbox"], office, case_ids))
    erase_replays(conn, case_ids)  # the kept answers of requests about these cases (they may name the signers)
    erase_kept_forms(conn, case_ids)  # forms sent after a session ended, kept for their sender (shared.kept_forms)
    erase_rejections(conn, case_ids)  # the consumer's reasons for dead-lettering events that name these cases
    privacy.record(conn, store.PRIVACY_LOG, request_id=request_id, action="erasure", office=office,
                   actor="service-consent", actor_role="service", at=platform.clock.now(), counts=counts,
                   case_count=counts["cases"])


def erasure_receipt(conn, office: str, request_id) -> dict | None:
    return privacy.erasure_receipt(conn, store.PRIVACY_LOG, office, request_id)


# ---------------------------------------------------------------- retention
def retention_steps(platform):
    """What retention removes (store.retention_steps): every consent and case, every kept answer of a request and
    every reason the consumer kept that names a case; templates and the audit log stay."""
    rejections = platform.tables["rejections"]
    return store.retention_steps(platform.tables["outbox"], platform.tables["replays"]) + [
        ("rejected_messages", rejections, rejections.c.case_id.is_not(None)),
        ("kept_forms", platform.tables["kept_forms"], true())]


retention_cli = privacy.retention_cli(retention_steps, store.PRIVACY_LOG)
