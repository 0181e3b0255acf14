"""The consent pages through Flask's test client: office scoping, roles, Norwegian errors that change nothing."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from services.consent.domain.withdrawal import DATA_POLICY_TEXT
from shared.auth import COOKIE_NAME
from tests.fixtures.tokens import user_token
from tests.integration.test_consent_helpers import PDF, count, make_client, multipart, open_case, outbox_types, record


def signed_in(platform, user_id):
    client = make_client(platform)
    client.set_cookie(COOKIE_NAME, user_token(platform, user_id))
    return client


def csrf(client, url):
    page = client.get(url)
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def hidden_fields(html, form_id):
    """The hidden fields of one form of a rendered page (csrf_token, _form_token, expected_version, ...)."""
    form = re.search(rf'<form[^>]*id="{form_id}".*?</form>', html, re.S).group(0)
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form))


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
        "csrf_token": token, "signer_role": "candidate", "signer_name": "Ada Kandidat", "signed_on": "20.11.2026",
        "decision_research_registration": "granted", "decision_interviews": "",
        "document": (io.BytesIO(b"MZ\x90\x00" + b"\x00" * 64), "samtykke.pdf")})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "ikke et skannet dokument" in html and "Skjemaet har 1 feil" in html
    assert count(consent, "records") == 0 and count(consent, "documents") == 0
    missing = client.post(f"/saker/{case_id}/samtykke", content_type="multipart/form-data",
                          data={"csrf_token": token, "signer_role": "candidate", "signed_on": "20.11.2026"})
    text = missing.get_data(as_text=True)
    assert missing.status_code == 422 and "Feltet må fylles ut" in text and "Last opp den signerte" in text
    assert count(consent, "records") == 0


def test_page_post_without_csrf_is_refused(consent):
    case_id = open_case(consent)
    record(consent, case_id, "candidate", {"research_registration": "granted"})
    client = signed_in(consent, "kari-veileder")
    response = client.post(f"/saker/{case_id}/trekk-tilbake", data={"all_purposes": "yes"})
    assert response.status_code == 403 and count(consent, "withdrawals") == 0


def test_withdraw_page_needs_a_choice_then_names_what_changes_then_withdraws(consent):
    case_id = open_case(consent)
    record(consent, case_id, "candidate", {"research_registration": "granted", "interviews": "granted"})
    client = signed_in(consent, "kari-veileder")
    form = hidden_fields(client.get(f"/saker/{case_id}").get_data(as_text=True), "withdraw-form")
    nothing = client.post(f"/saker/{case_id}/trekk-tilbake", data=form)
    assert nothing.status_code == 422 and "Velg hvilke formål" in nothing.get_data(as_text=True)
    assert count(consent, "withdrawals") == 0
    form = hidden_fields(nothing.get_data(as_text=True), "withdraw-form")  # the form as shown again
    asked = client.post(f"/saker/{case_id}/trekk-tilbake", data={**form, "all_purposes": "yes",
                                                                   "signer_role": "candidate"})
    html = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "Bekreft tilbaketrekking" in html
    assert DATA_POLICY_TEXT["erase"] in html  # what happens to the researchers' data, before it happens
    assert count(consent, "withdrawals") == 0
    confirm = hidden_fields(html, "confirm-withdraw")  # carries the choice, the version and a new form token
    assert confirm["confirmed"] == "yes" and confirm["all_purposes"] == "yes" and confirm["signer_role"] == "candidate"
    done = client.post(f"/saker/{case_id}/trekk-tilbake", data=confirm)
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


def _record_form(client, case_id, **fields):
    form = hidden_fields(client.get(f"/saker/{case_id}").get_data(as_text=True), "record-form")
    return {**form, "signer_role": "candidate", "signer_name": "Ada Kandidat", "signed_on": "20.11.2026",
            "decision_research_registration": "granted", **fields}


def test_a_too_long_name_on_the_page_is_blamed_on_the_name_and_what_was_typed_comes_back(consent):
    case_id = open_case(consent)
    client = signed_in(consent, "kari-veileder")
    response = client.post(f"/saker/{case_id}/samtykke",
                           **multipart(_record_form(client, case_id, signer_name="x" * 1_000_000), document=PDF))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Navnet kan være høyst 200 tegn." in html and "Filen er for stor" not in html
    assert 'value="20.11.2026"' in html
    assert re.search(r'name="decision_research_registration" value="granted" checked', html)
    assert "Velg filen på nytt" in html  # the scan was fine, but a browser never keeps a chosen file
    assert count(consent, "records") == 0 and count(consent, "documents") == 0


def test_a_bad_field_keeps_what_was_typed_and_asks_for_the_file_again(consent):
    case_id = open_case(consent)
    client = signed_in(consent, "kari-veileder")
    response = client.post(f"/saker/{case_id}/samtykke", **multipart(_record_form(
        client, case_id, signed_on="24.12.2026", signer_national_id="12345678901"), document=PDF))
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Skjemaet har 3 feil" in html
    assert 'value="Ada Kandidat"' in html and 'value="12345678901"' in html and 'value="24.12.2026"' in html
    assert re.search(r'name="decision_research_registration" value="granted" checked', html)
    assert re.search(r'id="document-error">Filen er ikke lagret fordi skjemaet hadde feil. Velg filen på nytt.', html)
    assert count(consent, "records") == 0
    # The withdrawal form too: what was chosen comes back with the error.
    record(consent, case_id, "candidate", {"research_registration": "granted", "interviews": "granted"})
    form = hidden_fields(client.get(f"/saker/{case_id}").get_data(as_text=True), "withdraw-form")
    refused = client.post(f"/saker/{case_id}/trekk-tilbake", data={
        **form, "signer_role": "candidate", "purposes": "interviews", "requested_on": "24.12.2026"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "frem i tid" in html
    assert re.search(r'<option value="candidate" selected>', html)
    assert re.search(r'name="purposes" value="interviews" checked', html)
    assert not re.search(r'name="purposes" value="research_registration" checked', html)
    field = re.search(r'<input id="requested_on"[^>]*>', html).group(0)  # a text field in dd.mm.åååå, as typed
    assert 'type="text"' in field and 'inputmode="numeric"' in field and 'value="24.12.2026"' in field
    assert count(consent, "withdrawals") == 0


def test_a_consent_form_posted_twice_records_one_consent(consent):
    case_id = open_case(consent)
    client = signed_in(consent, "kari-veileder")
    body = multipart(_record_form(client, case_id), document=PDF)
    first = client.post(f"/saker/{case_id}/samtykke", **body)
    second = client.post(f"/saker/{case_id}/samtykke", **body)  # a double click, or the browser's retry
    assert first.status_code == second.status_code == 302
    assert second.headers["Location"] == first.headers["Location"] and second.headers["Idempotent-Replayed"] == "true"
    assert count(consent, "records") == 1 and count(consent, "documents") == 1
    assert outbox_types(consent) == ["consent.granted"]


def test_the_withdrawal_form_carries_the_version_it_showed_and_withdraws_once(consent):
    case_id = open_case(consent)
    record(consent, case_id, "candidate", {"research_registration": "granted", "interviews": "granted"})
    client = signed_in(consent, "kari-veileder")
    form = hidden_fields(client.get(f"/saker/{case_id}").get_data(as_text=True), "withdraw-form")
    assert form["expected_version"] == "1" and form["_form_token"]
    choice = {"purposes": "research_registration"}

    without = client.post(f"/saker/{case_id}/trekk-tilbake",
                          data={**{k: v for k, v in form.items() if k != "expected_version"}, **choice})
    assert without.status_code == 428 and count(consent, "withdrawals") == 0

    record(consent, case_id, "mentor", {"interviews": "granted"}, name="Mona Mentor")  # after the page was shown
    stale = client.post(f"/saker/{case_id}/trekk-tilbake", data={**form, **choice})
    html = stale.get_data(as_text=True)
    assert stale.status_code == 409 and "endret siden du hentet den" in html
    assert count(consent, "withdrawals") == 0
    form = hidden_fields(html, "withdraw-form")  # shown again as it is now: a deliberate second try
    assert form["expected_version"] == "2"

    choice["confirmed"] = "yes"  # the confirmation page's form (test_withdraw_page_needs_a_choice_then_names...)
    first = client.post(f"/saker/{case_id}/trekk-tilbake", data={**form, **choice})
    again = client.post(f"/saker/{case_id}/trekk-tilbake", data={**form, **choice})  # the same form, twice
    assert first.status_code == again.status_code == 302 and again.headers["Location"] == first.headers["Location"]
    copy = {**form, "_form_token": "another-rendering", **choice}  # the same version from another tab
    assert client.post(f"/saker/{case_id}/trekk-tilbake", data=copy).status_code == 409
    assert count(consent, "withdrawals") == 1 and outbox_types(consent).count("consent.withdrawn") == 1


def test_every_post_form_of_consents_pages_carries_a_form_token():
    templates = Path(__file__).resolve().parents[2] / "services" / "consent" / "templates"
    forms = [form for page in templates.rglob("*.html")
             for form in re.findall(r"<form[^>]*method=\"post\".*?</form>", page.read_text(), re.S | re.I)]
    assert len(forms) >= 4
    for form in forms:
        assert '<input type="hidden" name="_form_token" value="{{ form_token() }}">' in form, form[:120]


@pytest.mark.parametrize(("language", "heading", "refusal", "added"), [
    ("nn", "Kven har signert kva", "Fila er eit program (køyrbar fil)", "1 nye malversjonar lagde til, 0 uendra."),
    ("en", "Who has signed what", "The file is a program (an executable)",
     "1 new template versions added, 0 unchanged."),
])
def test_the_pages_and_their_messages_are_in_the_chosen_language(consent, language, heading, refusal, added):
    """With the header's language choice (the cookie), the page, a refusal made in the domain and a message with a
    number in it (shared.text.Text) are in that language; nothing of the bokmål text is left."""
    texts = {"nn": "Eg samtykkjer til at opplysningar frå registreringsskjemaet",
             "en": "I consent to data from the registration form"}
    case_id = open_case(consent)
    client = signed_in(consent, "kari-veileder")
    client.set_cookie("hybrid_sprak", language)
    page = client.get(f"/saker/{case_id}").get_data(as_text=True)
    assert f'<html lang="{language}"' in page and heading in page and "Hvem har signert hva" not in page
    response = client.post(f"/saker/{case_id}/samtykke", content_type="multipart/form-data", data={
        **_record_form(client, case_id), "document": (io.BytesIO(b"MZ\x90\x00" + b"\x00" * 64), "samtykke.pdf")})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and refusal in html and "ikke et skannet dokument" not in html
    admin = signed_in(consent, "admin")
    admin.set_cookie("hybrid_sprak", language)
    item = {"purpose": "observation", "version": 2, "subject_kind": "case",
            "signer_roles": ["candidate", "counsellor"], "title_nb": "Observasjon v2", "text_nb": "Ny tekst.",
            "valid_from": "2026-12-01", "expires_on": "2027-06-30"}
    uploaded = admin.post("/maler", content_type="multipart/form-data", data={
        "csrf_token": csrf(admin, "/maler"),
        "templates": (io.BytesIO(json.dumps({"templates": [item]}).encode()), "maler.json")})
    assert uploaded.status_code == 200 and added in uploaded.get_data(as_text=True)
    # the consent form's own text in the page's language (deploy/data/consent_templates.json has nn and en); a
    # version without a translation shows its bokmål, marked as bokmål for screen readers
    templates = admin.get("/maler").get_data(as_text=True)
    assert texts[language] in templates and "Jeg samtykker til at opplysninger fra" not in templates
    assert '<span lang="nb">Ny tekst.</span>' in templates
