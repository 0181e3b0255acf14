"""Confirm before the irreversible (issue #15 point 5, WCAG 3.3.4), in headless Chromium at laptop and phone width:
a consent's withdrawal and the admin's project end each lead first to a page naming what will change (and, for the
withdrawal, what happens to the data the researchers have); "Avbryt" changes nothing; only the confirmation acts."""
import pytest

from services.consent.app import create_app as create_consent
from services.consent.domain.withdrawal import DATA_POLICY_TEXT
from services.intake import tables as intake_tables
from services.intake.app import create_app as create_intake
from services.intake.testing import enter_case
from tests.fixtures.system import sign_in
from tests.integration.test_consent_helpers import consent_platform, count, open_case, record

WIDTHS = {"laptop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def fits(page, viewport):
    return page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]


@pytest.mark.parametrize("width", WIDTHS)
def test_withdrawal_names_what_changes_and_waits_for_the_confirmation(platform_factory, live_server, page, tmp_path,
                                                                      width):
    platform = consent_platform(platform_factory, f"sqlite:///{tmp_path}/consent.db")
    case_id = open_case(platform, mentor_relation="none")
    record(platform, case_id, "candidate", {"research_registration": "granted", "interviews": "granted"})
    app = create_consent(platform=platform)
    server = live_server(app)
    app.config["PUBLIC_URL"] = server.url
    page.set_viewport_size(WIDTHS[width])
    sign_in(page, server.url, "kari-veileder")
    page.goto(f"{server.url}/saker/{case_id}")
    row = page.locator("#status tr[data-purpose=research_registration]")

    def ask():
        page.check("#withdraw-form input[name=purposes][value=research_registration]")
        page.click("#withdraw-form button[type=submit]")
        assert page.locator("h1").inner_text() == "Bekreft tilbaketrekking"

    ask()
    consequences = page.locator("#what-changes")
    assert consequences.is_visible() and fits(page, WIDTHS[width])
    assert "samtykket slutter å gjelde" in consequences.locator("[data-purpose=research_registration]").inner_text()
    assert page.locator("#what-changes [data-purpose=interviews]").count() == 0  # only what was chosen
    assert page.locator("#data-policy").inner_text() == DATA_POLICY_TEXT["erase"]  # the project's policy, before
    assert f"Sak {case_id[:8]}" in page.locator("#sak").inner_text()
    assert count(platform, "withdrawals") == 0  # nothing has happened yet

    page.click("text=Avbryt, ikke trekk tilbake")
    assert "Gitt" in row.inner_text() and count(platform, "withdrawals") == 0

    ask()
    page.click("#confirm-withdraw button[type=submit]")
    assert "trukket tilbake" in page.locator("#melding").inner_text()
    assert "Trukket tilbake" in row.inner_text() and count(platform, "withdrawals") == 1
    assert "Trukket tilbake" not in page.locator("#status tr[data-purpose=interviews]").inner_text()  # not chosen


@pytest.mark.parametrize("width", WIDTHS)
def test_project_end_names_the_cases_and_sends_only_when_confirmed(platform_factory, live_server, page, tmp_path,
                                                                   width):
    platform = platform_factory("intake", intake_tables.all_tables(), f"sqlite:///{tmp_path}/intake.db")
    opening = {"opened_on": "2026-08-03", "entry_point": "course_start", "industry": "retail",
               "initiator": "counsellor", "reasons": ["extra_follow_up"], "counsellor_knew_company": "no",
               "attachment_before": "none", "mentor_relation": "none"}
    for seed, (office, counsellor) in enumerate((("kristiansand", "kari-veileder"), ("kristiansand", "ola-veileder"),
                                                  ("bergen-vest", "per-veileder"))):
        enter_case(platform, office, counsellor, opening, seed=60 + seed)
    app = create_intake(platform=platform)
    server = live_server(app)
    app.config["PUBLIC_URL"] = server.url
    page.set_viewport_size(WIDTHS[width])
    sign_in(page, server.url, "admin")

    def still_open():
        with platform.engine.connect() as conn:
            return conn.execute(intake_tables.cases.select().where(intake_tables.cases.c.state == "open")).all()

    page.goto(server.url + "/admin")
    page.click("text=Send status for alle pågående saker")
    assert page.locator("h1").inner_text() == "Bekreft prosjektslutt"
    assert "for 3 åpne saker ved 2 kontorer" in page.locator("#case-count").inner_text()
    offices = page.locator("#offices").inner_text()
    assert "NAV Kristiansand" in offices and "NAV Bergen vest" in offices
    assert "kan ikke angres" in page.locator("#what-changes").inner_text()
    assert fits(page, WIDTHS[width]) and len(still_open()) == 3

    page.click("#confirm-project-end a")  # Avbryt
    assert page.locator("h1").inner_text().startswith("Prosjekt") and len(still_open()) == 3

    page.click("text=Send status for alle pågående saker")
    page.click("#confirm-project-end button[type=submit]")
    assert "sendt for 3 pågående saker" in page.locator("#melding").inner_text()
    assert still_open() == []
