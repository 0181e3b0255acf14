"""A counsellor's day in headless Chromium: sign in, open a case, log contacts, submit the closure with one mistake,
see the message at the field, fix it, see it accepted."""
from services.intake import tables
from services.intake.app import create_app
from services.intake.testing import fake_national_id
from tests.fixtures.system import sign_in


def test_counsellor_opens_logs_and_closes_a_case(platform_factory, live_server, page, tmp_path):
    platform = platform_factory("intake", tables.all_tables(), f"sqlite:///{tmp_path}/intake.db")
    app = create_app(platform=platform)
    server = live_server(app)
    app.config["PUBLIC_URL"] = server.url

    sign_in(page, server.url, "kari-veileder")
    page.goto(server.url + "/")
    page.click("#ny-sak")
    page.fill("#national_id", fake_national_id(2024))
    page.fill("#candidate_name", "Nettleser Prøvesen")
    page.check("input[name=in_target_group][value=yes]")
    page.check("input[name=in_follow_up_measure][value=no]")
    page.fill("#opened_on", "01.09.2026")
    page.select_option("#entry_point", "course_start")
    page.select_option("#industry", "health_care")
    page.select_option("#initiator", "counsellor")
    page.select_option("#attachment_before", "none")
    page.check("input[name=counsellor_knew_company][value=no]")
    page.check("input[name=reasons][value=extra_follow_up]")
    page.fill("#employer_orgnr", "974760673")
    page.fill("#employer_name", "Demo Sykehjem AS")
    page.fill("#mentor_name", "Mentor Nettlesersen")
    page.select_option("#mentor_relation", "colleague")
    page.click("text=Opprett sak")
    assert page.locator("#melding").inner_text() == "Saken er opprettet."
    assert page.locator("h1").inner_text() == "Nettleser Prøvesen"

    page.click("#del-kontakter")  # the contact log is its own page, linked from the case's home page
    for day, party, form in (("02.09.2026", "mentor", "at_company"), ("09.09.2026", "candidate", "phone"),
                             ("16.09.2026", "mentor", "phone")):
        page.fill("#contact_date", day)
        page.select_option("#party", party)
        page.select_option("#form", form)
        page.fill("#minutes", "30")
        page.fill("#note", "Internt notat")
        page.click("#contact-form button[type=submit]")
        assert page.locator("#melding").inner_text() == "Kontakten er logget."
    assert page.locator("#contact-log tbody tr").count() == 3
    # On a phone the log's rows stack and the header row is hidden: each value is shown with its column's name.
    page.set_viewport_size({"width": 390, "height": 844})
    assert not page.locator("#contact-log thead").is_visible()
    minutes = page.locator("#contact-log tbody tr").first.locator("td").nth(2)  # the date is the row header (th)
    assert minutes.evaluate("cell => getComputedStyle(cell, '::before').content") == '"Minutter: "'
    page.set_viewport_size({"width": 1280, "height": 900})

    page.click("#tilbake")
    page.click("#til-avslutning")  # the closure form in steps (tests/e2e/test_intake_closure_steps.py in full)
    page.fill("#closed_on", "15.08.2026")  # the mistake: before the case was opened
    page.check("input[name=closure_reason][value=measure_completed]")
    page.check("input[name=attachment_after][value=temporary_with_wage_subsidy]")
    page.check("input[name=attached_same_company][value=yes]")
    page.click("#fortsett")

    summary = page.locator("#error-summary")
    assert "Skjemaet har 1 feil" in summary.inner_text()
    assert page.locator("#closed_on-error").inner_text().startswith("Avslutningsdatoen kan ikke være før")
    assert page.evaluate("document.activeElement.id") == "error-summary"  # focus moved to the summary
    summary.locator("a[href='#closed_on']").click()
    page.fill("#closed_on", "20.11.2026")  # fixed; every other answer was kept
    assert page.locator("input[name=attachment_after][value=temporary_with_wage_subsidy]").is_checked()
    page.click("#fortsett")

    assert page.locator("#frequency_mentor").input_value() != ""  # derived from the log, for confirmation
    # Table 5 per party, each from its own contacts: the candidate's phone call, the mentor's phone and visit
    assert page.locator("input[name=forms_candidate][value=phone]").is_checked()
    assert not page.locator("input[name=forms_candidate][value=at_company]").is_checked()
    assert page.locator("input[name=forms_mentor][value=at_company]").is_checked()
    assert page.locator("#intensity_candidate").input_value() != "" and page.locator("#intensity_mentor").input_value()
    assert page.locator("#frequency_employer").input_value() == ""  # no contact logged: the counsellor's answer
    page.select_option("#frequency_employer", "monthly")
    page.click("#fortsett")
    for fieldset in page.locator("fieldset[id^='success_criteria.']").all():
        fieldset.locator("input[value=achieved]").check()
    page.check("input[name=feedback_mentor][value=very_satisfied]")
    page.check("input[name=feedback_counsellor][value=satisfied]")
    page.click("#fortsett")
    page.click("#send")

    assert page.locator("h1").inner_text() == "Sluttskjemaet er sendt"
    page.click("text=Til saken")
    assert page.locator("#state").inner_text() == "Avsluttet"
    page.click("#del-kontakter")
    assert page.locator("#contact-log tbody tr").count() == 3
    assert page.locator("#contact-form").count() == 0  # the log is frozen after closure
