"""Consent's requests are safe to repeat (issue #14): a withdrawal carries the version of the consents it is based
on, kept answers go with the case, and an access export is never kept."""
from __future__ import annotations

import threading
import uuid

from services.consent import handlers, privacy
from services.consent.app import create_app
from shared import privacy as shared_privacy
from shared.bus.consumer import apply_envelope
from shared.bus.envelope import make_envelope
from tests.integration.test_consent_helpers import (
    PDF,
    bearer,
    count,
    make_client,
    multipart,
    open_case,
    outbox_types,
    record,
)

WITHDRAW_INTERVIEWS = {"purposes": ["interviews"]}


def _etag(client, platform, url, user="kari-veileder"):
    response = client.get(url, headers=bearer(platform, user))
    assert response.status_code == 200, response.json
    return response.headers["ETag"]


def _withdraw(client, platform, case_id, headers=None, **body):
    return client.post("/api/v1/withdrawals", headers={**bearer(platform, "kari-veileder"), **(headers or {})},
                       json={"case_id": case_id, **WITHDRAW_INTERVIEWS, **body})


def test_a_withdrawal_needs_the_version_its_caller_saw_and_a_repeat_withdraws_nothing(consent):
    client = make_client(consent)
    case_id = open_case(consent)
    record(consent, case_id, "candidate", {"interviews": "granted", "research_registration": "granted"})
    status_url = f"/api/v1/status?case_id={case_id}&purpose=interviews"
    assert _etag(client, consent, status_url) == _etag(client, consent, f"/api/v1/cases/{case_id}") == '"v1"'

    missing = _withdraw(client, consent, case_id)
    assert missing.status_code == 428 and "If-Match" in missing.json["message"]
    assert _withdraw(client, consent, case_id, {"If-Match": '"v0"'}).status_code == 409
    assert count(consent, "withdrawals") == 0

    record(consent, case_id, "mentor", {"interviews": "granted"}, name="Mona Mentor")  # a new form: a new version
    stale = _withdraw(client, consent, case_id, {"If-Match": '"v1"'})
    assert stale.status_code == 409 and "du så versjon 1, nå er den versjon 2" in stale.json["message"]

    done = _withdraw(client, consent, case_id, expected_version=2)
    assert done.status_code == 201, done.json
    repeated = _withdraw(client, consent, case_id, expected_version=2)
    assert repeated.status_code == 409
    assert count(consent, "withdrawals") == 1 and outbox_types(consent).count("consent.withdrawn") == 0
    assert _etag(client, consent, status_url) == '"v3"'  # two forms and one withdrawal
    # interviews was never granted (the employer has not signed): a withdrawal that reaches a granted purpose sends
    # one event, and its repeat none.
    everything = _withdraw(client, consent, case_id, {"If-Match": '"v3"'}, purposes=[])
    assert everything.status_code == 201 and everything.json["purposes"] == ["research_registration"]
    assert _withdraw(client, consent, case_id, {"If-Match": '"v3"'}, purposes=[]).status_code == 409
    assert count(consent, "withdrawals") == 2 and outbox_types(consent).count("consent.withdrawn") == 1


def test_concurrent_withdrawals_of_the_same_version_make_one(consent):
    app = create_app(platform=consent)
    case_id = open_case(consent)
    record(consent, case_id, "candidate", {"research_registration": "granted"})
    barrier = threading.Barrier(4)
    statuses = []

    def withdraw():
        client = app.test_client()
        barrier.wait()
        statuses.append(client.post("/api/v1/withdrawals", headers={**bearer(consent, "kari-veileder"),
                                                                     "If-Match": '"v1"'},
                                    json={"case_id": case_id}).status_code)

    threads = [threading.Thread(target=withdraw) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 409, 409, 409]
    assert count(consent, "withdrawals") == 1 and outbox_types(consent) == ["consent.granted", "consent.withdrawn"]


def test_a_withdrawal_sent_again_with_its_idempotency_key_gets_the_first_answer(consent):
    client = make_client(consent)
    case_id = open_case(consent)
    record(consent, case_id, "candidate", {"research_registration": "granted"})
    headers = {"If-Match": '"v1"', "Idempotency-Key": str(uuid.uuid4())}
    first = _withdraw(client, consent, case_id, headers, purposes=[])
    again = _withdraw(client, consent, case_id, headers, purposes=[])
    assert first.status_code == again.status_code == 201 and again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true" and count(consent, "withdrawals") == 1


def test_openapi_says_what_a_withdrawal_needs(consent):
    spec = make_client(consent).get("/api/openapi.json").json
    withdrawal = spec["paths"]["/api/v1/withdrawals"]["post"]
    assert {"201", "409", "428"} <= set(withdrawal["responses"])
    assert any(p.get("name") == "If-Match" for p in withdrawal["parameters"])
    assert "expected_version" in spec["components"]["schemas"]["WithdrawalIn"]["properties"]
    for path in ("/api/v1/status", "/api/v1/cases/{case_id}", "/api/v1/persons/{subject_ref}"):
        assert "ETag" in spec["paths"][path]["get"]["responses"]["200"]["headers"], path


def test_erasure_takes_the_kept_answers_about_the_case_with_it(consent):
    client = make_client(consent)
    erased, kept = open_case(consent), open_case(consent)
    for case_id in (erased, kept):
        response = client.post("/api/v1/consents", headers={**bearer(consent, "kari-veileder"),
                                                            "Idempotency-Key": str(uuid.uuid4())},
                               **multipart({"case_id": case_id, "signer_role": "candidate",
                                            "signer_name": "Ada Kandidat", "signed_on": "2026-11-20",
                                            "decision_research_registration": "granted"}, document=PDF))
        assert response.status_code == 201, response.json
    assert count(consent, "replays", case_id=erased) == count(consent, "replays", case_id=kept) == 1
    envelope = make_envelope("case.erased", "kristiansand", {"request_id": uuid.uuid4(), "case_ids": [erased],
                                                             "data_policy": "erase"}, producer="intake")
    assert apply_envelope(consent, handlers.consumer_spec(), envelope) == "processed"
    assert count(consent, "replays", case_id=erased) == 0 and count(consent, "replays", case_id=kept) == 1


def test_retention_removes_every_kept_answer(consent):
    client = make_client(consent)
    case_id = open_case(consent)
    record(consent, case_id, "candidate", {"research_registration": "granted"})
    response = _withdraw(client, consent, case_id, {"If-Match": '"v1"', "Idempotency-Key": "k1"}, purposes=[])
    assert response.status_code == 201 and count(consent, "replays") == 1
    with consent.engine.begin() as conn:
        removed = shared_privacy.remove(conn, privacy.retention_steps(consent))
    assert removed["replays"] == 1 and count(consent, "replays") == 0


def test_an_access_export_is_never_kept_for_replay(consent):
    client = make_client(consent)
    case_id = open_case(consent)
    record(consent, case_id, "candidate", {"research_registration": "granted"})
    for _ in range(2):
        response = client.post("/api/v1/privacy/access", headers={**bearer(consent, "lise-kontakt"),
                                                                  "Idempotency-Key": "innsyn-1"},
                               json={"request_id": str(uuid.uuid4()), "case_ids": [case_id]})
        assert response.status_code == 200 and "Idempotent-Replayed" not in response.headers
    assert count(consent, "replays") == 0
    operation = client.get("/api/openapi.json").json["paths"]["/api/v1/privacy/access"]["post"]
    assert "IdempotencyKey" not in str(operation.get("parameters", []))
