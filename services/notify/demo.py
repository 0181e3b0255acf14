"""Demo data for the local run: a handful of cases in the demo offices, old enough that reminders fall due."""
from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

from shared.bus.consumer import apply_envelope
from shared.bus.envelope import make_envelope

from .handlers import consumer_spec

NAMESPACE = uuid.UUID("6d1f9a4e-2d7b-4c1e-9a55-0f2a6c1b9e01")


def _hash(text):
    return hashlib.sha256(text.encode()).hexdigest()


def demo_events(today):
    """Case events as intake would publish them (ids stable, so seeding twice changes nothing)."""
    events = []
    specs = [("kristiansand", "kari-veileder", 75, "colleague"), ("kristiansand", "ola-veileder", 40, "manager"),
             ("kristiansand", "kari-veileder", 20, "none"), ("bergen-vest", "per-veileder", 90, "colleague"),
             ("malvik", "siri-veileder", 10, "external")]
    for number, (office, counsellor, age, relation) in enumerate(specs):
        case_id = uuid.uuid5(NAMESPACE, f"case-{number}")
        opened = today - timedelta(days=age)
        events.append(("case.opened", office, {
            "case_id": case_id, "candidate_hash": _hash(f"cand-{number}"), "opened_on": opened,
            "entry_point": "course_start", "counsellor_id": counsellor,
            "mentor_id": None if relation == "none" else uuid.uuid5(NAMESPACE, f"mentor-{number}"),
            "mentor_relation": relation, "employer_hash": _hash(f"emp-{number}")}))
        events.append(("case.contact_logged", office, {
            "case_id": case_id, "contact_id": uuid.uuid5(NAMESPACE, f"contact-{number}"), "revision": 1,
            "contact_date": opened + timedelta(days=2), "party": "candidate", "form": "phone", "minutes": 20}))
    return events


def seed(platform):
    """The demo events through the consumer's own inbox + handler transaction; returns how many were new."""
    today = platform.clock.now().date()
    spec = consumer_spec()
    applied = 0
    for number, (event_type, office, payload) in enumerate(demo_events(today)):
        envelope = make_envelope(event_type, office, payload, producer="intake")
        envelope["message_id"] = str(uuid.uuid5(NAMESPACE, f"event-{number}"))
        applied += apply_envelope(platform, spec, envelope) == "processed"
    return applied
