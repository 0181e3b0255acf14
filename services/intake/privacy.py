"""Access requests (innsyn, GDPR art. 15), erasure (sletting, art. 17) and retention for the office's cases.

The local contact names the person by national ID; it becomes the office's keyed hash at once and is never stored,
logged or sent on. The person's cases are this office's cases with that hash; another office's cases are under
another office's hash key, so they are never found (the same answer as nobody at all).

- Access: intake's own part (every case with its log, measures, closures, history and disclosures, decrypted),
  plus consent's and notify's parts for the same case ids, asked on the local contact's own token
  (`peers.Peers`): each service checks the role and the office itself and audits what it handed out.
- Erasure: intake deletes the cases and every row under them, plus its sent outbox rows that still carry their
  keyed hashes, and writes `case.erased` (case ids, request id, the project's withdrawal policy) to the outbox in
  the same transaction; consent, notify and the registry act on it from their queues.
- Retention: `privacy retention` removes every case once the project's retention date has passed.
Each leaves a row in intake_privacy_log (shared.privacy): who, when, office, rows per kind.
"""
from __future__ import annotations

import uuid

from sqlalchemy import and_, select, true

from shared import privacy
from shared.auth import NotFound
from shared.privacy import jsonable

from . import cases as case_service
from .domain import Invalid, rules
from .tables import OWN as T

KINDS = ("cases", "contacts", "measures", "closures", "history", "disclosures")
NOBODY = "Fant ingen saker for dette fødselsnummeret ved kontoret."
REGISTRY_TEXT = (
    "Forskningsregisteret er ikke med i innsynet. Det har bare pseudonymer: saken og personen er omkodet med "
    "prosjektets hemmelige nøkkel, som bare registerets mottak har. Verken kontoret eller registeret kan derfor "
    "finne personen der (personvernforordningen art. 11).")
REGISTRY_ON_ERASURE = {
    "erase": "Ved sletting slettes også det forskerne har fått om sakene (prosjektets regel: slett).",
    "research_exemption": "Ved sletting beholdes det forskerne allerede har fått om sakene, etter forskningsunntaket "
                          "(personvernforordningen art. 17 nr. 3 bokstav d); nye data sendes ikke.",
}


class NobodyFound(NotFound):
    """No case of this office for the national ID (also: the person is another office's)."""


# ---------------------------------------------------------------- finding the person
def person_case_ids(conn, platform, office: str, national_id, for_update: bool = False) -> list[str]:
    """The office's case ids for a national ID, through the keyed hash; Invalid (field national_id) if malformed,
    NobodyFound if none."""
    errors = {}
    fnr = rules.national_id(errors, "national_id", national_id)
    if errors:
        raise Invalid(errors, "Fødselsnummeret er ikke gyldig.")
    c = T["cases"]
    query = (select(c.c.id).where(and_(c.c.office == office, c.c.candidate_hash == platform.keyring.keyed_hash(office, fnr)))
             .order_by(c.c.opened_on, c.c.id))
    ids = [row[0] for row in conn.execute(query.with_for_update() if for_update else query)]
    if not ids:
        raise NobodyFound(NOBODY)
    return ids


