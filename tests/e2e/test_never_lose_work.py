"""Never lose work (issue #15), in Chromium: the idle-timeout warning and its "Forleng"; a closure step sent after the
session ended, and one sent after the browser lost its CSRF cookie, both lead through sign-in back to the same step
with the answers there; the consent form with a mistake and a file keeps everything typed and says the file must be
chosen again (browsers do not let a page choose a file)."""
from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import jwt
from sqlalchemy import select

from services.consent.app import create_app as create_consent_app
from services.intake import tables
from services.intake.app import create_app
from services.intake.testing import enter_case
from shared.auth import COOKIE_NAME
from shared.web import CSRF_COOKIE
from tests.fixtures.system import sign_in
from tests.fixtures.tokens import directory_user
from tests.integration.test_consent_helpers import PNG, consent_platform, count, open_case

CASE = {"candidate_name": "Tatt Vare", "opened_on": "2026-08-03", "entry_point": "course_start", "industry": "retail",
        "initiator": "counsellor", "reasons": ["extra_follow_up"], "counsellor_knew_company": "no",
        "attachment_before": "none", "mentor_relation": "colleague",
        "measures": [{"measure": "mentor_subsidy", "from_date": "2026-08-10", "to_date": "2026-10-30"}],
        "contacts": [{"contact_date": "2026-08-10", "party": "mentor", "form": "at_company", "minutes": 45}]}


def _serve(live_server, app, platform):
    server = live_server(app)
    # The provider sends the browser back to the app's own address.
    platform.settings = replace(platform.settings, public_url=server.url)
    app.config["PUBLIC_URL"] = server.url
    return server


def _intake(platform_factory, live_server, oidc_provider, tmp_path, seed, **env):
    platform = platform_factory("intake", tables.all_tables(), f"sqlite:///{tmp_path}/intake.db",
                                env=oidc_provider.app_env(**env))
    case_id = enter_case(platform, "kristiansand", "kari-veileder", CASE, seed=seed)["case_id"]
    app = create_app(platform=platform)
    return platform, _serve(live_server, app, platform), case_id


def _session_exp(page) -> int:
    token = next(c["value"] for c in page.context.cookies() if c["name"] == COOKIE_NAME)
    return jwt.decode(token, options={"verify_signature": False})["exp"]


def _idle_timeout_passes(page, session_key: str):
    """What the browser holds once SESSION_IDLE_MINUTES have passed since the last page: the same cookie (it lives
    the absolute lifetime) with its token, same person and provider session, expired."""
    cookie = next(c for c in page.context.cookies() if c["name"] == COOKIE_NAME)
    claims = jwt.decode(cookie["value"], options={"verify_signature": False})
    past = int((datetime.now(UTC) - timedelta(hours=1)).timestamp())
    expired = jwt.encode({**claims, "iat": past, "exp": past + 60}, session_key, algorithm="HS256")
    page.context.add_cookies([{**cookie, "value": expired}])


def _through_sign_in(page, landing: str, user="kari-veileder"):
    """The platform sent the browser to sign in: the provider's login form unless its own session is still on,
    then back to `landing`."""
    page.wait_for_load_state()
    if page.locator("#login").count():
        page.fill("#login", directory_user(user)["email"])
        page.fill("#password", "demo")
        with page.expect_navigation():
            page.click("button[type=submit]")
    page.wait_for_url(landing + "*")


def _fill_first_step(page):
    page.fill("#closed_on", "2026-11-20")
    page.check("input[name=closure_reason][value=measure_completed]")
    page.check("input[name=attachment_after][value=permanent_with_wage_subsidy]")
    page.check("input[name=attached_same_company][value=yes]")


def _first_step_is_filled(page):
    assert page.locator("#closed_on").input_value() == "2026-11-20"
    assert page.locator("input[name=closure_reason][value=measure_completed]").is_checked()
    assert page.locator("input[name=attachment_after][value=permanent_with_wage_subsidy]").is_checked()
    assert page.locator("input[name=attached_same_company][value=yes]").is_checked()


