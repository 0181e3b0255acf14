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

from sqlalchemy import true

from shared import privacy
from shared.auth import NotFound
from shared.kept_forms import erase_kept_forms, kept_forms_about
from shared.privacy import jsonable
from shared.replays import erase_replays
from shared.text import N_, Text
from shared.web.preconditions import require_version

from . import service, store
from .domain import Invalid, rules

KINDS = ("cases", "contacts", "measures", "closures", "history", "disclosures")
# Message ids (bokmål): the pages and API errors show them in the reader's language (shared.web.i18n.translate);
# the access document keeps the id, as every stored text.
NOBODY = N_("Fant ingen saker for dette fødselsnummeret ved kontoret.")
INVALID_NATIONAL_ID = N_("Fødselsnummeret er ikke gyldig.")
CONFIRM_ERASURE = N_("Bekreft at alt om personen skal slettes. Slettingen kan ikke angres.")
ERASURE_NOT_DONE = N_("Slettingen ble ikke utført: rett feltene som er merket.")
REGISTRY_TEXT = N_(
    "Forskningsregisteret er ikke med i innsynet. Det har bare pseudonymer: saken og personen er omkodet med "
    "prosjektets hemmelige nøkkel, som bare registerets mottak har. Verken kontoret eller registeret kan derfor "
    "finne personen der (personvernforordningen art. 11).")
REGISTRY_ON_ERASURE = {
    "erase": N_("Ved sletting slettes også det forskerne har fått om sakene (prosjektets regel: slett)."),
    "research_exemption": N_("Ved sletting beholdes det forskerne allerede har fått om sakene, etter "
                             "forskningsunntaket (personvernforordningen art. 17 nr. 3 bokstav d); nye data sendes "
                             "ikke."),
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
        raise Invalid(errors, INVALID_NATIONAL_ID)
    ids = store.case_ids_of_candidate(conn, office, store.candidate_hash(platform.keyring, office, fnr), for_update)
    if not ids:
        raise NobodyFound(NOBODY)
    return ids


def person_version(conn, office: str, case_ids) -> int:
    """The version of what the office holds about the person: the sum of their cases' revisions, so any change of
    any of their cases, or a new case, gives another. An erasure names the version its confirmation showed."""
    return store.revision_total(conn, office, case_ids)


# ---------------------------------------------------------------- access: intake's part
def export_cases(conn, platform, office: str, case_ids) -> list[dict]:
    """Everything intake holds of these cases, decrypted: deleted contacts and measures too (they are still held)."""
    exported = []
    for case_id in case_ids:
        case = store.case(conn, office, case_id)
        cid = case["id"]
        item = service.case_in_clear(platform.keyring, case,
                                     leave_out=("active_candidate", "candidate_hash", "employer_hash"))
        item["contacts"] = store.contacts_with_notes(conn, platform.keyring, office, cid, include_deleted=True)
        item["measures"] = store.measures(conn, cid, include_deleted=True)
        item["closures"] = store.closures(conn, cid)
        item["history"] = store.history(conn, platform.keyring, office, cid)
        item["disclosures"] = store.disclosures(conn, cid)
        # Answers about the case a session's end left unsent, kept for their sender (the closure draft is the case's
        # own `closure_draft` above).
        item["kept_forms"] = kept_forms_about(conn, platform.keyring, [cid])
        exported.append(item)
    return exported


def intake_counts(exported: list[dict]) -> dict:
    return {"cases": len(exported), **{kind: sum(len(case[kind]) for case in exported) for kind in KINDS[1:]}}


def withdrawal_policy(conn, platform) -> str:
    return (platform.directory.project_settings(conn) or {}).get("withdrawal_policy", "erase")


def access_request(platform, peers, principal, token: str, national_id) -> dict:
    """The whole access document for the person: intake's cases, consent's consents, notify's reminders.

    A part that cannot be fetched fails the request (503, PeerUnavailable): a partial document handed to the person
    would look complete. Every attempt is audited (outcome completed or failed:<service>)."""
    office = principal.office
    with platform.engine.connect() as conn:
        case_ids = person_case_ids(conn, platform, office, national_id)
        exported = export_cases(conn, platform, office, case_ids)
        version = person_version(conn, office, case_ids)
        policy = withdrawal_policy(conn, platform)
        office_row = platform.directory.office(conn, office) or {"code": office, "name": office}
    request_id = str(uuid.uuid4())
    counts = {f"intake.{k}": v for k, v in intake_counts(exported).items()}
    parts = {}
    try:
        for peer in ("consent", "notify"):
            parts[peer] = peers.access(peer, token, request_id, case_ids)
            counts.update({f"{peer}.{k}": v for k, v in parts[peer].get("counts", {}).items()})
    except Exception as error:
        _audit(platform, principal, request_id, "access_export", counts, len(case_ids),
               f"failed:{getattr(error, 'service', 'unknown')}")
        raise
    _audit(platform, principal, request_id, "access_export", counts, len(case_ids))
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
        "version": version,
    })


