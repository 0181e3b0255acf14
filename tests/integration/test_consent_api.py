"""The consent API on the real databases: record, refuse bad uploads, status, withdrawal and its event, access."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from services.consent import service, store
from services.consent.app import create_app
from shared import limits
from shared.config import ConfigError
from tests.integration.test_consent_helpers import (
    PDF,
    PNG,
    bearer,
    consent_platform,
    count,
    deps,
    make_client,
    multipart,
    open_case,
    outbox_types,
    record,
    upload_form,
)


def _status(client, platform, case_id, purpose, user="kari-veileder"):
    response = client.get(f"/api/v1/status?case_id={case_id}&purpose={purpose}", headers=bearer(platform, user))
    assert response.status_code == 200, response.json
    return response.json


def seen_by(client, platform, case_id, user):
    """The caller's headers with the version of the case's consents it has just seen (If-Match: the ETag)."""
    etag = client.get(f"/api/v1/cases/{case_id}", headers=bearer(platform, user)).headers["ETag"]
    return {**bearer(platform, user), "If-Match": etag}


def test_record_through_the_api_and_status_answers(consent):
    client = make_client(consent)
    case_id = open_case(consent, mentor_relation="none")
    assert _status(client, consent, case_id, "research_registration")["granted"] is False
    response = client.post("/api/v1/consents", headers=bearer(consent, "kari-veileder"),
                           data=upload_form(case_id, {"research_registration": "granted", "observation": "refused"}),
                           content_type="multipart/form-data")
    assert response.status_code == 201, response.json
    assert response.json["status"] == {"observation": "refused", "research_registration": "granted"}
    status = _status(client, consent, case_id, "research_registration")
    assert status["granted"] is True and status["expires_on"] == "2027-06-30"
    assert outbox_types(consent) == ["consent.granted"]
    interviews = _status(client, consent, case_id, "interviews")  # no mentor: candidate and employer must sign
    assert interviews["granted"] is False and interviews["missing_roles"] == ["candidate", "employer"]


BAD_UPLOADS = [
    ("empty", b"", "samtykke.pdf", "tom"),
    ("wrong type", b"GIF89a" + b"\x00" * 100, "samtykke.pdf", "Bare PDF, JPEG og PNG"),
    ("ELF renamed to pdf", b"\x7fELF\x02\x01\x01" + b"\x00" * 100, "samtykke.pdf", "program"),
    ("Windows exe renamed to pdf", b"MZ\x90\x00" + b"\x00" * 100, "samtykke.pdf", "program"),
    ("too large", b"%PDF-1.7\n" + b"x" * 5000, "samtykke.pdf", "for stor (5 kB). Største tillatte størrelse er 4 kB"),
]


@pytest.mark.parametrize("name,content,filename,expected", BAD_UPLOADS, ids=[b[0] for b in BAD_UPLOADS])
def test_bad_upload_is_refused_with_a_clear_message_and_nothing_is_stored(platform_factory, db_url, name, content,
                                                                          filename, expected):
    platform = consent_platform(platform_factory, db_url, env={"CONSENT_MAX_UPLOAD_BYTES": "4096"})
    client = make_client(platform)
    case_id = open_case(platform)
    response = client.post("/api/v1/consents", headers=bearer(platform, "kari-veileder"),
                           data=upload_form(case_id, {"research_registration": "granted"}, document=content,
                                            filename=filename), content_type="multipart/form-data")
    assert response.status_code == 422, response.json
    assert expected in response.json["errors"]["document"][0]
    assert [count(platform, t) for t in ("records", "documents", "decisions", "status", "outbox")] == [0, 0, 0, 0, 0]


def test_a_request_over_the_transport_limit_gets_a_norwegian_413(platform_factory, db_url):
    platform = consent_platform(platform_factory, db_url, env={"CONSENT_MAX_UPLOAD_BYTES": "4096"})
    client = make_client(platform)
    open_case(platform)
    body = (b"--b\r\nContent-Disposition: form-data; name=\"document\"; filename=\"s.pdf\"\r\n\r\n%PDF-"
            + b"x" * (2 * 1024 * 1024) + b"\r\n--b--\r\n")
    response = client.post("/api/v1/consents", headers=bearer(platform, "kari-veileder"), data=body,
                           content_type="multipart/form-data; boundary=b")
    assert response.status_code == 413
    assert response.json["message"] == "Filen er for stor. Største tillatte størrelse er 4 kB."
    assert count(platform, "records") == 0


def test_start_up_refuses_an_upload_limit_above_what_the_proxies_let_through(platform_factory, db_url):
    """The proxies cut every body at shared.limits.BODY_MAX_BYTES: a larger document limit could never be reached."""
    platform = consent_platform(platform_factory, db_url,
                                env={"CONSENT_MAX_UPLOAD_BYTES": str(limits.UPLOAD_MAX_BYTES + 1)})
    with pytest.raises(ConfigError, match="CONSENT_MAX_UPLOAD_BYTES"):
        create_app(platform=platform)
    at_the_limit = consent_platform(platform_factory, db_url,
                                    env={"CONSENT_MAX_UPLOAD_BYTES": str(limits.UPLOAD_MAX_BYTES)})
    assert create_app(platform=at_the_limit).config["MAX_CONTENT_LENGTH"] == limits.BODY_MAX_BYTES


def _consent_fields(case_id, **fields):
    return {"case_id": case_id, "signer_role": "candidate", "signer_name": "Ada Kandidat", "signed_on": "2026-11-20",
            "decision_research_registration": "granted", **fields}


@pytest.mark.parametrize("name", ["x" * 201, "x" * 1_000_000, "ø" * 40_000],
                         ids=["one character over", "1 MB", "over the field limit, cut inside a character"])
def test_a_too_long_field_is_refused_naming_that_field_and_its_limit_never_the_document(consent, name):
    client = make_client(consent)
    case_id = open_case(consent)
    response = client.post("/api/v1/consents", headers=bearer(consent, "kari-veileder"),
                           **multipart(_consent_fields(case_id, signer_name=name), document=PDF))
    assert response.status_code == 422, response.json
    assert response.json["errors"] == {"signer_name": ["Navnet kan være høyst 200 tegn."]}
    assert count(consent, "records") == 0 and count(consent, "documents") == 0


def test_a_scan_of_any_bytes_within_the_limit_is_taken_whole(consent):
    # Line breaks and boundary-like bytes fall anywhere across the parser's reads in a real scan.
    scan = b"%PDF-1.7\n" + (bytes(range(256)) + b"\r\n--\r\n") * 4000
    client = make_client(consent)
    case_id = open_case(consent)
    response = client.post("/api/v1/consents", headers=bearer(consent, "kari-veileder"),
                           **multipart(_consent_fields(case_id), document=scan))
    assert response.status_code == 201, response.json
    opened = client.get(f"/api/v1/documents/{response.json['document_id']}?reason=Kontroll%20av%20skann",
                        headers=bearer(consent, "lise-kontakt"))
    assert opened.status_code == 200 and opened.data == scan


def test_bad_fields_name_the_field_and_store_nothing(consent):
    client = make_client(consent)
    case_id = open_case(consent, mentor_relation="none")
    response = client.post("/api/v1/consents", headers=bearer(consent, "kari-veileder"),
                           data=upload_form(case_id, {"interviews": "granted", "focus_groups": "granted"},
                                            signer_role="mentor", signed_on="2026-12-24",
                                            signer_national_id="12345678901"),
                           content_type="multipart/form-data")
    assert response.status_code == 422
    errors = response.json["errors"]
    assert "frem i tid" in errors["signed_on"][0]
    assert "ingen mentor" in " ".join(errors["signer_role"])
    assert "Fødselsnummeret" in errors["signer_national_id"][0]
    assert "gjelder en ansatt" in errors["decisions"][0]
    assert count(consent, "records") == 0


def test_withdrawal_publishes_at_once_and_status_says_no_from_then_on(consent):
    client = make_client(consent)
    case_id = open_case(consent)
    record(consent, case_id, "candidate", {"research_registration": "granted", "interviews": "granted"})
    assert _status(client, consent, case_id, "research_registration")["granted"] is True
    response = client.post("/api/v1/withdrawals", headers=seen_by(client, consent, case_id, "lise-kontakt"),
                           json={"case_id": case_id, "signer_role": "candidate", "purposes": ["research_registration"]})
    assert response.status_code == 201, response.json
    assert response.json["data_policy"] == "erase" and "slettes" in response.json["data_policy_text"]
    t = consent.tables["outbox"]
    with consent.engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.event_type == "consent.withdrawn")).mappings().one()
    body = json.loads(row["body"])
    assert row["routing_key"] == "office.kristiansand.consent.withdrawn" and row["sent_at"] is None
    assert body["payload"]["case_id"] == case_id and body["payload"]["data_policy"] == "erase"
    assert "Ada" not in row["body"].decode()  # no signer name on the bus
    status = _status(client, consent, case_id, "research_registration")
    assert status["granted"] is False and status["state"] == "withdrawn"
    # The other purpose is untouched, and withdrawing again finds nothing to withdraw.
    assert _status(client, consent, case_id, "interviews")["state"] == "missing"  # mentor and employer never signed
    again = client.post("/api/v1/withdrawals", headers=seen_by(client, consent, case_id, "kari-veileder"),
                        json={"case_id": case_id, "purposes": ["research_registration"]})
    assert again.status_code == 409 and "ikke noe gjeldende samtykke" in again.json["message"]


def test_withdrawal_and_its_event_are_one_transaction(consent):
    case_id = open_case(consent)
    record(consent, case_id, "candidate", {"research_registration": "granted"})

    def broken_emit(conn, event_type, office, payload):
        raise RuntimeError("outbox unavailable")

    cmd = {"case_id": case_id, "purposes": []}
    with pytest.raises(RuntimeError), consent.engine.begin() as conn:
        service.withdraw(conn, deps(consent, emit=broken_emit), "kristiansand", "lise-kontakt",
                         service.withdrawal_subject(conn, "kristiansand", cmd), cmd, expected_version=1)
    assert count(consent, "withdrawals") == 0
    with consent.engine.connect() as conn:
        evaluation = service.evaluate(conn, store.get_case(conn, case_id), case_id, "research_registration",
                                      consent.clock.today())
    assert evaluation.granted  # nothing half-done: no withdrawal without its event, no event without it


def test_withdraw_everything_in_one_call(consent):
    client = make_client(consent)
    case_id = open_case(consent, mentor_relation="manager")
    record(consent, case_id, "candidate", {"research_registration": "granted", "interviews": "granted"})
    record(consent, case_id, "employer", {"interviews": "granted", "employer_survey": "granted"}, name="Leder AS")
    # The employer is the mentor: one signature fills both roles.
    assert _status(client, consent, case_id, "interviews")["granted"] is True
    response = client.post("/api/v1/withdrawals", headers=seen_by(client, consent, case_id, "kari-veileder"),
                           json={"case_id": case_id})
    assert response.status_code == 201
    assert response.json["purposes"] == ["employer_survey", "interviews", "research_registration"]
    assert outbox_types(consent).count("consent.withdrawn") == 3
    for purpose in ("employer_survey", "interviews", "research_registration"):
        assert _status(client, consent, case_id, purpose)["granted"] is False


def test_document_view_needs_local_contact_and_a_reason_and_is_audited(consent):
    client = make_client(consent)
    case_id = open_case(consent)
    made = record(consent, case_id, "candidate", {"research_registration": "granted"}, document=PNG)
    url = f"/api/v1/documents/{made['document_id']}"
    assert client.get(url + "?reason=kontroll", headers=bearer(consent, "kari-veileder")).status_code == 403
    missing = client.get(url, headers=bearer(consent, "lise-kontakt"))
    assert missing.status_code == 422 and "reason" in missing.json["errors"]
    response = client.get(url + "?reason=Kontroll%20av%20samtykke&disposition=attachment",
                          headers=bearer(consent, "lise-kontakt"))
    assert response.status_code == 200 and response.data == PNG and response.mimetype == "image/png"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert count(consent, "audit_log", actor="lise-kontakt", action="document.download",
                 reason="Kontroll av samtykke") == 1
    assert count(consent, "audit_log") == 1  # refused attempts opened nothing


ENDPOINTS = [
    ("get", "/api/v1/status?case_id={case}&purpose=interviews", None),
    ("get", "/api/v1/cases/{case}", None),
    ("get", "/api/v1/documents/{doc}?reason=kontroll", None),
    ("post", "/api/v1/withdrawals", {"case_id": "{case}"}),
]


@pytest.mark.parametrize("user,expected", [("rune-forsker", 403), ("tone-fylke", 403), ("admin", 403),
                                           ("per-veileder", 404), ("anne-kontakt", 404)])
def test_researchers_county_admin_are_denied_and_another_office_sees_nothing(consent, user, expected):
    client = make_client(consent)
    case_id = open_case(consent)
    made = record(consent, case_id, "candidate", {"research_registration": "granted"})
    for method, url, body in ENDPOINTS:
        url = url.format(case=case_id, doc=made["document_id"])
        kwargs = {"json": json.loads(json.dumps(body).replace("{case}", case_id))} if body else {}
        response = getattr(client, method)(url, headers=bearer(consent, user), **kwargs)
        # Another office's counsellor is stopped by role before ownership on documents (local contacts only).
        wanted = 403 if user == "per-veileder" and "/documents/" in url else expected
        assert response.status_code == wanted, (method, url, response.json)
        assert "Ada" not in response.get_data(as_text=True)
    upload = client.post("/api/v1/consents", headers=bearer(consent, user),
                         data=upload_form(case_id, {"research_registration": "granted"}),
                         content_type="multipart/form-data")
    assert upload.status_code == expected
    assert count(consent, "records") == 1 and count(consent, "withdrawals") == 0 and count(consent, "audit_log") == 0


def test_admin_manages_templates_only(consent):
    client = make_client(consent)
    new_version = {"templates": [{"purpose": "interviews", "version": 2, "subject_kind": "case",
                                  "signer_roles": ["candidate", "mentor", "employer"], "title_nb": "Intervju v2",
                                  "text_nb": "Ny tekst.", "valid_from": "2026-12-01", "expires_on": "2027-06-30"}]}
    refused = client.post("/api/v1/templates", headers=bearer(consent, "kari-veileder"), json=new_version)
    assert refused.status_code == 403
    response = client.post("/api/v1/templates", headers=bearer(consent, "admin"), json=new_version)
    assert response.status_code == 200 and response.json["added"] == ["interviews v2"]
    bad = client.post("/api/v1/templates", headers=bearer(consent, "admin"),
                      json={"templates": [{**new_version["templates"][0], "version": 3, "signer_roles": ["nabo"]}]})
    assert bad.status_code == 422 and "signer_roles" in json.dumps(bad.json["errors"])
    listed = client.get("/api/v1/templates", headers=bearer(consent, "admin")).json
    assert [(t["purpose"], t["version"]) for t in listed].count(("interviews", 2)) == 1
    assert client.get("/api/v1/templates", headers=bearer(consent, "rune-forsker")).status_code == 403