def _kept_count(platform):
    with platform.engine.connect() as conn:
        return len(conn.execute(select(platform.tables["kept_forms"])).all())


def test_the_idle_timeout_warning_appears_in_time_and_forleng_extends_the_session(
        platform_factory, live_server, oidc_provider, page, tmp_path):
    # One minute of idle time: the warning comes 30 seconds before the end. The page's clock is Playwright's, so
    # the test moves it forward instead of waiting.
    platform, server, case_id = _intake(platform_factory, live_server, oidc_provider, tmp_path, 151,
                                        SESSION_IDLE_MINUTES="1")
    page.clock.install()
    sign_in(page, server.url, "kari-veileder")
    page.goto(f"{server.url}/saker/{case_id}")
    dialog = page.locator("#okt-varsel")
    assert not dialog.is_visible()
    # From here the page's time moves only when the test moves it, however slow the machine.
    page.clock.pause_at(datetime.fromtimestamp(page.evaluate("Date.now()") / 1000 + 1, UTC))
    page.clock.run_for(20_000)
    assert not dialog.is_visible()  # not yet: 40 seconds are left
    page.clock.run_for(12_000)
    assert dialog.is_visible() and dialog.get_attribute("role") == "alertdialog"
    assert "Du blir snart logget ut" in dialog.inner_text() and "klokken" in dialog.inner_text()
    assert page.evaluate("document.activeElement.id") == "okt-forleng"  # focus moved into the dialog
    before = _session_exp(page)
    time.sleep(1.1)  # the token's expiry is in whole seconds
    with page.expect_response(lambda r: r.url.endswith("/okt/forleng")) as answer:
        page.click("#okt-forleng")
    assert answer.value.status == 200
    dialog.wait_for(state="hidden")
    assert _session_exp(page) > before  # the session lasts longer than it would have
    # The warning comes again before the new end (30 seconds before it), not at the old one.
    page.clock.run_for(20_000)
    assert not dialog.is_visible()
    page.clock.run_for(12_000)
    assert dialog.is_visible() and "Vil du fortsette" in dialog.inner_text()  # the old end passed unnoticed
    # Left alone past the end, the dialog says the session has ended and what happens to what is sent now.
    page.clock.run_for(40_000)
    assert "Du er logget ut" in dialog.inner_text() and not page.locator("#okt-forleng").is_visible()


def test_a_closure_step_sent_after_the_session_ended_comes_back_after_sign_in(
        platform_factory, live_server, oidc_provider, page, tmp_path):
    platform, server, case_id = _intake(platform_factory, live_server, oidc_provider, tmp_path, 152)
    sign_in(page, server.url, "kari-veileder")
    step = f"{server.url}/saker/{case_id}/sluttskjema/avslutning"
    page.goto(step)
    _fill_first_step(page)
    _idle_timeout_passes(page, oidc_provider.session_key)
    page.click("#fortsett")
    _through_sign_in(page, step)
    assert page.url == step
    assert "Se over dem og send skjemaet på nytt" in page.locator("#tatt-vare").inner_text()
    _first_step_is_filled(page)
    page.click("#fortsett")
    assert page.url.endswith("/sluttskjema/kontakt")  # sent now, and the next step follows
    assert _kept_count(platform) == 0


