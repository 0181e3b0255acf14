"""The consent pages through Flask's test client: office scoping, roles, Norwegian errors that change nothing."""
from __future__ import annotations

import io
import json
import re

import pytest

from shared.auth import COOKIE_NAME
from tests.fixtures.tokens import user_token
from tests.integration.test_consent_helpers import PDF, consent_fixture, count, make_client, open_case, record  # noqa: F401


def signed_in(platform, user_id):
    client = make_client(platform)
    client.set_cookie(COOKIE_NAME, user_token(platform, user_id))
    return client


def csrf(client, url):
    page = client.get(url)
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


@pytest.mark.parametrize("user,status", [("per-veileder", 404), ("anne-kontakt", 404), ("rune-forsker", 403),
                                         ("tone-fylke", 403), ("admin", 403)])
def test_case_page_is_only_for_the_offices_own_people(consent, user, status):
    case_id = open_case(consent)
    made = record(consent, case_id, "candidate", {"research_registration": "granted"})
    client = signed_in(consent, user)
    for url in (f"/saker/{case_id}", f"/dokumenter/{made['document_id']}"):
        response = client.get(url)
        expected = 403 if (user == "per-veileder" and "dokumenter" in url) else status
        assert response.status_code == expected, url
        assert "Ada Kandidat" not in response.get_data(as_text=True)
    assert signed_in(consent, "kari-veileder").get(f"/saker/{case_id}").status_code == 200


def test_researcher_sees_no_consent_page_and_admin_lands_on_templates(consent):
    assert signed_in(consent, "rune-forsker").get("/").status_code == 403
    admin = signed_in(consent, "admin")
    response = admin.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/maler")
    assert "Registreringsdata til forskerne" in admin.get("/maler").get_data(as_text=True)


def test_bad_upload_on_the_page_shows_a_norwegian_message_and_stores_nothing(consent):
    case_id = open_case(consent)
    client = signed_in(consent, "kari-veileder")
    token = csrf(client, f"/saker/{case_id}")
    response = client.post(f"/saker/{case_id}/samtykke", content_type="multipart/form-data", data={
        "csrf_token": token, "signer_role": "candidate", "signer_name": "Ada Kandidat", "signed_on": "2026-11-20",
        "decision_research_registration": "granted", "decision_interviews": "",
        "document": (io.BytesIO(b"MZ\x90\x00" + b"\x00" * 64), "samtykke.pdf")})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "ikke et skannet dokument" in html and "Skjemaet har 1 feil" in html
    assert count(consent, "records") == 0 and count(consent, "documents") == 0
    missing = client.post(f"/saker/{case_id}/samtykke", content_type="multipart/form-data",
                          data={"csrf_token": token, "signer_role": "candidate", "signed_on": "2026-11-20"})
    text = missing.get_data(as_text=True)
    assert missing.status_code == 422 and "Feltet må fylles ut" in text and "Last opp den signerte" in text
    assert count(consent, "records") == 0


def test_page_post_without_csrf_is_refused(consent):
    case_id = open_case(consent)
    record(consent, case_id, "candidate", {"research_registration": "granted"})
    client = signed_in(consent, "kari-veileder")
    response = client.post(f"/saker/{case_id}/trekk-tilbake", data={"all_purposes": "yes"})
    assert response.status_code == 403 and count(consent, "withdrawals") == 0


def test_withdraw_page_needs_a_choice_then_withdraws_at_once(consent):
    case_id = open_case(consent)
    record(consent, case_id, "candidate", {"research_registration": "granted", "interviews": "granted"})
    client = signed_in(consent, "kari-veileder")
    token = csrf(client, f"/saker/{case_id}")
    nothing = client.post(f"/saker/{case_id}/trekk-tilbake", data={"csrf_token": token})
    assert nothing.status_code == 422 and "Velg hvilke formål" in nothing.get_data(as_text=True)
    assert count(consent, "withdrawals") == 0
    done = client.post(f"/saker/{case_id}/trekk-tilbake", data={"csrf_token": token, "all_purposes": "yes",
                                                                  "signer_role": "candidate"})
    assert done.status_code == 302 and "melding=trukket" in done.headers["Location"]
    assert count(consent, "withdrawals") == 1 and count(consent, "decisions") == 2


def test_admin_uploads_a_new_template_version_on_the_page(consent):
    admin = signed_in(consent, "admin")
    token = csrf(admin, "/maler")
    item = {"purpose": "observation", "version": 2, "subject_kind": "case",
            "signer_roles": ["candidate", "counsellor"], "title_nb": "Observasjon v2", "text_nb": "Ny tekst.",
            "valid_from": "2026-12-01", "expires_on": "2027-06-30"}
    response = admin.post("/maler", content_type="multipart/form-data", data={
        "csrf_token": token, "templates": (io.BytesIO(json.dumps({"templates": [item]}).encode()), "maler.json")})
    assert response.status_code == 200 and "1 nye malversjoner" in response.get_data(as_text=True)
    assert count(consent, "templates") == 6
    counsellor = signed_in(consent, "kari-veileder")
    token = csrf(counsellor, "/maler")
    refused = counsellor.post("/maler", content_type="multipart/form-data", data={
        "csrf_token": token, "templates": (io.BytesIO(b"{}"), "maler.json")})
    assert refused.status_code == 403 and count(consent, "templates") == 6
