"""The counsellor's journey in Chromium, counted: from sign-in to a submitted closure form (sluttskjema) for a case
with four logged contacts.

    .venv/bin/python bench/bench_journey.py [--width 1280 --height 800] [--json]

A command, not a test. It starts the platform's OpenID provider (deploy/oidc/provider.mjs, as the tests start it:
tests/fixtures/oidc.py) and intake alone against it (SQLite in a temporary folder, the demo cases of the office plus
the journey's case), signs in as the counsellor at the provider's login form (NAV ident and password typed), and walks
the task as a person would. Per step and in all it prints:

- pages: documents loaded in the tab (a redirect's target counts once);
- clicks: each click on a link, button, field, radio or checkbox; choosing in a list counts two (open, choose);
- keys: key presses, every typed character included (a date is typed as its eight digits);
- scroll: the most the page had to be scrolled in the step to reach what was used (px below the first screen).

The sign-in is its own step, also left out of a third total ("after sign-in"): the provider's form asks for a login
(the counsellor types her NAV ident, as NAV's staff sign in; the form also takes the e-mail address) where the old
local password page had a list of people, so only the rest compares with figures taken before the provider. The
journey's answers are the same on every run; only the pages it walks change with the user interface.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.intake import demo, tables  # noqa: E402  (after the path: the command runs from anywhere)
from services.intake.app import create_app  # noqa: E402
from services.intake.testing import enter_case  # noqa: E402
from shared.clock import FixedClock  # noqa: E402
from tests.fixtures.db import make_test_platform  # noqa: E402
from tests.fixtures.oidc import running_provider  # noqa: E402
from tests.fixtures.system import CHROMIUM, CHROMIUM_ARGS, LiveServer  # noqa: E402
from tests.fixtures.tokens import directory_user  # noqa: E402

TODAY = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
COUNSELLOR = "kari-veileder"
CANDIDATE = "Reisende Tellesen"
JOURNEY_CASE = {
    "candidate_name": CANDIDATE, "opened_on": "2026-08-03", "entry_point": "course_start", "industry": "retail",
    "initiator": "counsellor", "reasons": ["extra_follow_up"], "counsellor_knew_company": "no",
    "attachment_before": "none", "mentor_relation": "colleague",
    "measures": [{"measure": "mentor_subsidy", "from_date": "2026-08-10", "to_date": "2026-10-30"}],
    "contacts": [{"contact_date": "2026-08-10", "party": "mentor", "form": "at_company", "minutes": 45},
                 {"contact_date": "2026-08-11", "party": "candidate", "form": "phone", "minutes": 20},
                 {"contact_date": "2026-09-14", "party": "employer", "form": "email", "minutes": 10},
                 {"contact_date": "2026-10-26", "party": "mentor", "form": "phone", "minutes": 30}],
}
CLOSED_ON = date(2026, 11, 20)


@dataclass
class Step:
    name: str
    pages: int = 0
    clicks: int = 0
    keys: int = 0
    scroll: int = 0
    closure_part: bool = False


@dataclass
class Journey:
    """Wraps a Playwright page and counts what a person does on it, step by step."""
    page: object
    steps: list = field(default_factory=list)

    def __post_init__(self):
        self.page.on("load", lambda _page: self._count_page())

    def _count_page(self):
        if self.steps:
            self.steps[-1].pages += 1

    def step(self, name: str, closure_part: bool = False) -> None:
        self.steps.append(Step(name, closure_part=closure_part))

    def _reach(self, selector: str):
        locator = self.page.locator(selector).first
        bottom = locator.evaluate("el => el.getBoundingClientRect().bottom + window.scrollY")
        viewport = self.page.viewport_size["height"]
        self.steps[-1].scroll = max(self.steps[-1].scroll, int(max(0, bottom - viewport)))
        return locator

    def click(self, selector: str, navigates: bool = False) -> None:
        locator = self._reach(selector)
        self.steps[-1].clicks += 1
        if navigates:
            with self.page.expect_navigation():
                locator.click()
        else:
            locator.click()

    def type(self, selector: str, text: str) -> None:
        locator = self._reach(selector)
        self.steps[-1].clicks += 1
        self.steps[-1].keys += len(text)
        locator.fill(text)

    def type_date(self, selector: str, value: date) -> None:
        """A date field: the eight digits typed (dd mm åååå), whatever the field looks like."""
        locator = self._reach(selector)
        self.steps[-1].clicks += 1
        self.steps[-1].keys += 8
        locator.fill(value.isoformat() if locator.get_attribute("type") == "date" else value.strftime("%d.%m.%Y"))

    def choose(self, selector: str, value: str) -> None:
        locator = self._reach(selector)
        self.steps[-1].clicks += 2
        locator.select_option(value)

    def check(self, selector: str) -> None:
        locator = self._reach(selector)
        self.steps[-1].clicks += 1
        locator.check()

    def totals(self, closure_part: bool | None = None, sign_in: bool = True) -> dict:
        steps = [s for s in self.steps if (closure_part is None or s.closure_part == closure_part)
                 and (sign_in or s.name != "sign-in")]
        return {"pages": sum(s.pages for s in steps), "clicks": sum(s.clicks for s in steps),
                "keys": sum(s.keys for s in steps), "actions": sum(s.clicks + s.keys for s in steps),
                "max_scroll": max((s.scroll for s in steps), default=0)}


def sign_in(journey: Journey, base_url: str, provider_issuer: str) -> None:
    page = journey.page
    journey.step("sign-in")
    page.goto(base_url + "/")  # the counsellor opens the bookmark; the platform sends the browser to the provider
    journey.steps[-1].pages = 1
    if not page.locator("#login").count():  # a page with a sign-in link first
        journey.click("a[href*='logg-inn']", navigates=True)
    assert page.url.startswith(provider_issuer) and page.locator("#login").count(), page.url
    journey.type("#login", directory_user(COUNSELLOR)["nav_ident"])
    journey.type("#password", "demo")
    journey.click("button[type=submit]", navigates=True)
    page.wait_for_url(base_url + "/**")  # the provider's redirects back through the callback to the start page
    assert "/logg-inn" not in page.url and page.locator(f"a:text-is('{CANDIDATE}')").count(), page.url


def find_case(journey: Journey) -> None:
    journey.step("find the case")
    journey.click(f"a:text-is('{CANDIDATE}')", navigates=True)


def closure_in_steps(journey: Journey) -> None:
    """The closure form in steps (issue #15): the closure, the derived contact answers confirmed, the assessment,
    then the check-answers page and the receipt."""
    journey.step("case page to the closure form", closure_part=True)
    journey.click("#til-avslutning", navigates=True)
    page = journey.page
    journey.step("step 1: the closure", closure_part=True)
    journey.type_date("#closed_on", CLOSED_ON)
    journey.check("input[name=closure_reason][value=measure_completed]")
    journey.check("input[name=attachment_after][value=permanent_with_wage_subsidy]")
    journey.check("input[name=attached_same_company][value=yes]")
    journey.click("#fortsett", navigates=True)
    journey.step("step 2: contact, derived, confirmed", closure_part=True)
    for name in ("frequency_candidate", "frequency_mentor", "frequency_employer", "duration"):
        if not page.locator(f"#{name}").input_value():  # a derivation without basis is the counsellor's to answer
            journey.choose(f"#{name}", page.locator(f"#{name} option").nth(1).get_attribute("value"))
    journey.click("#fortsett", navigates=True)
    journey.step("step 3: assessment", closure_part=True)
    for fieldset in page.locator("fieldset[id^='success_criteria.']").all():
        journey.check(f"[id='{fieldset.get_attribute('id')}'] input[value=achieved]")
    journey.check("input[name=feedback_mentor][value=satisfied]")
    journey.check("input[name=feedback_counsellor][value=satisfied]")
    journey.click("#fortsett", navigates=True)
    journey.step("check answers and send", closure_part=True)
    journey.click("#send", navigates=True)
    assert page.locator("h1").inner_text() == "Sluttskjemaet er sendt", page.url


def run(width: int, height: int) -> Journey:
    from playwright.sync_api import sync_playwright  # deferred: the figures' module needs no browser to import
    with tempfile.TemporaryDirectory() as folder, running_provider(Path(folder)) as provider:
        platform = make_test_platform("intake", tables.all_tables(), f"sqlite:///{folder}/intake.db", Path(folder),
                                      clock=FixedClock(TODAY), env=provider.app_env())
        demo.seed(platform)
        enter_case(platform, "kristiansand", COUNSELLOR, JOURNEY_CASE, seed=4242)
        app = create_app(platform=platform)
        with LiveServer(app, provider) as server:  # the app's public address is the server's: the redirect back
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                context = browser.new_context(locale="nb-NO", viewport={"width": width, "height": height})
                journey = Journey(context.new_page())
                sign_in(journey, server.url, provider.issuer)
                find_case(journey)
                closure_in_steps(journey)
                browser.close()
        platform.engine.dispose()
    return journey


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=800)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    journey = run(args.width, args.height)
    figures = {"viewport": [args.width, args.height], "steps": [vars(s) for s in journey.steps],
               "whole": journey.totals(), "after_sign_in": journey.totals(sign_in=False),
               "closure_part": journey.totals(closure_part=True)}
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"viewport {args.width}x{args.height}")
    print(f"{'step':40} {'pages':>5} {'clicks':>6} {'keys':>5} {'scroll px':>9}")
    for s in journey.steps:
        print(f"{s.name:40} {s.pages:5} {s.clicks:6} {s.keys:5} {s.scroll:9}")
    for label, totals in (("whole journey", figures["whole"]), ("after sign-in", figures["after_sign_in"]),
                          ("closure part", figures["closure_part"])):
        print(f"{label:40} {totals['pages']:5} {totals['clicks']:6} {totals['keys']:5} {totals['max_scroll']:9}"
              f"   actions (clicks + keys) {totals['actions']}")


if __name__ == "__main__":
    main()
