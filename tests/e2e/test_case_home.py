"""The case's home page and its parts (issue #15 point 2), in Chromium at laptop and phone width, against intake and
a real consent service: the home page shows the case reference, consent's status per purpose with a link to record
the missing signature, the seven steps as progress and what is next; each part is its own page, so text typed in
one part is never dropped by saving another (leaving it unsaved warns first), and the success message is in view
after a save; deleting a contact or a measure asks first on a page naming it (date and type, or dates). Screenshots
go to the test's temporary folder, or to docs/screenshots/ (committed) with UPDATE_SCREENSHOTS=1."""
import os
import uuid
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import expect

from services.consent import service as consent_service
from services.consent import tables as consent_tables
from services.consent.app import create_app as create_consent_app
from services.consent.service import DEFAULT_TEMPLATES, load_template_file
from services.intake import tables
from services.intake.app import create_app
from services.intake.testing import enter_case
from tests.fixtures.system import sign_in
from tests.integration.test_consent_helpers import HASH, PDF

DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CASE = {
    "candidate_name": "Hjem Sidesen", "opened_on": "2026-08-03", "entry_point": "course_start",
    "industry": "retail", "initiator": "counsellor", "reasons": ["extra_follow_up"], "counsellor_knew_company": "no",
    "attachment_before": "none", "mentor_relation": "colleague",
    "measures": [{"measure": "mentor_subsidy", "from_date": "2026-08-10", "to_date": "2027-01-30"}],
    "contacts": [{"contact_date": "2026-08-10", "party": "mentor", "form": "at_company", "minutes": 45},
                 {"contact_date": "2026-09-14", "party": "employer", "form": "email", "minutes": 10}],
}


def _consent_knows_the_case(platform, case_id):
    """Consent as the bus leaves it once the case is opened, and the candidate's signed form for two purposes."""
    deps = consent_service.deps_from_platform(platform)
    with platform.engine.begin() as conn:
        consent_service.upsert_case(conn, deps, "kristiansand", {
            "case_id": uuid.UUID(case_id), "counsellor_id": "kari-veileder", "mentor_id": uuid.uuid4(),
            "mentor_relation": "colleague", "employer_hash": HASH}, opened_on=date(2026, 8, 3))
        consent_service.record_consent(conn, deps, "kristiansand", "kari-veileder", {
            "case_id": case_id, "subject_ref": None, "signer_role": "candidate", "signer_name": "Hjem Sidesen",
            "signer_national_id": None, "signed_on": date(2026, 8, 5), "method": "scanned_paper",
            "decisions": {"research_registration": "granted", "interviews": "granted"}, "document": PDF})


