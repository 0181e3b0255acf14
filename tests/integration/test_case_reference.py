"""One case reference everywhere (issue #15 point 2): intake's case page, consent's pages and notify's pages and
mails all take it from shared.cases, so changing it there changes it on every page (here: a shorter reference)."""
from services.intake import service as intake_service
from services.notify.domain.wording import case_ref
from shared import cases
from tests.integration.test_consent_helpers import open_case, record
from tests.integration.test_consent_pages import signed_in


def test_consent_notify_and_intake_name_a_case_by_the_one_reference(consent, monkeypatch):
    case_id = open_case(consent)
    record(consent, case_id, "candidate", {"research_registration": "granted"})
    monkeypatch.setattr(cases, "REFERENCE_LENGTH", 6)
    expected = f"Sak {case_id[:6]}"
    assert intake_service.case_reference(case_id) == case_ref(case_id) == expected
    client = signed_in(consent, "kari-veileder")
    listing = client.get("/").get_data(as_text=True)
    assert f">{expected}</a>" in listing
    page = client.get(f"/saker/{case_id}").get_data(as_text=True)
    assert f"Samtykker for sak {case_id[:6]}<" in page
    form = {"csrf_token": client.get_cookie("hybrid_csrf").value, "expected_version": "1",
            "purposes": "research_registration"}
    confirm = client.post(f"/saker/{case_id}/trekk-tilbake", data=form).get_data(as_text=True)
    assert f">{expected}</p>" in confirm
