"""Cases from intake's events, status events, expiry on the settable clock, person consents, and the real broker."""
from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, date, datetime

import pika
import pytest

from services.consent import handlers, service, store
from services.consent.app import create_app
from services.consent.domain import ConsentInvalid
from shared.auth import NotFound
from shared.bus.consumer import Reject, apply_envelope, drain
from shared.bus.envelope import encode, make_envelope, routing_key
from shared.bus.relay import relay_pending
from tests.integration.test_consent_helpers import (
    HASH,
    bearer,
    consent_platform,
    count,
    make_client,
    open_case,
    outbox_types,
    record,
)

SPEC = handlers.consumer_spec()


def _parties(case_id, relation="colleague", employer=True):
    return {"case_id": case_id, "counsellor_id": "kari-veileder",
            "mentor_id": str(uuid.uuid4()) if relation != "none" else None, "mentor_relation": relation,
            "employer_hash": HASH if employer else None}


def _opened(case_id, office="kristiansand", relation="colleague"):
    return make_envelope("case.opened", office, {**_parties(case_id, relation), "candidate_hash": HASH,
                                                  "opened_on": date(2026, 10, 1), "entry_point": "course_start"},
                         producer="intake")


def _outbox_payloads(platform, event_type):
    t = platform.tables["outbox"]
    with platform.engine.connect() as conn:
        rows = conn.execute(t.select().where(t.c.event_type == event_type).order_by(t.c.id)).mappings()
        return [json.loads(r["body"])["payload"] for r in rows]


def test_cases_come_from_intakes_events_once(consent):
    case_id = str(uuid.uuid4())
    envelope = _opened(case_id)
    assert apply_envelope(consent, SPEC, envelope) == "processed"
    assert apply_envelope(consent, SPEC, envelope) == "duplicate"
    with consent.engine.connect() as conn:
        case = store.get_case(conn, case_id)
    assert case["office"] == "kristiansand" and case["mentor_relation"] == "colleague" and case["has_employer"]
    closed = json.loads(json.dumps(envelope))
    assert count(consent, "cases") == 1
    with pytest.raises(Reject):  # a case's parties cannot change before the case is known
        apply_envelope(consent, SPEC, make_envelope("case.parties_changed", "kristiansand",
                                                    _parties(str(uuid.uuid4())), producer="intake"))
    with pytest.raises(Reject):  # nor can another office claim it
        apply_envelope(consent, SPEC, make_envelope("case.parties_changed", "bergen-vest", _parties(case_id),
                                                    producer="intake"))
    assert closed["office"] == "kristiansand"


def test_employer_who_is_the_mentor_signs_once_for_both(consent):
    case_id = str(uuid.uuid4())
    apply_envelope(consent, SPEC, _opened(case_id, relation="manager"))
    record(consent, case_id, "candidate", {"interviews": "granted"})
    assert outbox_types(consent) == []
    record(consent, case_id, "employer", {"interviews": "granted"}, name="Leder og mentor")
    granted = _outbox_payloads(consent, "consent.granted")
    assert [(p["case_id"], p["purpose"], p["expires_on"]) for p in granted] == [(case_id, "interviews", "2027-06-30")]


def test_a_new_mentor_makes_a_granted_purpose_incomplete_until_they_sign(consent):
    case_id = str(uuid.uuid4())
    apply_envelope(consent, SPEC, _opened(case_id, relation="none"))
    record(consent, case_id, "candidate", {"interviews": "granted"})
    record(consent, case_id, "employer", {"interviews": "granted"}, name="Arbeidsgiver AS")
    client = make_client(consent)
    url = f"/api/v1/status?case_id={case_id}&purpose=interviews"
    assert client.get(url, headers=bearer(consent, "kari-veileder")).json["granted"] is True
    apply_envelope(consent, SPEC, make_envelope("case.parties_changed", "kristiansand", _parties(case_id, "colleague"),
                                                producer="intake"))
    assert _outbox_payloads(consent, "consent.incomplete")[0]["missing_roles"] == ["mentor"]
    answer = client.get(url, headers=bearer(consent, "kari-veileder")).json
    assert answer["granted"] is False and answer["missing_roles"] == ["mentor"]
    record(consent, case_id, "mentor", {"interviews": "granted"}, name="Mentor Kollega")
    assert client.get(url, headers=bearer(consent, "kari-veileder")).json["granted"] is True
    assert outbox_types(consent) == ["consent.granted", "consent.incomplete", "consent.granted"]


