"""Demo data: the templates, and signed consents for the demo cases this database knows.

Cases reach the consent database only through intake's case.opened events (run script: intake's `demo seed`,
the outbox relay, then consent's `bus consume`). The seed records consents for cases already known at seed time
and says how many; run it again after the consumer has caught up to cover cases that arrived later (a case that
already has consents is skipped, so the seed is repeatable).
"""
from __future__ import annotations

from datetime import timedelta

from . import service, store
from .domain.signers import PERSON_SIGNER

# A minimal one-page PDF standing in for a scanned form (no real person).
DEMO_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
DEMO_SIGNERS = {"candidate": "Demo Kandidat", "mentor": "Demo Mentor", "employer": "Demo Bedrift AS",
                PERSON_SIGNER: "Demo Veileder"}


def seed(platform) -> dict:
    added = service.load_template_file(platform, service.DEFAULT_TEMPLATES, actor="demo-seed")["added"]
    deps = service.deps_from_platform(platform)
    consents = 0
    with platform.engine.connect() as conn:
        cases = store.all_cases(conn)
    for index, case in enumerate(cases):
        with platform.engine.begin() as conn:
            if store.has_records(conn, case["case_id"]):
                continue
            signed_on = max(case["opened_on"] or deps.clock.today(), deps.clock.today() - timedelta(days=30))
            signed_on = min(signed_on, deps.clock.today())
            # Every other case: the candidate grants registration and interviews; the rest waits for signatures.
            plan = [("candidate", {"research_registration": "granted", "interviews": "granted",
                                   "observation": "refused"})]
            if index % 2 == 0 and case["mentor_relation"] != "none":
                plan.append(("mentor" if case["mentor_relation"] != "manager" else "employer",
                             {"interviews": "granted"}))
            for role, decisions in plan:
                service.record_consent(conn, deps, case["office"], "demo-seed", {
                    "case_id": case["case_id"], "signer_role": role, "signer_name": DEMO_SIGNERS[role],
                    "signed_on": signed_on, "method": "scanned_paper", "decisions": decisions, "document": DEMO_PDF})
                consents += 1
    return {"templates": len(added), "consents": consents, "cases": len(cases)}
