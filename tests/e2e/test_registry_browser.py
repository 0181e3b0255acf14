"""A researcher in headless Chromium: signs in, sees the three charts (SVG under a 'self'-only CSP), a suppressed
table and downloads the CSV export with the button; a counsellor is turned away."""
from __future__ import annotations

import csv

from services.registry import demo, tables
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
    for chart in ("#chart-outcome", "#chart-mentor", "#chart-duration"):
        box = page.locator(chart).bounding_box()
        assert box and box["width"] > 300 and box["height"] > 100, chart
    # 21 cases over six offices: most office x outcome cells are small, so most of the chart is withheld.
    assert page.locator("#chart-outcome rect.bar").count() >= 1
    assert page.locator("#chart-outcome rect[fill='#e0e0e0']").count() >= 3
    assert "skjult (få)" in page.locator("#chart-mentor").text_content()  # small counts withheld in the chart too

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
    assert ":" in table and "Sum" in table
    page.goto(server.url + "/tabeller/1")
    assert page.locator("#table1 tbody tr").count() == 21
    assert csp_errors == []

    page.context.clear_cookies()
    sign_in(page, server.url, "kari-veileder")
    response = page.goto(server.url + "/")
    assert response.status == 403
    assert "Du har ikke tilgang" in page.content()