def test_closing_a_case_keeps_its_consents(consent):
    case_id = open_case(consent)
    record(consent, case_id, "candidate", {"research_registration": "granted"})
    with consent.engine.begin() as conn:
        service.upsert_case(conn, service.deps_from_platform(consent), "kristiansand",
                            {**_parties(case_id), "case_id": uuid.UUID(case_id)}, closed_on=date(2026, 11, 25))
        case = store.get_case(conn, case_id)
        assert case["closed_on"] == date(2026, 11, 25)
        assert service.evaluate(conn, case, case_id, "research_registration", date(2026, 11, 26)).granted


def test_expiring_once_then_expired_on_the_settable_clock(consent):
    case_id = open_case(consent)
    record(consent, case_id, "candidate", {"research_registration": "granted"})
    app = create_app(platform=consent)
    sweep = lambda: app.test_cli_runner().invoke(args=["expiry", "sweep"]).output  # noqa: E731
    assert sweep() == "expiry sweep: 0 expired, 0 expiring\n"
    consent.clock.set(datetime(2027, 6, 1, 9, 0, tzinfo=UTC))  # 29 days before 2027-06-30
    assert sweep() == "expiry sweep: 0 expired, 1 expiring\n"
    assert sweep() == "expiry sweep: 0 expired, 0 expiring\n"  # once
    assert _outbox_payloads(consent, "consent.expiring")[0]["expires_on"] == "2027-06-30"
    consent.clock.set(datetime(2027, 7, 1, 9, 0, tzinfo=UTC))
    client = make_client(consent)
    status = client.get(f"/api/v1/status?case_id={case_id}&purpose=research_registration",
                        headers=bearer(consent, "kari-veileder")).json
    assert status["granted"] is False and status["state"] == "expired"  # no before the sweep runs, too
    assert sweep() == "expiry sweep: 1 expired, 0 expiring\n"
    assert outbox_types(consent) == ["consent.granted", "consent.expiring", "consent.expired"]


def test_focus_group_consent_concerns_a_person_of_the_office(consent):
    made = record(consent, None, "counsellor", {"focus_groups": "granted"}, name="Ola Hansen",
                  subject_ref="ola-veileder")
    assert made["status"] == {"focus_groups": "granted"}
    assert _outbox_payloads(consent, "consent.granted")[0]["subject_ref"] == "ola-veileder"
    with pytest.raises(NotFound):  # a person of another office is not this office's to record
        record(consent, None, "counsellor", {"focus_groups": "granted"}, subject_ref="per-veileder")
    with pytest.raises(ConsentInvalid) as refused:
        record(consent, None, "candidate", {"focus_groups": "granted"}, subject_ref="ola-veileder")
    assert "skal ikke signere" in " ".join(refused.value.errors["signer_role"])
    client = make_client(consent)
    url = "/api/v1/status?subject_ref=ola-veileder&purpose=focus_groups"
    assert client.get(url, headers=bearer(consent, "lise-kontakt")).json["granted"] is True
    assert client.get(url, headers=bearer(consent, "per-veileder")).status_code == 404
    seen = client.get("/api/v1/persons/ola-veileder", headers=bearer(consent, "kari-veileder")).headers["ETag"]
    response = client.post("/api/v1/withdrawals", headers={**bearer(consent, "kari-veileder"), "If-Match": seen},
                           json={"subject_ref": "ola-veileder", "purposes": ["focus_groups"]})
    assert response.status_code == 201 and response.json["status"] == {"focus_groups": "withdrawn"}
    assert client.get(url, headers=bearer(consent, "lise-kontakt")).json["granted"] is False
    assert _outbox_payloads(consent, "consent.withdrawn")[0]["subject_ref"] == "ola-veileder"


