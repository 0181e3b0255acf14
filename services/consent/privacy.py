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

from sqlalchemy import and_, select, true

from shared import privacy

from . import audit
from .tables import OWN as T

CANDIDATE = "candidate"
EXPORT_REASON = "Innsyn (personvernforordningen art. 15), forespørsel {}"


def _owned_case_ids(conn, office: str, case_ids) -> list[str]:
    c = T["cases"]
    wanted = [str(i) for i in case_ids]
    return [r[0] for r in conn.execute(select(c.c.case_id).where(c.c.case_id.in_(wanted), c.c.office == office)
                                       .order_by(c.c.opened_on, c.c.case_id))]


def access_export(conn, deps, principal, request_id, case_ids) -> dict:
    """The office's consents for these cases (the caller's transaction: audit entries commit with the export)."""
    office = principal.office
    now = deps.clock.now()
    r, d, doc = T["records"], T["decisions"], T["documents"]
    exported, counts = [], {"records": 0, "decisions": 0, "documents": 0, "withdrawals": 0, "status": 0,
                            "audit_entries": 0}
    for case_id in _owned_case_ids(conn, office, case_ids):
        records = []
        rows = conn.execute(select(r).where(r.c.case_id == case_id, r.c.office == office)
                            .order_by(r.c.signed_on, r.c.recorded_at)).mappings().all()
        for row in rows:
            own = row["signer_role"] == CANDIDATE
            item = {"id": row["id"], "signer_role": row["signer_role"], "signed_on": row["signed_on"],
                    "method": row["method"], "recorded_by": row["recorded_by"], "recorded_at": row["recorded_at"],
                    "signer_name": None, "signer_national_id": None}
            if own:
                item["signer_name"] = _open(deps, row, "signer_name")
                item["signer_national_id"] = _open(deps, row, "signer_national_id")
            item["decisions"] = [dict(x) for x in conn.execute(
                select(d.c.purpose, d.c.decision, d.c.template_version, d.c.expires_on, d.c.withdrawn_at)
                .where(d.c.record_id == row["id"]).order_by(d.c.purpose)).mappings()]
            item["documents"] = []
            for document in conn.execute(select(doc).where(doc.c.record_id == row["id"])).mappings():
                entry = {"id": document["id"], "content_type": document["content_type"],
                         "size_bytes": document["size_bytes"], "uploaded_at": document["uploaded_at"],
                         "content_base64": None}
                if own:
                    audit.append(conn, office, now, principal.subject, principal.role, "access_export",
                                 document["id"], row["id"], EXPORT_REASON.format(request_id))
                    entry["content_base64"] = base64.b64encode(
                        deps.cipher.decrypt(office, document["content"], record=document["id"],
                                            version=document["version"], field="document",
                                            consent=row["id"])).decode()
                item["documents"].append(entry)
            records.append(item)
        withdrawals = [dict(x) for x in conn.execute(
            select(T["withdrawals"]).where(T["withdrawals"].c.subject_key == case_id,
                                           T["withdrawals"].c.office == office)
            .order_by(T["withdrawals"].c.recorded_at)).mappings()]
        for withdrawal in withdrawals:
            withdrawal.pop("subject_key", None)
        status = [dict(x) for x in conn.execute(
            select(T["status"].c.purpose, T["status"].c.state, T["status"].c.expires_on, T["status"].c.changed_at)
            .where(T["status"].c.subject_key == case_id, T["status"].c.office == office)
            .order_by(T["status"].c.purpose)).mappings()]
        own_records = [x["id"] for x in records if x["signer_role"] == CANDIDATE]
        log = T["audit_log"]
        trail = [dict(x) for x in conn.execute(
            select(log.c.seq, log.c.at, log.c.actor, log.c.actor_role, log.c.action, log.c.document_id,
                   log.c.record_id, log.c.reason)
            .where(log.c.office == office, log.c.record_id.in_(own_records)).order_by(log.c.seq)).mappings()]
        exported.append({"case_id": case_id, "records": records, "withdrawals": withdrawals, "status": status,
                         "audit_trail": trail})
        counts["records"] += len(records)
        counts["decisions"] += sum(len(x["decisions"]) for x in records)
        counts["documents"] += sum(len(x["documents"]) for x in records)
        counts["withdrawals"] += len(withdrawals)
        counts["status"] += len(status)
        counts["audit_entries"] += len(trail)
    privacy.record(conn, T["privacy_log"], request_id=request_id, action="access_export", office=office,
                   actor=principal.subject, actor_role=principal.role, at=now, counts=counts,
                   case_count=len(exported))
    return {"cases": exported, "counts": counts}


def _open(deps, row, field):
    blob = row[field]
    if blob is None:
        return None
    return deps.cipher.decrypt(row["office"], blob, record=row["id"], version=row["version"],
                               field=field).decode("utf-8")


# ---------------------------------------------------------------- erasure
def _erasure_steps(conn, platform, office, case_ids):
    r, d = T["records"], T["decisions"]
    records = select(r.c.id).where(r.c.case_id.in_(case_ids), r.c.office == office)
    keyed = lambda table: and_(table.c.subject_key.in_(case_ids), table.c.office == office)  # noqa: E731
    return [
        ("documents", T["documents"], T["documents"].c.record_id.in_(records)),
        ("decisions", d, d.c.record_id.in_(records)),
        ("records", r, r.c.id.in_(records)),
        ("withdrawals", T["withdrawals"], keyed(T["withdrawals"])),
        ("status", T["status"], keyed(T["status"])),
        ("cases", T["cases"], and_(T["cases"].c.case_id.in_(case_ids), T["cases"].c.office == office)),
        ("outbox_events", platform.tables["outbox"],
         privacy.sent_events_about(conn, platform.tables["outbox"], office, case_ids)),
    ]


def on_case_erased(conn, envelope, platform):
    """Delete every consent of the erased cases in their office (another office's case with the same id: never)."""
    payload = envelope["payload"]
    office, request_id = envelope["office"], str(payload["request_id"])
    log = T["privacy_log"]
    if privacy.already_recorded(conn, log, request_id, "erasure"):
        return
    case_ids = [str(i) for i in payload["case_ids"]]
    counts = privacy.remove(conn, _erasure_steps(conn, platform, office, case_ids))
    privacy.record(conn, log, request_id=request_id, action="erasure", office=office, actor="service-consent",
                   actor_role="service", at=platform.clock.now(), counts=counts, case_count=counts["cases"])


def erasure_receipt(conn, office: str, request_id) -> dict | None:
    log = T["privacy_log"]
    row = conn.execute(select(log).where(log.c.request_id == str(request_id), log.c.action == "erasure",
                                         log.c.office == office)).mappings().first()
    if row is None:
        return None
    return {"request_id": row["request_id"], "at": row["at"], "case_count": row["case_count"],
            "deleted": row["counts"]}


# ---------------------------------------------------------------- retention
def retention_steps(platform):
    """Every consent (cases' and persons'), its documents, decisions, withdrawals and status, the cases, and the sent
    outbox rows. Templates stay (no person in them); the audit log stays (append-only, ids only)."""
    outbox = platform.tables["outbox"]
    return [("documents", T["documents"], true()), ("decisions", T["decisions"], true()),
            ("records", T["records"], true()), ("withdrawals", T["withdrawals"], true()),
            ("status", T["status"], true()), ("cases", T["cases"], true()),
            ("outbox_events", outbox, privacy.sent_events(outbox))]
