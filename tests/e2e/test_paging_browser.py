"""The shared pager and ReadMore in Chromium (issue #16 point 1), on intake's case list and overdue list with 120
cases (three pages): Aksel's pagination in a labelled nav marks the page shown, its links move between pages and
keep the filter, it fits a 390 px phone, and the page state passes axe and the checks axe cannot make
(tests/e2e/beyond_axe.py); the overdue rule is behind a ReadMore that opens from the keyboard and shows its text.
Screenshots of page 2 at laptop and phone width go to docs/screenshots/ with UPDATE_SCREENSHOTS=1 only."""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from services.intake import tables
from services.intake.app import create_app
from services.intake.testing import enter_case
from tests.e2e import beyond_axe
from tests.e2e.test_universal_design import _axe_violations
from tests.fixtures.system import sign_in

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}
DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CASES = 120


@pytest.fixture
def axe_page(chromium):
    # axe is injected into the page: the pages' Content-Security-Policy (script-src 'self') would refuse it.
    context = chromium.new_context(locale="nb-NO", bypass_csp=True, viewport=beyond_axe.DESKTOP)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def server(platform_factory, live_server, tmp_path):
    platform = platform_factory("intake", tables.all_tables(), f"sqlite:///{tmp_path}/intake.db")
    today = platform.clock.today()
    with platform.engine.begin() as conn:
        for i in range(CASES):  # opened long ago with nothing since: open and overdue
            enter_case(platform, "kristiansand", "kari-veileder", {
                "opened_on": (today - timedelta(days=300 - i)).isoformat(), "entry_point": "course_start",
                "industry": "retail", "initiator": "counsellor", "reasons": ["extra_follow_up"],
                "counsellor_knew_company": "no", "attachment_before": "none", "mentor_relation": "none",
                "candidate_name": f"Side Person{i:03d}"}, seed=500 + i, conn=conn)
    app = create_app(platform=platform)
    running = live_server(app)
    app.config["PUBLIC_URL"] = running.url
    return running


def test_case_list_pages_in_aksels_pagination_on_laptop_and_phone(server, axe_page):
    page = axe_page
    sign_in(page, server.url, "kari-veileder")
    page.goto(server.url + "/?status=open&side=2")
    pager = page.get_by_role("navigation", name="Sider i sakslisten")
    assert pager.count() == 1
    assert pager.locator("[aria-current=page]").inner_text().strip() == "2"
    assert [link.inner_text().strip() for link in pager.get_by_role("link").all()] == [
        "Forrige", "1", "2", "3", "Neste"]
    assert page.locator("#side-vist").inner_text() == f"Viser 51–100 av {CASES} saker"
    problems = _axe_violations(page) + beyond_axe.check(page)
    assert problems == [], problems

    # The keyboard reaches «Neste» and follows it; the filter stays.
    pager.get_by_role("link", name="Neste").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "status=open" in page.url and "side=3" in page.url
    assert page.locator("#side-vist").inner_text() == f"Viser 101–{CASES} av {CASES} saker"
    assert "Side Person000" in page.locator("#cases").inner_text()  # the oldest, last
    assert page.get_by_role("navigation", name="Sider i sakslisten").get_by_role("link", name="Neste").count() == 0

    page.goto(server.url + "/?status=open&side=2")
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    box = page.get_by_role("navigation", name="Sider i sakslisten").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]

    if os.environ.get("UPDATE_SCREENSHOTS") == "1":  # full-page shots take seconds: only when asked for
        for device, size in (("laptop", LAPTOP), ("phone", PHONE)):
            page.set_viewport_size(size)
            page.goto(server.url + "/?status=open&side=2")
            page.screenshot(path=str(DOCS_SHOTS / f"saksliste-side-2-{device}-etter.png"), full_page=True)


def test_overdue_rule_is_a_read_more_that_opens_from_the_keyboard(server, axe_page):
    page = axe_page
    sign_in(page, server.url, "lise-kontakt")
    page.goto(server.url + "/oversikt")
    summary = page.locator("#forsinket-regel > summary")
    text = page.locator("#forsinket-regel .aksel-read-more__content")
    assert summary.inner_text().strip() == "Hva regnes som forsinket?" and not text.is_visible()
    summary.focus()
    page.keyboard.press("Enter")
    assert text.is_visible() and "dager siden siste aktivitet" in text.inner_text()
    assert page.locator("#forsinket-regel[open]").count() == 1
    pager = page.get_by_role("navigation", name="Sider i listen over forsinkede saker")
    assert pager.locator("[aria-current=page]").inner_text().strip() == "1"
    problems = _axe_violations(page) + beyond_axe.check(page)
    assert problems == [], problems
