"""The retired one-page closure form's address (services/intake/README.md), in Chromium at laptop and phone width:
answers a tab left open on the old page sends become the draft and land on the steps with a notice that nothing is
sent; a date typed wrong is shown as typed at its step; answers kept when the session could not carry the post wait
at the old address until the person saves them. Screenshots go to the test's temporary folder, or to
docs/screenshots/ (committed) with UPDATE_SCREENSHOTS=1."""
import os

import pytest
from sqlalchemy import text

from services.intake import tables
from services.intake.app import create_app
from services.intake.testing import enter_case
from shared.web import CSRF_COOKIE
from tests.e2e.test_intake_closure_steps import CASE, DOCS_SHOTS
from tests.fixtures.system import sign_in

# What the one-page form sent, every question answered (its hidden fields included).
OLD_PAGE_ANSWERS = {
    "closed_on": "20.11.2026", "closure_reason": "measure_completed", "attachment_after": "work_training",
    "attached_same_company": "yes", "frequency_candidate": "monthly", "frequency_mentor": "monthly",
    "frequency_employer": "less_than_monthly", "intensity_candidate": "even", "intensity_mentor": "even",
    "forms_candidate": "phone", "forms_mentor": "phone", "duration": "3_6_months", "feedback_mentor": "satisfied",
    "feedback_counsellor": "very_satisfied", "action": "submit", "list_version": "2026-1", "expected_version": "6",
    **{f"success_criteria.{c}": "achieved" for c in ("in_work_or_education", "natural_support", "masters_tasks",
                                                      "employer_satisfied", "plan_followed", "experience_shared")}}


def _send_from_an_old_tab(page, action: str, answers: dict) -> None:
    """A form as the old page sent it, from a page of the same session (its CSRF token is the page's own)."""
    token = page.locator("input[name=csrf_token]").first.input_value()
    with page.expect_navigation():
        page.evaluate("""([action, fields]) => {
            const form = document.createElement('form');
            form.method = 'post';
            form.action = action;
            for (const [name, value] of fields) {
                const input = document.createElement('input');
                input.type = 'hidden'; input.name = name; input.value = value;
                form.appendChild(input);
            }
            document.body.appendChild(form);
            form.submit();
        }""", [action, [["csrf_token", token], *answers.items()]])


@pytest.mark.parametrize("width,height,device", [(1280, 900, "laptop"), (390, 844, "phone")])
def test_answers_from_the_retired_one_page_closure_form(platform_factory, live_server, page, tmp_path, width,
                                                        height, device):
    platform = platform_factory("intake", tables.all_tables(), f"sqlite:///{tmp_path}/intake.db")
    case_id = enter_case(platform, "kristiansand", "kari-veileder", CASE, seed=78)["case_id"]
    app = create_app(platform=platform)
    server = live_server(app)
    app.config["PUBLIC_URL"] = server.url
    page.set_viewport_size({"width": width, "height": height})
    shots = DOCS_SHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)

    def shot(name):
        page.screenshot(path=str(shots / f"sluttskjema-en-side-{name}-{device}.png"), full_page=True)

    def sent_closures():
        with platform.engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM intake_closures")).scalar()

    sign_in(page, server.url, "kari-veileder")
    old_page = f"{server.url}/saker/{case_id}/avslutning"
    page.goto(old_page)  # a bookmark: the steps
    assert page.url.endswith("/sluttskjema/avslutning")

    # A date typed wrong on the old page: shown as typed at its step, the other answers saved.
    page.goto(f"{server.url}/saker/{case_id}")
    _send_from_an_old_tab(page, f"/saker/{case_id}/avslutning", {**OLD_PAGE_ANSWERS, "closed_on": "31.02.2026"})
    assert page.locator("#closed_on").input_value() == "31.02.2026"
    assert page.locator("#error-summary a[href='#closed_on']").count() == 1
    assert "unntatt de som er merket her" in page.locator("#melding").inner_text()
    shot("1-feil")

    # The same page sent right: the check-answers page with every answer, and nothing sent yet.
    page.goto(f"{server.url}/saker/{case_id}")
    _send_from_an_old_tab(page, f"/saker/{case_id}/avslutning", OLD_PAGE_ANSWERS)
    assert page.url.split("?")[0].endswith("/sluttskjema/oppsummering")
    assert "ikke sendt" in page.locator("#melding").inner_text() and "20.11.2026" in page.locator("main").inner_text()
    assert sent_closures() == 0
    shot("2-lagret")

    # Sent from the old page after the browser lost its CSRF cookie: kept, and shown at the old address after.
    page.context.clear_cookies(name=CSRF_COOKIE)
    refused = page.request.post(old_page, form={**OLD_PAGE_ANSWERS, "feedback_counsellor": "satisfied"},
                                headers={"Referer": old_page})
    assert refused.status == 403
    page.goto(old_page)
    assert page.locator("#tatt-vare").count() == 1 and page.locator("#lagre-svarene").count() == 1
    answer = page.locator(".summary-row", has_text="om deg som veileder").locator("dd").first
    assert answer.inner_text() == "Fornøyd"  # the kept answer over the draft's «Svært fornøyd»
    shot("3-tatt-vare")
    page.click("#lagre-svarene")
    page.wait_for_load_state()
    assert page.url.split("?")[0].endswith("/sluttskjema/oppsummering") and page.locator("#tatt-vare").count() == 0
    assert sent_closures() == 0
    page.click("#send")
    assert page.locator("h1").inner_text() == "Sluttskjemaet er sendt" and sent_closures() == 1