def _audit(platform, principal, request_id, action, counts, case_count, outcome="completed"):
    with platform.engine.begin() as conn:
        store.record_privacy_request(conn, request_id=request_id, action=action, office=principal.office,
                                     actor=principal.subject, actor_role=principal.role, at=platform.clock.now(),
                                     counts=counts, case_count=case_count, outcome=outcome)


# ---------------------------------------------------------------- erasure
def erase(conn, platform, principal, national_id, confirmed: bool, expected_version: int | None) -> dict:
    """Delete everything intake holds about the person in this office and tell the other services (outbox).

    `expected_version` is the `person_version` the confirmation showed: another one is a 409 (werkzeug Conflict),
    checked with the person's cases locked. None only for the command line, which finds and erases at once.
    Runs in the caller's transaction: the deletion, the kept answers of requests about the cases, the `case.erased`
    event and the audit row commit together."""
    errors = {}
    if confirmed is not True:
        errors["confirm"] = [CONFIRM_ERASURE]
    try:
        case_ids = person_case_ids(conn, platform, principal.office, national_id, for_update=True)
    except Invalid as error:
        raise Invalid({**error.errors, **errors}, ERASURE_NOT_DONE) from None
    if errors:
        raise Invalid(errors, ERASURE_NOT_DONE)
    if expected_version is not None:
        require_version(expected_version, person_version(conn, principal.office, case_ids), Text(N_("Personens saker")))
    request_id = str(uuid.uuid4())
    counts = privacy.remove(conn, store.erasure_steps(conn, platform, principal.office, case_ids))
    policy = withdrawal_policy(conn, platform)
    platform.emit(conn, "case.erased", principal.office,
                  {"request_id": request_id, "case_ids": case_ids, "data_policy": policy})
    erase_replays(conn, case_ids)
    erase_kept_forms(conn, case_ids)  # forms sent after a session ended, kept for their sender (shared.kept_forms)
    entry = store.record_privacy_request(conn, request_id=request_id, action="erasure", office=principal.office,
                                         actor=principal.subject, actor_role=principal.role, at=platform.clock.now(),
                                         counts=counts, case_count=len(case_ids))
    return {"request_id": request_id, "at": entry["at"], "case_ids": case_ids, "deleted": counts,
            "data_policy": policy, "registry": REGISTRY_ON_ERASURE[policy],
            "forwarded_to": ["consent", "notify", "registry"]}


def retention_steps(platform) -> list:
    """What retention removes: store.retention_steps, and every form kept for after a sign-in (shared.kept_forms)."""
    return store.retention_steps(platform) + [("kept_forms", platform.tables["kept_forms"], true())]


def erasure_status(platform, peers, principal, token: str, request_id) -> dict:
    """Intake's receipt of an erasure and where the other services are with it (their own audit rows)."""
    with platform.engine.connect() as conn:
        entry = store.erasure_entry(conn, principal.office, request_id)
        policy = withdrawal_policy(conn, platform)
    services = {}
    for peer in ("consent", "notify"):
        try:
            receipt = peers.erasure_receipt(peer, token, request_id)
        except Exception as error:  # the receipt is informative; the erasure itself is on its way regardless
            services[peer] = {"state": "unknown", "detail": str(getattr(error, "message", "utilgjengelig"))}
            continue
        services[peer] = {"state": "waiting"} if receipt is None else {"state": "completed", **receipt}
    return jsonable({"request_id": entry["request_id"], "at": entry["at"], "actor": entry["actor"],
                     "case_count": entry["case_count"], "deleted": entry["counts"], "services": services,
                     "registry": {"data_policy": policy, "text": REGISTRY_ON_ERASURE[policy]}})


def recent_requests(conn, office: str | None = None, limit: int = 20) -> list[dict]:
    return store.privacy_requests(conn, office, limit)