def test_a_step_sent_after_the_browser_lost_its_csrf_cookie_comes_back_after_sign_in(
        platform_factory, live_server, oidc_provider, page, tmp_path):
    platform, server, case_id = _intake(platform_factory, live_server, oidc_provider, tmp_path, 153)
    sign_in(page, server.url, "kari-veileder")
    step = f"{server.url}/saker/{case_id}/sluttskjema/avslutning"
    page.goto(step)
    _fill_first_step(page)
    page.context.clear_cookies(name=CSRF_COOKIE)  # a browser restart ends the CSRF cookie's browser session
    page.click("#fortsett")
    assert page.locator("h1").inner_text() == "Skjemaet ble ikke sendt"
    assert page.locator("form.signout").count() == 1  # the page frame with its menu, not a bare 403
    page.click("#logg-inn-igjen")
    _through_sign_in(page, step)
    assert page.url == step
    _first_step_is_filled(page)
    page.click("#fortsett")
    assert page.url.endswith("/sluttskjema/kontakt")


def test_the_consent_form_keeps_what_was_typed_through_a_mistake_and_an_ended_session(
        platform_factory, live_server, oidc_provider, page, tmp_path):
    platform = consent_platform(platform_factory, f"sqlite:///{tmp_path}/consent.db", env=oidc_provider.app_env())
    case_id = open_case(platform, mentor_relation="none")
    app = create_consent_app(platform=platform)
    server = _serve(live_server, app, platform)
    sign_in(page, server.url, "kari-veileder")
    case_page = f"{server.url}/saker/{case_id}"
    page.goto(case_page)
    scan = [{"name": "skann.png", "mimeType": "image/png", "buffer": PNG}]

    # A mistake (a national ID that is not one) with a file chosen: everything typed is there again.
    page.fill("#signer_name", "Ada Kandidat")
    page.fill("#signer_national_id", "12345")
    page.check("input[name=decision_research_registration][value=granted]")
    page.set_input_files("#document", files=scan)
    page.click("#record-form button[type=submit]")
    assert page.locator("#error-summary").is_visible()
    assert page.locator("#signer_name").input_value() == "Ada Kandidat"
    assert page.locator("#signer_national_id").input_value() == "12345"
    assert page.locator("input[name=decision_research_registration][value=granted]").is_checked()
    assert "Velg filen på nytt" in page.locator("#record-form").inner_text()  # the page says why it is gone

    # The session ends before the corrected form is sent: through sign-in, back to the case with it filled in.
    page.fill("#signer_national_id", "")
    page.set_input_files("#document", files=scan)
    _idle_timeout_passes(page, oidc_provider.session_key)
    page.click("#record-form button[type=submit]")
    _through_sign_in(page, case_page)
    assert page.url.startswith(case_page)
    assert page.locator("#signer_name").input_value() == "Ada Kandidat"
    assert page.locator("input[name=decision_research_registration][value=granted]").is_checked()
    assert "Filer må velges på nytt" in page.locator("#tatt-vare").inner_text()
    assert "Velg filen på nytt" in page.locator("#record-form .kept-file-hint").inner_text()
    assert count(platform, "records") == 0
    page.set_input_files("#document", files=scan)
    page.click("#record-form button[type=submit]")
    assert "Samtykket er lagret" in page.locator("#melding").inner_text()
    assert count(platform, "records") == 1


def test_through_the_identity_provider_a_form_sent_after_the_idle_timeout_comes_back(stack, page):
    """The whole system: sign-in at the OpenID provider, the services behind the proxy at their prefixes."""
    sign_in(page, stack.base_url, "kari-veileder")
    form_page = stack.url("/intake/saker/ny")
    page.goto(form_page)
    page.fill("#candidate_name", "Tatt Vare-Gjennom")
    page.fill("#employer_name", "Bevart Bedrift AS")
    page.check("input[name=reasons][value=extra_follow_up]")
    _idle_timeout_passes(page, (stack.data_dir / "session-key").read_text().strip())
    page.click("form.card button[type=submit]")
    _through_sign_in(page, form_page)
    assert page.locator("#candidate_name").input_value() == "Tatt Vare-Gjennom"
    assert page.locator("#employer_name").input_value() == "Bevart Bedrift AS"
    assert page.locator("input[name=reasons][value=extra_follow_up]").is_checked()
    assert page.locator("#tatt-vare").is_visible()
