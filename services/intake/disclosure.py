"""The one flow of a contact detail out of the office: a case's employer contact, for the employer-survey invitation.

Only notify asks (service token with scope employer-contact:read), and only after it has seen consent.granted for
`employer_survey` for the case: the consent check lives in notify, which holds the consent state; intake holds the
contact. Every contact handed out leaves a row in intake_disclosures in the same transaction: who asked, when,
which case.
"""
from __future__ import annotations

import json
import uuid

from sqlalchemy import select

from shared.auth import NotFound
from shared.crypto import decrypt_text

from .domain import Conflict
from .tables import OWN as T

PURPOSE = "employer_survey"


def employer_contact(conn, platform, actor_subject: str, case_id: str) -> dict:
    """Decrypt the employer contact of any office's case with that office's key; 404 unknown, 409 none recorded."""
    try:
        uuid.UUID(str(case_id))
    except ValueError:
        raise NotFound("not found") from None
    cases = T["cases"]
    row = conn.execute(select(cases.c.id, cases.c.office, cases.c.employer).where(cases.c.id == str(case_id))
                       ).mappings().first()
    if row is None:
        raise NotFound("not found")
    text = decrypt_text(platform.keyring, row["office"], row["employer"], case=row["id"], field="employer")
    employer = json.loads(text) if text else None
    if not employer or not employer.get("contact_email") or not employer.get("contact_name"):
        raise Conflict("Saken har ingen registrert kontaktperson hos arbeidsgiveren.")
    conn.execute(T["disclosures"].insert().values(
        id=str(uuid.uuid4()), case_id=row["id"], office=row["office"], at=platform.clock.now(),
        actor=actor_subject, what="employer_contact", purpose=PURPOSE))
    return {"organisation": employer.get("name") or employer.get("orgnr"), "contact_name": employer["contact_name"],
            "email": employer["contact_email"], "phone": employer.get("contact_phone") or None}
