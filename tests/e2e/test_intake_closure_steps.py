"""The closure form (sluttskjema) in steps, in Chromium at laptop and phone width: progress, a mistake shown at its
question in question order, each step kept as a draft (a reload resumes it), derived answers with their basis (one
without basis left blank), nothing preselected in the assessment, the check-answers page with what sending does
and the case version, the receipt; a second send of the same page makes no second version. Screenshots of each
step go to the test's temporary folder, or to docs/screenshots/ (committed) with UPDATE_SCREENSHOTS=1, so a test
run never changes the checkout."""
import os
from pathlib import Path

import pytest
from sqlalchemy import text

from services.intake import tables
from services.intake.app import create_app
from services.intake.testing import enter_case
from tests.fixtures.system import sign_in

DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CASE = {
    "candidate_name": "Stegvis Prøvesen", "opened_on": "2026-08-03", "entry_point": "course_start",
    "industry": "retail", "initiator": "counsellor", "reasons": ["extra_follow_up"], "counsellor_knew_company": "no",
    "attachment_before": "none", "mentor_relation": "colleague",
    "measures": [{"measure": "mentor_subsidy", "from_date": "2026-08-10", "to_date": "2026-10-30"}],
    # no contact with the candidate: that frequency has no basis and is left for the counsellor
    "contacts": [{"contact_date": "2026-08-10", "party": "mentor", "form": "at_company", "minutes": 45},
                 {"contact_date": "2026-09-14", "party": "employer", "form": "email", "minutes": 10},
                 {"contact_date": "2026-10-05", "party": "mentor", "form": "phone", "minutes": 30},
                 {"contact_date": "2026-10-26", "party": "mentor", "form": "phone", "minutes": 30}],
}


