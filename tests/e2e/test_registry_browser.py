"""A researcher in headless Chromium: signs in, sees the three charts (SVG bars, text labels), a suppressed
table with counts, percentages and n and the API's filters, and downloads the CSV export with the button; a
counsellor is turned away. The releases page: the admin cuts a release from it and sees the download log; the
researcher sees the release's notes and manifest and downloads its SPSS file, whose SHA-256 is the manifest's."""
from __future__ import annotations

import csv
import hashlib

from services.registry import demo, service, tables
from services.registry.app import create_app
from tests.fixtures.system import sign_in


def test_researcher_sees_charts_tables_and_downloads(platform_factory, live_server, page, tmp_path, monkeypatch):
    monkeypatch.setenv("REGISTRY_PSEUDONYM_SECRET", "browser-secret-" + "b" * 40)
    platform = platform_factory("registry", tables.all_tables(), f"sqlite:///{tmp_path}/registry.db")
    demo.seed(platform)
    monkeypatch.delenv("REGISTRY_PSEUDONYM_SECRET")
    app = create_app(platform=platform)
    server = live_server(app)
    app.config["PUBLIC_URL"] = server.url
    csp_errors = []
    page.on("console", lambda msg: csp_errors.append(msg.text) if "Content Security Policy" in msg.text else None)

    sign_in(page, server.url, "rune-forsker")
    page.goto(server.url + "/")
    assert page.locator("h1").inner_text() == "Forskningsdata – pseudonymiserte avslutninger"
    assert page.locator("#case-total").inner_text() == "21"
    for chart in ("#chart-outcome", "#chart-contact", "#chart-duration"):
        box = page.locator(chart).bounding_box()
        assert box and box["width"] > 300 and box["height"] > 100, chart
    # 21 cases over six offices: most office x outcome cells are small, so most of the chart is withheld.
    assert page.locator("#chart-outcome .chart-bar rect.chart-mark:not(.chart-withheld)").count() >= 1
    assert page.locator("#chart-outcome .chart-bar rect.chart-withheld").count() >= 3
    # Table 5's chart: the candidate's and the mentor's bars side by side, withheld numbers drawn as withheld
    contact = page.locator("#chart-contact")
    assert contact.locator(".chart-legend").inner_text().split()[:2] == ["Bruker", "Mentor"]
    assert "skjult" in contact.locator(".chart-rows").first.text_content()  # withheld in the chart too

    with page.expect_download() as download_info:
        page.click("#download-csv")
    path = download_info.value.path()
    with open(path, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 21 and "case_pseudonym" in rows[0]

    page.goto(server.url + "/tabeller/7")
    page.select_option("#by", "county")
    page.click("form.form button[type=submit]")
    assert "by=county" in page.url
    table = page.locator("#distribution").inner_text()
    assert "skjult" in table and "Sum" in table
    page.fill("#period_from", "2020")
    page.fill("#period_to", "2020-Q4")
    page.click("form.form button[type=submit]")
    assert "period_to=2020-Q4" in page.url and page.locator("#distribution-n-total").inner_text() == "21"
    assert "%" in page.locator("#distribution").inner_text()
    page.fill("#period_to", "2020-06-30")  # finer than the stored months: refused on the field
    page.click("form.form button[type=submit]")
    assert "kan ikke sammenlignes" in page.locator(".aksel-error-message").first.inner_text()
    # Table 5 as the report has it: frequency, intensity and forms, a column each for candidate and mentor
    page.goto(server.url + "/tabeller/5?by=county")
    table5 = page.locator("#distribution")
    heads = table5.locator("thead tr").nth(1).locator("th").all_text_contents()
    assert heads[-2:] == ["Bruker", "Mentor"] and heads.count("Bruker") == heads.count("Mentor") > 1
    groups = table5.locator("tbody tr.group th").all_text_contents()
    assert groups == ["Kontakthyppighet", "Kontaktintensitet", "Kontaktform"]
    assert table5.locator("#distribution-n-candidate").inner_text() == "21"
    assert table5.locator("#distribution-n-mentor").inner_text() == "21"
    page.goto(server.url + "/tabeller/1")
    assert page.locator("#table1 tbody tr").count() == 21

    page.goto(server.url + "/utgivelser")
    assert page.locator("#no-releases").count() == 1 and page.locator("#cut-form").count() == 0
    page.context.clear_cookies()
    sign_in(page, server.url, "admin")
    page.goto(server.url + "/utgivelser")
    page.select_option("#labels", "nb")
    page.click("#cut")
    assert page.locator("#cut-done").inner_text() == "Utgivelsen r1v1 er laget."
    assert page.locator("#release-r1v1 table.manifest a").count() == 0  # the admin sees no files
    page.context.clear_cookies()
    sign_in(page, server.url, "rune-forsker")
    page.goto(server.url + "/utgivelser")
    assert "21 saker" in page.locator("#release-r1v1").inner_text()
    # The release notes' k-anonymity report beside the errata: k, and per quasi-identifier what was blanked.
    report = service.list_releases(platform)[0]["notes"]["k_anonymity"]
    anonymity = page.locator("#release-r1v1 table.k-anonymity")
    assert anonymity.locator("caption").inner_text() == f"Endret for å nå k = {report['k']}"
    blanked = {row.locator("th").inner_text(): int(row.locator("td").nth(1).inner_text())
               for row in anonymity.locator("tbody tr").all()}
    assert len(blanked) == 8 and blanked["NAV-kontor"] == report["suppressed"]["office"]
    assert sum(blanked.values()) == sum(report["suppressed"].values()) > 0  # 21 cases over six offices: some blanks
    assert f"minst {report['k']} ganger" in page.locator("#release-r1v1 .k-anonymity-summary").inner_text()
    row = page.locator("#release-r1v1 table.manifest tr", has_text="cases.sav")
    with page.expect_download() as download_info:
        row.locator("a").click()
    with open(download_info.value.path(), "rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == row.locator("code").inner_text()
    page.context.clear_cookies()
    sign_in(page, server.url, "admin")
    page.goto(server.url + "/utgivelser")
    assert "Hash-kjeden er intakt (1 nedlastinger)" in page.locator("#chain-status").inner_text()
    assert "rune-forsker" in page.locator("#download-log").inner_text()
    assert csp_errors == []

    page.context.clear_cookies()
    sign_in(page, server.url, "kari-veileder")
    response = page.goto(server.url + "/")
    assert response.status == 403
    assert "Du har ikke tilgang" in page.content()