# ---------------------------------------------------------------- access: intake's part
def export_cases(conn, platform, office: str, case_ids) -> list[dict]:
    """Everything intake holds of these cases, decrypted: deleted contacts and measures too (they are still held)."""
    exported = []
    for case_id in case_ids:
        case = case_service.owned_case(conn, office, case_id)
        cid = case["id"]
        dec, dec_json = case_service._dec, case_service._dec_json
        item = {k: v for k, v in case.items() if k not in (
            "candidate_fnr", "candidate_name", "employer", "mentor_name", "plan", "active_candidate",
            "candidate_hash", "employer_hash")}
        item.update(
            national_id=dec(platform, office, case["candidate_fnr"], case=cid, field="candidate_fnr"),
            candidate_name=dec(platform, office, case["candidate_name"], case=cid, field="candidate_name"),
            mentor_name=dec(platform, office, case["mentor_name"], case=cid, field="mentor_name"),
            employer=dec_json(platform, office, case["employer"], case=cid, field="employer"),
            plan=dec_json(platform, office, case["plan"], case=cid, field="plan"))
        contacts = case_service._contacts(conn, cid, include_deleted=True)
        for contact in contacts:
            contact["note"] = dec(platform, office, contact["note"], contact=contact["id"], field="note")
        item["contacts"] = contacts
        item["measures"] = case_service._measures(conn, cid, include_deleted=True)
        item["closures"] = [dict(r) for r in conn.execute(
            select(T["closures"]).where(T["closures"].c.case_id == cid).order_by(T["closures"].c.version)).mappings()]
        item["history"] = case_service.history_snapshots(conn, platform, office, cid)
        item["disclosures"] = [dict(r) for r in conn.execute(
            select(T["disclosures"]).where(T["disclosures"].c.case_id == cid).order_by(T["disclosures"].c.at)
        ).mappings()]
        exported.append(item)
    return exported


def intake_counts(exported: list[dict]) -> dict:
    return {"cases": len(exported), **{kind: sum(len(case[kind]) for case in exported) for kind in KINDS[1:]}}


def withdrawal_policy(conn, platform) -> str:
    settings = conn.execute(select(platform.tables["project"].c.settings)).scalar() or {}
    return settings.get("withdrawal_policy", "erase")


def access_request(platform, peers, principal, token: str, national_id) -> dict:
    """The whole access document for the person: intake's cases, consent's consents, notify's reminders.

    A part that cannot be fetched fails the request (503, PeerUnavailable): a partial document handed to the person
    would look complete. Every attempt is audited (outcome completed or failed:<service>)."""
    office = principal.office
    with platform.engine.connect() as conn:
        case_ids = person_case_ids(conn, platform, office, national_id)
        exported = export_cases(conn, platform, office, case_ids)
        policy = withdrawal_policy(conn, platform)
    request_id = str(uuid.uuid4())
    counts = {f"intake.{k}": v for k, v in intake_counts(exported).items()}
    parts = {}
    try:
        for service in ("consent", "notify"):
            parts[service] = peers.access(service, token, request_id, case_ids)
            counts.update({f"{service}.{k}": v for k, v in parts[service].get("counts", {}).items()})
    except Exception as error:
        _audit(platform, principal, request_id, "access_export", counts, len(case_ids),
               f"failed:{getattr(error, 'service', 'unknown')}")
        raise
    _audit(platform, principal, request_id, "access_export", counts, len(case_ids))
    office_row = platform.directory.office(office) or {"code": office, "name": office}
    return jsonable({
        "request_id": request_id, "generated_at": platform.clock.now(), "generated_by": principal.subject,
        "office": {"code": office_row["code"], "name": office_row["name"]},
        "legal_basis": "Personvernforordningen art. 15 (rett til innsyn)",
        "cases": exported,
        "consents": parts["consent"]["cases"],
        "notifications": parts["notify"]["cases"],
        "registry": {"included": False, "explanation": REGISTRY_TEXT, "data_policy": policy,
                     "on_erasure": REGISTRY_ON_ERASURE[policy]},
        "counts": counts,
    })


def _audit(platform, principal, request_id, action, counts, case_count, outcome="completed"):
    with platform.engine.begin() as conn:
        privacy.record(conn, T["privacy_log"], request_id=request_id, action=action, office=principal.office,
                       actor=principal.subject, actor_role=principal.role, at=platform.clock.now(), counts=counts,
                       case_count=case_count, outcome=outcome)


# ---------------------------------------------------------------- erasure
def _case_steps(conn, platform, office, case_ids):
    ids = [str(i) for i in case_ids]
    under = lambda table: and_(table.c.case_id.in_(ids), table.c.office == office)  # noqa: E731
    return [
        ("contacts", T["contacts"], under(T["contacts"])),
        ("measures", T["measures"], under(T["measures"])),
        ("closures", T["closures"], under(T["closures"])),
        ("history", T["history"], under(T["history"])),
        ("disclosures", T["disclosures"], under(T["disclosures"])),
        ("cases", T["cases"], and_(T["cases"].c.id.in_(ids), T["cases"].c.office == office)),
        ("outbox_events", platform.tables["outbox"],
         privacy.sent_events_about(conn, platform.tables["outbox"], office, ids)),
    ]