@pytest.mark.parametrize("width,height,device", [(1280, 900, "laptop"), (390, 844, "phone")])
def test_closure_in_steps(platform_factory, live_server, page, tmp_path, width, height, device):
    platform = platform_factory("intake", tables.all_tables(), f"sqlite:///{tmp_path}/intake.db")
    case_id = enter_case(platform, "kristiansand", "kari-veileder", CASE, seed=77)["case_id"]
    app = create_app(platform=platform)
    server = live_server(app)
    app.config["PUBLIC_URL"] = server.url
    page.set_viewport_size({"width": width, "height": height})
    shots = DOCS_SHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)

    def shot(name):
        page.screenshot(path=str(shots / f"sluttskjema-{name}-{device}.png"), full_page=True)

    sign_in(page, server.url, "kari-veileder")
    page.goto(f"{server.url}/saker/{case_id}")
    reference = f"Sak {case_id[:8]}"
    assert page.locator("#saksreferanse").inner_text() == reference
    page.click("#til-avslutning")
    assert page.url.endswith("/sluttskjema/avslutning")
    assert page.locator("[aria-current=step]").inner_text().startswith("Avslutning")
    assert reference in page.locator("#skjema").inner_text() and "Steg 1 av 4" in page.locator("#skjema").inner_text()
    # Nothing preselected, "Annet" without "(beskriv)" (nothing is described here).
    assert page.locator("input[name=closure_reason]:checked").count() == 0
    assert "(beskriv)" not in page.locator("main").inner_text()

    page.fill("#closed_on", "01.07.2026")  # before the case was opened
    page.check("input[name=attachment_after][value=permanent_with_wage_subsidy]")
    page.click("#fortsett")
    summary = page.locator("#error-summary")
    links = summary.locator("a")
    assert [a.get_attribute("href") for a in links.all()] == ["#closed_on", "#closure_reason",
                                                               "#attached_same_company"]  # the order asked
    assert links.nth(1).inner_text().startswith("Hvorfor avsluttes saken?")  # the question's own words
    shot("1-feil")
    page.fill("#closed_on", "20.11.2026")
    page.check("input[name=closure_reason][value=measure_completed]")
    page.check("input[name=attached_same_company][value=yes]")
    page.click("#fortsett")
    assert page.url.endswith("/sluttskjema/kontakt")

    # Step 1 is a draft now: leaving and coming back resumes at step 2 with step 1's answers kept.
    page.goto(f"{server.url}/saker/{case_id}")
    assert page.locator("#til-avslutning").inner_text() == "Fortsett på sluttskjemaet"
    page.click("#til-avslutning")
    assert page.url.endswith("/sluttskjema/kontakt")
    assert page.locator("#frequency_candidate").input_value() == ""  # no contact with the candidate logged
    assert page.locator("#frequency_mentor").input_value() != ""
    assert "3 kontakter med mentoren logget fra 03.08.2026 til 20.11.2026" in page.locator(
        "#frequency_mentor-hint").inner_text()
    assert page.locator("#duration").input_value() == "3_6_months"  # both dates known: derived, with its basis
    # Table 5 per party: the mentor's intensity and forms from the mentor's contacts, the candidate's left open
    # (no contact with the candidate logged, so not required); the employer's e-mail is neither's
    assert page.locator("#intensity_mentor").input_value() != ""
    assert page.locator("#intensity_candidate").input_value() == ""
    assert page.locator("input[name=forms_mentor]:checked").evaluate_all("els => els.map(e => e.value)") == [
        "phone", "at_company"]
    assert page.locator("input[name=forms_candidate]:checked").count() == 0
    shot("2-kontakt")
    page.click("#fortsett")
    assert page.locator("#frequency_candidate-error").is_visible()
    page.select_option("#frequency_candidate", "monthly")
    page.click("#fortsett")

    assert page.url.endswith("/sluttskjema/vurdering")
    assert page.locator("input[type=radio]:checked").count() == 0
    for fieldset in page.locator("fieldset[id^='success_criteria.']").all():
        fieldset.locator("input[value=achieved]").check()
    page.check("input[name=feedback_mentor][value=satisfied]")
    page.check("input[name=feedback_counsellor][value=very_satisfied]")
    shot("3-vurdering")
    page.click("#fortsett")

    assert page.url.endswith("/sluttskjema/oppsummering")
    main = page.locator("main").inner_text()
    assert "Saken avsluttes" in main and "sendes til forskerne" in main
    assert "20.11.2026" in main and "Varehandel" in main  # the opening's answers as a summary
    assert page.locator("#send-form input[name=expected_version]").count() == 1
    shot("4-oppsummering")
    # "Endre" on an opening answer leads to its question and back to the summary.
    page.click("a[href*='/sluttskjema/oppstart']")
    page.select_option("#industry", "service")
    page.click("#fortsett")
    assert "/sluttskjema/oppsummering" in page.url and "Service" in page.locator("main").inner_text()

    send_page = page.content()
    page.click("#send")
    assert page.locator("h1").inner_text() == "Sluttskjemaet er sendt"
    assert reference in page.locator("#melding").inner_text()
    shot("5-kvittering")
    # The same check-answers page sent again (back button, double click): the first answer, no second version.
    page.set_content(send_page)
    with page.expect_navigation():
        page.evaluate(f"() => {{ const f = document.getElementById('send-form'); f.action = '{server.url}' "
                      "+ new URL(f.action).pathname; f.submit(); }")
    assert page.locator("h1").inner_text() == "Sluttskjemaet er sendt"
    with platform.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM intake_closures")).scalar() == 1


def test_leaving_a_step_with_unsaved_answers_asks_first(platform_factory, live_server, page, tmp_path):
    platform = platform_factory("intake", tables.all_tables(), f"sqlite:///{tmp_path}/intake.db")
    case_id = enter_case(platform, "kristiansand", "kari-veileder", CASE, seed=78)["case_id"]
    app = create_app(platform=platform)
    server = live_server(app)
    app.config["PUBLIC_URL"] = server.url
    sign_in(page, server.url, "kari-veileder")
    page.goto(f"{server.url}/saker/{case_id}/sluttskjema/avslutning")
    page.check("input[name=closure_reason][value=measure_completed]")
    dialogs = []

    def dismiss(dialog):
        dialogs.append(dialog.type)
        dialog.dismiss()  # "stay on the page"
    page.on("dialog", dismiss)
    page.click("text=Tilbake til saken")
    assert dialogs == ["beforeunload"]
    assert "/sluttskjema/avslutning" in page.url
    assert page.locator("input[name=closure_reason][value=measure_completed]").is_checked()  # nothing lost
