"""The researchers' charts on a phone (issue #16 point 4), in Chromium at 390 px against the registry with the demo
data: every label and value is text of at least 12 px (the old SVG shrank to fit, about 5 px), the label sits on
its own line above its bar instead of the chart shrinking, each bar's number is printed and agrees with the chart's
data table, the legend has the withheld entry, and every mark (each colour, and the withheld hatching and its
outline, in the bars and in the legend) has 3:1 contrast against the card behind it. Screenshots of the registry's
pages at laptop and phone width go to docs/screenshots/ (committed) with UPDATE_SCREENSHOTS=1 only, so a test run
never changes the checkout."""
from __future__ import annotations

import os
from pathlib import Path

from services.registry import demo, tables
from services.registry.app import create_app
from tests.fixtures.system import sign_in

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}
DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHARTS = ("#chart-outcome", "#chart-contact", "#chart-duration")

# Per chart: the smallest computed font size of any text in it, the marks' contrast against the card (a pattern
# fill is taken at its hatching's colour, a withheld mark also at its outline), and where the first label and bar
# are. The colour behind is the first ancestor with an opaque background.
CHART_JS = """chart => {
  const rgb = c => (c.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const lin = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  };
  const ratio = (x, y) => { const [a, b] = [luminance(x), luminance(y)].sort((p, q) => q - p);
                            return (a + 0.05) / (b + 0.05); };
  let behind = chart, background = [255, 255, 255];
  while (behind) {
    const c = rgb(getComputedStyle(behind).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) { background = c.slice(0, 3); break; }
    behind = behind.parentElement;
  }
  const walker = document.createTreeWalker(chart, NodeFilter.SHOW_TEXT);
  const sizes = [];
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!walker.currentNode.textContent.trim() || !el.getClientRects().length) continue;
    if (el.closest('details:not([open])')) continue;
    sizes.push([parseFloat(getComputedStyle(el).fontSize), walker.currentNode.textContent.trim().slice(0, 30)]);
  }
  const marks = Array.from(chart.querySelectorAll('rect.chart-mark')).map(rect => {
    const style = getComputedStyle(rect);
    const found = [];
    const fill = style.fill;
    if (fill.startsWith('url(')) {
      const id = fill.match(/#([^"')]+)/)[1];
      document.getElementById(id).querySelectorAll('line').forEach(l => found.push(rgb(getComputedStyle(l).stroke)));
      found.push(rgb(style.stroke));
    } else {
      found.push(rgb(fill));
    }
    return {withheld: rect.classList.contains('chart-withheld'), inLegend: !!rect.closest('.chart-legend'),
            contrast: Math.min(...found.map(c => ratio(c.slice(0, 3), background)))};
  });
  const label = chart.querySelector('.chart-row .chart-label').getBoundingClientRect();
  const bar = chart.querySelector('.chart-row .chart-bar').getBoundingClientRect();
  return {sizes, marks, labelBottom: label.bottom, barTop: bar.top, barWidth: bar.width,
          chartWidth: chart.getBoundingClientRect().width};
}"""