def test_withdrawal_reaches_the_real_broker(platform_factory, pg_url, bus_vhost):
    platform = consent_platform(platform_factory, pg_url, env=bus_vhost.env("consent"))
    case_id = open_case(platform)
    record(platform, case_id, "candidate", {"research_registration": "granted"})
    response = make_client(platform).post("/api/v1/withdrawals", headers=bearer(platform, "lise-kontakt"),
                                           json={"case_id": case_id, "expected_version": 1})
    assert response.status_code == 201
    assert relay_pending(platform) == 2  # granted, then withdrawn
    connection = pika.BlockingConnection(pika.URLParameters(bus_vhost.admin_url))
    try:
        channel = connection.channel()
        received = []
        while True:
            method, properties, body = channel.basic_get("registry.ingest", auto_ack=True)
            if method is None:
                break
            received.append((method.routing_key, json.loads(body)))
    finally:
        connection.close()
    assert [key for key, _ in received] == ["office.kristiansand.consent.granted",
                                            "office.kristiansand.consent.withdrawn"]
    withdrawn = received[1][1]
    assert withdrawn["payload"]["case_id"] == case_id and withdrawn["payload"]["data_policy"] == "erase"
    assert "Ada" not in json.dumps(withdrawn)


def test_demo_seed_records_consents_for_known_cases_and_is_repeatable(consent):
    first, second = open_case(consent, mentor_relation="colleague"), open_case(consent, mentor_relation="manager")
    runner = create_app(platform=consent).test_cli_runner()
    output = runner.invoke(args=["demo", "seed"]).output
    assert output == "demo: 0 template versions added, 3 consents recorded for 2 known cases\n"
    assert runner.invoke(args=["demo", "seed"]).output.startswith("demo: 0 template versions added, 0 consents")
    client = make_client(consent)
    answer = client.get(f"/api/v1/status?case_id={first}&purpose=research_registration",
                        headers=bearer(consent, "kari-veileder")).json
    assert answer["granted"] is True
    assert count(consent, "records") == 3 and count(consent, "records", case_id=second) >= 1


def test_last_two_signatures_at_the_same_moment_grant_exactly_once(platform_factory, pg_url):
    platform = consent_platform(platform_factory, pg_url)
    for _ in range(5):
        case_id = open_case(platform, mentor_relation="none")  # interviews: candidate and employer
        barrier, errors = threading.Barrier(2), []

        def sign(role, barrier=barrier, case_id=case_id, errors=errors):
            try:
                barrier.wait(5)
                record(platform, case_id, role, {"interviews": "granted"}, name=f"Signer {role}")
            except Exception as error:  # pragma: no cover - reported below
                errors.append(error)
        threads = [threading.Thread(target=sign, args=(role,)) for role in ("candidate", "employer")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert errors == []
        granted = [p for p in _outbox_payloads(platform, "consent.granted") if p["case_id"] == case_id]
        assert len(granted) == 1


def test_case_events_arrive_through_the_real_broker(platform_factory, pg_url, bus_vhost):
    platform = consent_platform(platform_factory, pg_url, env=bus_vhost.env("consent"))
    case_id = str(uuid.uuid4())
    envelopes = [_opened(case_id, relation="manager"),
                 make_envelope("case.parties_changed", "kristiansand", _parties(case_id, "colleague"),
                               producer="intake")]
    connection = pika.BlockingConnection(pika.URLParameters(bus_vhost.url("intake")))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for envelope in envelopes + envelopes[:1]:  # the first delivered twice: one effect
            channel.basic_publish("hybrid.events", routing_key(envelope["office"], envelope["type"]), encode(envelope),
                                  pika.BasicProperties(delivery_mode=2, message_id=envelope["message_id"],
                                                       user_id=bus_vhost.user("intake")), mandatory=True)
    finally:
        connection.close()
    stats = drain(platform, handlers.consumer_spec(), idle_seconds=0.5)
    assert (stats.processed, stats.duplicate) == (2, 1)
    with platform.engine.connect() as conn:
        case = store.get_case(conn, case_id)
    assert case["office"] == "kristiansand" and case["mentor_relation"] == "colleague"
