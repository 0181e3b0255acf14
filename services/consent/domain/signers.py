"""Who must sign a purpose in a case, and whose signature a withdrawal reaches."""
from __future__ import annotations

from dataclasses import dataclass

from shared.text import N_
from shared.vocab import codes, term

# The signer_role code (shared.vocab) of a consent that concerns a person: the employee signs for themself.
PERSON_SIGNER = "counsellor"
# The employer who is also the mentor (mentor_relation "manager") is one person with one signature.
EMPLOYER_MENTOR = frozenset({"mentor", "employer"})


def subject_key(case_id: str | None, subject_ref: str | None) -> str:
    return str(case_id) if case_id else f"person:{subject_ref}"


@dataclass(frozen=True)
class Slot:
    """One signature the purpose needs; `roles` are the signer roles that fill it."""

    key: str
    roles: frozenset


def required_slots(template: dict, case: dict | None) -> list[Slot]:
    """The signatures a purpose needs for this case.

    - No mentor in the case (mentor_relation "none"): nobody can sign as mentor, so no mentor signature is needed.
    - The employer is the mentor (mentor_relation "manager"): one person, one signature; a consent signed as mentor
      or as employer fills both.
    - An employer not yet known is still required: the purpose waits for the employer's signature.
    """
    roles = list(template["signer_roles"])
    if case is None:
        return [Slot(role, frozenset({role})) for role in roles]
    relation = case["mentor_relation"]
    slots = []
    if relation == "none":
        roles = [r for r in roles if r != "mentor"]
    if relation == "manager" and EMPLOYER_MENTOR.intersection(roles):
        merged = Slot("employer", EMPLOYER_MENTOR)
        for role in roles:
            if role in EMPLOYER_MENTOR:
                if merged not in slots:
                    slots.append(merged)
            else:
                slots.append(Slot(role, frozenset({role})))
        return slots
    return [Slot(role, frozenset({role})) for role in roles]


def slot_label(slot: Slot) -> str:
    """The signature's name: a message id for the employer-mentor, else the vocabulary's label in every language
    (a Term); shared.web.i18n.translate shows either in the reader's language."""
    if len(slot.roles) > 1:
        return N_("Arbeidsgiver som også er mentor")
    return term("signer_role", next(iter(slot.roles)))


def offered_signer_roles(case: dict | None) -> list[str]:
    """The signer roles a form for this case (None: a person) may be signed in; no mentor in the case, no mentor."""
    if case is None:
        return [PERSON_SIGNER]
    return [r for r in codes("signer_role") if not (r == "mentor" and case["mentor_relation"] == "none")]


def withdrawn_roles(case: dict | None, signer_role: str) -> set[str]:
    """The signer roles a withdrawal for `signer_role` reaches: withdrawing the employer-mentor's one signature
    withdraws it for both roles."""
    if case is not None and case["mentor_relation"] == "manager" and signer_role in EMPLOYER_MENTOR:
        return set(EMPLOYER_MENTOR)
    return {signer_role}


def parties_changed(before: dict | None, after: dict) -> bool:
    """A new case, or parties that change who must sign: every purpose of the case is evaluated again."""
    return before is None or any(before[k] != after[k] for k in ("mentor_relation", "has_employer"))
