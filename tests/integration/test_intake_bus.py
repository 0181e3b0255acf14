"""Intake's events through the real broker: relayed from the outbox, routed to consent, registry and notify queues,
with one closure and one correction per corrected case and nothing personal in any body."""
import json

import pika

from services.intake import tables
from services.intake.service import Actor, submit_closure
from services.intake.store import case
from services.intake.testing import enter_case
from tests.integration.test_intake_api import closure_body


def _bodies(bus_vhost, queue):
    connection = pika.BlockingConnection(pika.URLParameters(bus_vhost.admin_url))
    try:
        channel = connection.channel()
        bodies = []
        while True:
            method, _props, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return bodies
            bodies.append(body)
    finally:
        connection.close()


def test_case_events_reach_the_consumers_queues(bus_vhost, platform_factory, tmp_path):
    from shared.bus.relay import relay_pending
    platform = platform_factory("intake", tables.all_tables(), f"sqlite:///{tmp_path}/intake.db",
                                env=bus_vhost.env("intake"))
    result = enter_case(platform, "kristiansand", "kari-veileder", {
        "opened_on": "2026-06-01", "entry_point": "course_start", "industry": "retail", "initiator": "counsellor",
        "reasons": ["extra_follow_up"], "counsellor_knew_company": "no", "attachment_before": "none",
        "mentor_relation": "colleague", "candidate_name": "Buss Prøvesen",
        "contacts": [{"contact_date": "2026-06-02", "party": "mentor", "form": "phone", "minutes": 10,
                      "note": "Bussnotat"}],
        "closure": {"closed_on": "2026-09-01", "closure_reason": "measure_completed",
                    "attachment_after": "work_training", "attached_same_company": "yes",
                    "feedback_mentor": "satisfied", "feedback_counsellor": "satisfied"}}, seed=11)
    with platform.engine.begin() as conn:
        revision = case(conn, "kristiansand", result["case_id"])["revision"]
        submit_closure(conn, platform, Actor("kristiansand", "kari-veileder"), result["case_id"],
                       closure_body(forms_mentor=["phone"], attachment_after="temp_agency"), revision)
    assert relay_pending(platform) == 4  # opened, contact, closed, corrected

    registry = [json.loads(b) for b in _bodies(bus_vhost, "registry.ingest")]
    assert [e["type"] for e in registry] == ["case.closed", "case.corrected"]
    assert registry[1]["payload"]["supersedes_version"] == 1
    consent = [json.loads(b)["type"] for b in _bodies(bus_vhost, "consent.cases")]
    assert consent == ["case.opened", "case.closed", "case.corrected"]
    notify = _bodies(bus_vhost, "notify.schedule")
    assert len(notify) == 4
    for body in notify + [json.dumps(e).encode() for e in registry]:
        for secret in (result["national_id"], "Buss", "Prøvesen", "Bussnotat"):
            assert secret.encode() not in body