def erase(conn, platform, principal, national_id, confirmed: bool) -> dict:
    """Delete everything intake holds about the person in this office and tell the other services (outbox).

    Runs in the caller's transaction: the deletion, the `case.erased` event and the audit row commit together."""
    errors = {}
    if confirmed is not True:
        errors["confirm"] = ["Bekreft at alt om personen skal slettes. Slettingen kan ikke angres."]
    try:
        case_ids = person_case_ids(conn, platform, principal.office, national_id, for_update=True)
    except Invalid as error:
        raise Invalid({**error.errors, **errors}, "Slettingen ble ikke utført: rett feltene som er merket.") from None
    if errors:
        raise Invalid(errors, "Slettingen ble ikke utført: rett feltene som er merket.")
    request_id = str(uuid.uuid4())
    counts = privacy.remove(conn, _case_steps(conn, platform, principal.office, case_ids))
    policy = withdrawal_policy(conn, platform)
    platform.emit(conn, "case.erased", principal.office,
                  {"request_id": request_id, "case_ids": case_ids, "data_policy": policy})
    entry = privacy.record(conn, T["privacy_log"], request_id=request_id, action="erasure", office=principal.office,
                           actor=principal.subject, actor_role=principal.role, at=platform.clock.now(),
                           counts=counts, case_count=len(case_ids))
    return {"request_id": request_id, "at": entry["at"], "case_ids": case_ids, "deleted": counts,
            "data_policy": policy, "registry": REGISTRY_ON_ERASURE[policy],
            "forwarded_to": ["consent", "notify", "registry"]}


def erasure_entry(conn, office: str, request_id) -> dict:
    """The office's own erasure audit row; another office's (or no) request is NotFound."""
    log = T["privacy_log"]
    row = conn.execute(select(log).where(log.c.request_id == str(request_id), log.c.action == "erasure",
                                         log.c.office == office)).mappings().first()
    if row is None:
        raise NotFound("not found")
    return dict(row)


def erasure_status(platform, peers, principal, token: str, request_id) -> dict:
    """Intake's receipt of an erasure and where the other services are with it (their own audit rows)."""
    with platform.engine.connect() as conn:
        entry = erasure_entry(conn, principal.office, request_id)
        policy = withdrawal_policy(conn, platform)
    services = {}
    for service in ("consent", "notify"):
        try:
            receipt = peers.erasure_receipt(service, token, request_id)
        except Exception as error:  # the receipt is informative; the erasure itself is on its way regardless
            services[service] = {"state": "unknown", "detail": str(getattr(error, "message", "utilgjengelig"))}
            continue
        services[service] = {"state": "waiting"} if receipt is None else {"state": "completed", **receipt}
    return jsonable({"request_id": entry["request_id"], "at": entry["at"], "actor": entry["actor"],
                     "case_count": entry["case_count"], "deleted": entry["counts"], "services": services,
                     "registry": {"data_policy": policy, "text": REGISTRY_ON_ERASURE[policy]}})


def recent_requests(conn, office: str | None = None, limit: int = 20) -> list[dict]:
    return privacy.log_entries(conn, T["privacy_log"], office, limit)


# ---------------------------------------------------------------- retention
def retention_steps(platform):
    """Every case of every office and every row under it, and the sent outbox rows (they carry keyed hashes)."""
    outbox = platform.tables["outbox"]
    return [("contacts", T["contacts"], true()), ("measures", T["measures"], true()),
            ("closures", T["closures"], true()), ("history", T["history"], true()),
            ("disclosures", T["disclosures"], true()), ("cases", T["cases"], true()),
            ("outbox_events", outbox, privacy.sent_events(outbox))]
