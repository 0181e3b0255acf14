"""May a purpose be used for a case (or person) today, and which event a change of that answer sends."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

from shared.vocab import codes

from .signers import Slot

# When not every signature holds, the overall state is the first of these that any signature is in.
STATE_PRECEDENCE = ("withdrawn", "refused", "expired", "missing")


@dataclass
class SlotState:
    slot: Slot
    state: str  # granted, refused, withdrawn, expired, missing
    decision: dict | None = None


@dataclass
class Evaluation:
    purpose: str
    state: str  # granted, missing, refused, withdrawn, expired, not_applicable, no_template
    slots: list = field(default_factory=list)
    expires_on: date | None = None
    template_version: int | None = None

    @property
    def granted(self):
        return self.state == "granted"

    @property
    def missing_roles(self):
        return [s.slot.key for s in self.slots if s.state != "granted"]


def evaluate(purpose: str, template: dict | None, slots: list[Slot], decisions: list[dict], today: date) -> Evaluation:
    """Granted only if every required signature holds: each slot's latest decision (by signing date, then
    recording time) is granted, not withdrawn and not expired. `slots` are the template's required slots for the
    case, `decisions` every decision of the subject for the purpose with its record's signer role and dates."""
    if template is None:
        return Evaluation(purpose, "no_template")
    if not slots:
        return Evaluation(purpose, "not_applicable", template_version=template["version"])
    states = []
    for slot in slots:
        mine = [row for row in decisions if row["signer_role"] in slot.roles]
        if not mine:
            states.append(SlotState(slot, "missing"))
            continue
        latest = max(mine, key=lambda row: (row["signed_on"], row["recorded_at"], row["id"]))
        if latest["withdrawn_at"] is not None:
            state = "withdrawn"
        elif latest["decision"] == "refused":
            state = "refused"
        elif latest["expires_on"] < today:
            state = "expired"
        else:
            state = "granted"
        states.append(SlotState(slot, state, latest))
    if all(s.state == "granted" for s in states):
        return Evaluation(purpose, "granted", states, expires_on=min(s.decision["expires_on"] for s in states),
                          template_version=max(s.decision["template_version"] for s in states))
    overall = next(p for p in STATE_PRECEDENCE if any(s.state == p for s in states))
    return Evaluation(purpose, overall, states, template_version=template["version"])


def in_vocabulary_order(purposes) -> list[str]:
    order = {code: i for i, code in enumerate(codes("consent_purpose"))}
    return sorted(purposes, key=lambda p: order.get(p, 99))


def unchanged(old_state: str | None, old_expires: date | None, evaluation: Evaluation) -> bool:
    return old_state == evaluation.state and old_expires == evaluation.expires_on


def status_event(old_state: str | None, old_expires: date | None, evaluation: Evaluation) -> str | None:
    """The event a change of status means, or None.

    granted (newly, or with a new expiry) -> consent.granted; granted -> withdrawn or refused -> consent.withdrawn;
    granted -> expired -> consent.expired; granted -> anything else (a new party who has not signed) ->
    consent.incomplete.
    """
    if evaluation.granted and (old_state != "granted" or old_expires != evaluation.expires_on):
        return "consent.granted"
    if old_state == "granted" and not evaluation.granted:
        if evaluation.state in ("withdrawn", "refused"):
            return "consent.withdrawn"
        if evaluation.state == "expired":
            return "consent.expired"
        return "consent.incomplete"
    return None


def status_payload(case_id, subject_ref, purpose, template_version, effective_at) -> dict:
    """The fields every consent status event carries (contract: shared.events.consent; no names)."""
    return {"case_id": uuid.UUID(case_id) if case_id else None, "subject_ref": subject_ref, "purpose": purpose,
            "template_version": template_version or 1, "effective_at": effective_at}


def past_expiry(expires_on: date | None, today: date) -> bool:
    return expires_on is not None and expires_on < today


def expiring_due(expires_on: date | None, notified_for: date | None, today: date, days: int) -> bool:
    """Within `days` of the expiry date, and not yet announced for this expiry date (once per date)."""
    return expires_on is not None and expires_on - timedelta(days=days) <= today and notified_for != expires_on