@pytest.mark.parametrize("width,height,device", [(1280, 900, "laptop"), (390, 844, "phone")])
def test_case_home_and_its_parts(platform_factory, live_server, page, tmp_path, width, height, device):
    platform = platform_factory("intake", tables.all_tables(), f"sqlite:///{tmp_path}/intake.db")
    case_id = enter_case(platform, "kristiansand", "kari-veileder", CASE, seed=91)["case_id"]
    consent = platform_factory("consent", consent_tables.all_tables(), f"sqlite:///{tmp_path}/consent.db")
    load_template_file(consent, DEFAULT_TEMPLATES)
    _consent_knows_the_case(consent, case_id)
    consent_server = live_server(create_consent_app(platform=consent))
    app = create_app(platform=platform)
    app.extensions["privacy_peers"].urls["consent"] = consent_server.url
    server = live_server(app)
    app.config["PUBLIC_URL"] = server.url
    page.set_viewport_size({"width": width, "height": height})
    shots = DOCS_SHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)

    def shot(name):
        page.screenshot(path=str(shots / f"sak-{name}-{device}.png"), full_page=True)

    sign_in(page, server.url, "kari-veileder")
    page.goto(f"{server.url}/saker/{case_id}")
    reference = f"Sak {case_id[:8]}"
    assert page.locator("#saksreferanse").inner_text() == reference
    assert page.locator("h1").inner_text() == "Hjem Sidesen"
    assert page.locator("#state").inner_text() == "Åpen"
    # What is next, in the worklist's words: the last mentor contact was 10.08.2026, 108 days before today.
    assert page.locator("#neste-steg").inner_text() == "Ingen kontakt med mentor på 108 dager"
    # Consent's own answer, per purpose: the candidate signed two; the others lack named signatures.
    status = page.locator("#samtykkestatus")
    assert "Gitt" in status.locator("tr[data-purpose=research_registration]").inner_text()
    missing = status.locator("tr[data-purpose=employer_survey]").inner_text()
    assert "Mangler signatur" in missing and "Arbeidsgiver" in missing
    assert page.locator("#registrer-samtykke").get_attribute("href") == \
        f"{server.url}/consent/saker/{case_id}#registrer"
    # The seven steps as progress: none done yet, the first is the next.
    assert page.locator("#steg-liste li").count() == 7
    assert page.locator("#steg-status").inner_text() == "0 av 7 steg er gjort."
    assert page.locator("#steg-liste li[aria-current=step]").inner_text().startswith("1")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    shot("1-hjem")

    # Text typed in one part is not dropped by saving another: the parts are separate pages, and leaving one
    # with unsaved text asks first.
    page.click("#del-parter")
    page.fill("#employer_name", "Nytt Navn AS")
    dialogs = []

    def dismiss(dialog):
        dialogs.append(dialog.type)
        dialog.dismiss()  # "stay on the page"
    page.on("dialog", dismiss)
    page.click("#tilbake")
    assert dialogs == ["beforeunload"]
    assert page.locator("#employer_name").input_value() == "Nytt Navn AS"
    page.remove_listener("dialog", dismiss)
    page.click("#parties-form button[type=submit]")
    expect(page.locator("#melding")).to_have_text("Mentor og arbeidsgiver er lagret.")
    expect(page.locator("#melding")).to_be_in_viewport()

    page.click("#del-kontakter")
    page.fill("#contact_date", "02.11.2026")
    page.select_option("#party", "mentor")
    page.select_option("#form", "phone")
    page.fill("#minutes", "20")
    page.click("#contact-form button[type=submit]")
    expect(page.locator("#melding")).to_have_text("Kontakten er logget.")
    expect(page.locator("#melding")).to_be_in_viewport()
    assert page.locator("#contact-log tbody tr").count() == 3
    assert page.locator("#contact_date").input_value() == "26.11.2026"  # a fresh form for the next contact
    shot("2-kontakter")
    page.goto(f"{server.url}/saker/{case_id}/parter")
    assert page.locator("#employer_name").input_value() == "Nytt Navn AS"  # saved, and kept

    # Deleting a contact asks first, naming it; "no" keeps it, "yes" deletes it.
    page.goto(f"{server.url}/saker/{case_id}/kontakter")
    page.locator("#contact-log tbody tr").first.locator("a.slett-kontakt").click()
    assert page.locator("h1").inner_text() == "Slette kontakten?"
    question = page.locator("#slett-hva").inner_text()
    assert "02.11.2026" in question and "Mentor" in question and "telefon" in question
    shot("3-slett-kontakt")
    page.click("#avbryt-slett")
    assert page.locator("#contact-log tbody tr").count() == 3  # nothing deleted
    page.locator("#contact-log tbody tr").first.locator("a.slett-kontakt").click()
    page.click("#bekreft-slett")
    expect(page.locator("#melding")).to_contain_text("Kontakten er slettet")
    expect(page.locator("#melding")).to_be_in_viewport()
    assert page.locator("#contact-log tbody tr").count() == 2
    assert "02.11.2026" not in page.locator("#contact-log").inner_text()
    page.click("#tilbake")
    assert "Nytt Navn AS" in page.locator("#del-parter").inner_text()
    assert page.locator("#del-kontakter").inner_text().count("2 kontakter") == 1

    # Deleting a measure asks first in the same way, naming it and its dates.
    page.click("#del-tiltak")
    page.locator("#measures a.slett-tiltak").first.click()
    assert page.locator("h1").inner_text() == "Slette tiltaket?"
    question = page.locator("#slett-hva").inner_text()
    assert "Mentortilskudd" in question and "10.08.2026" in question and "30.01.2027" in question
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    shot("4-slett-tiltak")
    page.click("#avbryt-slett")
    assert "Mentortilskudd" in page.locator("#measures").inner_text()  # nothing deleted
    page.locator("#measures a.slett-tiltak").first.click()
    page.click("#bekreft-slett")
    expect(page.locator("#melding")).to_have_text("Tiltaket er slettet.")
    expect(page.locator("#melding")).to_be_in_viewport()
    assert "Mentortilskudd" not in page.locator("#measures").inner_text()
    assert "Ingen tiltak registrert." in page.locator("#measures").inner_text()
