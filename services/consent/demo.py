"""Demo data: the templates, and signed consents for the demo cases this database knows.

Cases reach the consent database only through intake's case.opened events (run script: intake's `demo seed`,
the outbox relay, then consent's `bus consume`). The seed records consents for cases already known at seed time
and says how many; run it again after the consumer has caught up to cover cases that arrived later (a case that
already has consents is skipped, so the seed is repeatable).
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from . import domain
from .tables import OWN as T

# A minimal one-page PDF standing in for a scanned form (no real person).
DEMO_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
DEMO_SIGNERS = {"candidate": "Demo Kandidat", "mentor": "Demo Mentor", "employer": "Demo Arbeidsgiver AS",
                "counsellor": "Demo Veileder"}


def seed(platform) -> dict:
    from .cli import DEFAULT_TEMPLATES, load_template_file
    added = load_template_file(platform, DEFAULT_TEMPLATES, actor="demo-seed")["added"]
    deps = domain.deps_from_platform(platform)
    consents = 0
    with platform.engine.connect() as conn:
        cases = [dict(r) for r in conn.execute(select(T["cases"]).order_by(T["cases"].c.opened_on, T["cases"].c.case_id)).mappings()]
    for index, case in enumerate(cases):
        with platform.engine.begin() as conn:
            known = conn.execute(select(func.count()).select_from(T["records"])
                                 .where(T["records"].c.case_id == case["case_id"])).scalar()
            if known:
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
                domain.record_consent(conn, deps, case["office"], "demo-seed", {
                    "case_id": case["case_id"], "signer_role": role, "signer_name": DEMO_SIGNERS[role],
                    "signed_on": signed_on, "method": "scanned_paper", "decisions": decisions, "document": DEMO_PDF})
                consents += 1
    return {"templates": len(added), "consents": consents, "cases": len(cases)}
