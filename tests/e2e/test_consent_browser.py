"""The consent pages in headless Chromium: see what is missing, a refused upload, record, withdraw, open a document."""
from services.consent.app import create_app
from tests.fixtures.system import sign_in
from tests.integration.test_consent_helpers import PNG, consent_platform, count, open_case


def test_counsellor_records_and_withdraws_and_local_contact_opens_the_document(platform_factory, live_server, page,
                                                                               tmp_path):
    platform = consent_platform(platform_factory, f"sqlite:///{tmp_path}/consent.db")
    case_id = open_case(platform, mentor_relation="none")
    app = create_app(platform=platform)
    server = live_server(app)
    app.config["PUBLIC_URL"] = server.url

    sign_in(page, server.url, "kari-veileder")
    page.goto(server.url + "/")  # a counsellor lands on intake's worklist; here consent runs alone
    page.click(f"text=Sak {case_id[:8]}")
    row = page.locator("#status tr[data-purpose=research_registration]")
    assert "Mangler signatur" in row.inner_text()

    # An executable renamed to .pdf is refused with a clear message, and nothing is stored.
    page.fill("#signer_name", "Ada Kandidat")
    page.check("input[name=decision_research_registration][value=granted]")
    page.set_input_files("#document", files=[{"name": "samtykke.pdf", "mimeType": "application/pdf",
                                              "buffer": b"\x7fELF\x02\x01\x01" + b"\x00" * 64}])
    page.click("#record-form button[type=submit]")
    assert "ikke et skannet dokument" in page.locator("#error-summary").inner_text()
    assert count(platform, "records") == 0
    # The upload is a field like the others (Aksel's classes): its label names it, its description and its error are
    # read with it, the area is marked in error; the selects are Aksel's (no browser arrow, 48 px tall).
    document = page.get_by_label("Skannet samtykkeerklæring", exact=True)
    assert document.get_attribute("id") == "document" and document.get_attribute("aria-invalid") == "true"
    assert document.get_attribute("aria-describedby") == "document-hint document-error"
    assert "ikke et skannet dokument" in page.locator("#document-error").inner_text()
    assert "PDF, JPEG eller PNG" in page.locator("#document-hint").inner_text()
    assert page.locator(".aksel-dropzone--error #document").count() == 1
    for select in ("#signer_role", "#withdraw_signer_role"):
        style = page.locator(select).evaluate("s => [getComputedStyle(s).appearance, s.getBoundingClientRect().height]")
        assert style[0] == "none" and style[1] >= 48, (select, style)

    page.fill("#signer_name", "Ada Kandidat")
    page.set_input_files("#document", files=[{"name": "skann.png", "mimeType": "image/png", "buffer": PNG}])
    page.click("#record-form button[type=submit]")
    assert "Samtykket er lagret" in page.locator("#melding").inner_text()
    assert "Gitt" in row.inner_text()
    assert "Ada Kandidat (Bruker)" in page.locator("#records").inner_text()
    assert "Åpne dokument" not in page.content()  # a counsellor does not open scans
    # On a phone the status rows stack, each value under its column's name (shared platform.js and nav.css).
    page.set_viewport_size({"width": 390, "height": 844})
    # (the purpose is the row's header, th; its status the first data cell)
    assert row.locator("td").first.evaluate("cell => getComputedStyle(cell, '::before').content") == '"Status: "'
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1280, "height": 900})

    page.check("#withdraw-form input[name=purposes][value=research_registration]")
    page.click("#withdraw-form button[type=submit]")
    page.click("#confirm-withdraw button[type=submit]")  # what changes is named first (test_confirm_irreversible)
    message = page.locator("#melding").inner_text()
    assert "trukket tilbake" in message and "slettes" in message
    assert "Trukket tilbake" in row.inner_text()

    page.context.clear_cookies()
    sign_in(page, server.url, "lise-kontakt")
    page.goto(f"{server.url}/saker/{case_id}")
    page.click("text=Åpne dokument")
    page.click("#document-form button[type=submit]")  # no reason given
    assert "Skriv hvorfor" in page.locator("#error-summary").inner_text()
    page.fill("#reason", "Kontroll av samtykke")
    with page.expect_response(lambda r: "/dokumenter/" in r.url and r.request.method == "POST") as opened:
        page.click("#document-form button[type=submit]")
    assert opened.value.status == 200 and opened.value.body() == PNG
    assert count(platform, "audit_log", actor="lise-kontakt", reason="Kontroll av samtykke") == 1