def test_charts_are_readable_on_a_phone_with_values_legend_and_contrast(platform_factory, live_server, page,
                                                                        tmp_path, monkeypatch):
    monkeypatch.setenv("REGISTRY_PSEUDONYM_SECRET", "charts-secret-" + "c" * 40)
    platform = platform_factory("registry", tables.all_tables(), f"sqlite:///{tmp_path}/registry.db")
    demo.seed(platform)
    monkeypatch.delenv("REGISTRY_PSEUDONYM_SECRET")
    app = create_app(platform=platform)
    server = live_server(app)
    app.config["PUBLIC_URL"] = server.url
    sign_in(page, server.url, "rune-forsker")
    page.set_viewport_size(PHONE)
    page.goto(server.url + "/")

    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for chart in CHARTS:
        found = page.locator(chart).evaluate(CHART_JS)
        small = [(size, text) for size, text in found["sizes"] if size < 12]
        assert found["sizes"] and small == [], f"{chart}: text under 12 px on a phone: {small[:5]}"
        # The layout wraps: the label on its own line above a bar that keeps most of the phone's width.
        assert found["labelBottom"] <= found["barTop"] + 1 and found["barWidth"] > 0.5 * found["chartWidth"], chart
        low = [mark for mark in found["marks"] if mark["contrast"] < 3.0]
        assert found["marks"] and low == [], f"{chart}: marks under 3:1 against the card: {low[:5]}"
        # Each chart carries its data table (a caption and a row header per category).
        assert page.locator(f"{chart} details table caption").count() == 1, chart

    # The bars' numbers are printed, and they are the data table's ("12", or "skjult" where withheld).
    def first_word(text):
        return text.strip().split(":")[0].split(" ")[0]
    for chart, table in (("#chart-duration", "#data-duration"),):
        labels = [text.strip() for text in page.locator(f"{chart} .chart-row .chart-label").all_text_contents()]
        printed = [first_word(text) for text in page.locator(f"{chart} .chart-row .chart-value").all_text_contents()]
        listed = {row.locator("th").text_content().strip(): first_word(row.locator("td").first.text_content())
                  for row in page.locator(f"{table} tbody tr:not(.totals)").all()}
        assert printed and all(value.isdigit() or value == "skjult" for value in printed), printed
        assert printed == [listed[label] for label in labels], (chart, printed, listed)
    # Table 5's chart: two bars a category, "Bruker: n" and "Mentor: n", the data table's sum columns per party
    rows = page.locator("#chart-contact .chart-row").all()
    assert rows
    for row in rows:
        label = row.locator(".chart-label").inner_text().strip()
        values = [text.strip() for text in row.locator(".chart-value").all_text_contents()]
        assert [v.split(":")[0] for v in values] == ["Bruker", "Mentor"], values
        cells = page.locator("#data-contact tbody tr:not(.totals):not(.group)").filter(
            has=page.locator("th", has_text=label)).first.locator("td").all_text_contents()
        # the last four cells: the sum's count and % for the candidate, then for the mentor
        assert [first_word(v.split(":", 1)[1]) for v in values] == [first_word(cells[-4]), first_word(cells[-2])]

    # 21 cases over six offices: most office x outcome cells are withheld, drawn hatched and named in the legend.
    outcome = page.locator("#chart-outcome")
    assert outcome.locator(".chart-bar rect.chart-withheld").count() >= 3
    legend = outcome.locator(".chart-legend .chart-legend-withheld")
    assert legend.count() == 1 and "skjult: færre enn 5" in legend.inner_text()
    assert legend.locator("rect.chart-withheld").count() == 1
    assert outcome.locator(".chart-values").first.inner_text().strip() != ""  # each office's numbers in words
    marks = outcome.evaluate(CHART_JS)["marks"]
    assert any(m["withheld"] and m["inLegend"] for m in marks) and any(m["withheld"] and not m["inLegend"]
                                                                       for m in marks)

    # The distribution table says what a withheld cell is, in words.
    page.goto(server.url + "/tabeller/outcome?by=office")
    withheld = page.locator("#distribution td .withheld").first
    assert withheld.text_content() == "skjult: færre enn 5 eller kan regnes ut"
    # A wide table scrolls in its own box at 320 px; its screen-reader texts (absolutely positioned) must not
    # widen the page from outside that box.
    page.set_viewport_size({"width": 320, "height": 640})
    for path in ("/tabeller/7?by=county", "/tabeller/outcome?by=office", "/tabeller/1"):
        page.goto(server.url + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 320, path

    if os.environ.get("UPDATE_SCREENSHOTS") == "1":  # full-page shots take seconds: only when asked for
        _screenshots(page, server.url, DOCS_SHOTS)


def _screenshots(page, base_url, shots):
    pages = {"forside": "/", "tabell": "/tabeller/outcome?by=office", "tabell1": "/tabeller/1"}
    for device, size in (("laptop", LAPTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        for name, path in pages.items():
            page.goto(base_url + path)
            page.screenshot(path=str(shots / f"forskningsdata-{name}-{device}-etter.png"), full_page=True)
