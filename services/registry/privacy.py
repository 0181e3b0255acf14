"""The registry's part of privacy: erasure at a person's request (intake's case.erased) and retention.

Not part of an office's access request: everything here is keyed by pseudonyms made with the project's secret,
which only the ingest holds, so nobody can find a person here (GDPR art. 11; see the README).
"""
from __future__ import annotations

from sqlalchemy import true

from . import service, store


def erase_cases(conn, platform, envelope) -> str:
    """intake's case.erased: the office erased the cases at the person's request. For the registry that is a
    withdrawal of the research consent, with the policy the event carries (the project's withdrawal_policy): the
    same erasure or mark, change feed entry and bar, and nothing waits for consent any longer."""
    if service.covered_office(conn, platform, envelope) is None:
        return "refused"  # a guest office's cases never reached the registry
    payload = envelope["payload"]
    pseudonymiser = service.ingest_context(platform, conn).pseudonymiser
    policy = payload["data_policy"]
    cases = [pseudonymiser.pseudonym("case", str(case_id)) for case_id in payload["case_ids"]]
    held = store.held_counts(conn, cases)
    for case in cases:
        service.withdraw(conn, platform, envelope, case, policy, envelope["occurred_at"])
    counts = {"waiting": held["waiting"]}
    if policy == "erase":
        counts.update(closures=held["closures"], versions=held["versions"])
    else:
        counts["marked"] = held["closures"]
    store.record_privacy(conn, request_id=payload["request_id"], action="erasure", office=envelope["office"],
                         actor="service-registry", actor_role="service", at=platform.clock.now(), counts=counts,
                         case_count=len(cases), outcome=policy)
    return "erased" if policy == "erase" else "marked"


def retention_steps(platform):
    """Past the project's retention date the research data goes too: every pseudonymised closure, its history,
    what waits, the consent states (bars) and the change feed, and every form kept for after a sign-in
    (shared.kept_forms; a researcher's or admin's page form). The log (codes only) stays."""
    return store.retention_steps() + [("kept_forms", platform.tables["kept_forms"], true())]
