"""Never lose work (issue #15): a form sent after the session ended, or without its CSRF token, is kept on the
server, encrypted, for its sender only; signing in again fills it in on the same page; erasure, retention and
access requests reach it. The idle-timeout warning's "Forleng" renews the session (shared.web.keeping, frame)."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from services.intake import privacy, tables
from services.intake.app import create_app
from services.intake.testing import enter_case
from shared import privacy as shared_privacy
from shared.auth import COOKIE_NAME, mint_token
from shared.web import CSRF_COOKIE

CASE = {"candidate_name": "Tatt Vare", "opened_on": "2026-08-03", "entry_point": "course_start", "industry": "retail",
        "initiator": "counsellor", "reasons": ["extra_follow_up"], "counsellor_knew_company": "no",
        "attachment_before": "none", "mentor_relation": "colleague",
        "measures": [{"measure": "mentor_subsidy", "from_date": "2026-08-10", "to_date": "2026-10-30"}],
        "contacts": [{"contact_date": "2026-08-10", "party": "mentor", "form": "at_company", "minutes": 45}]}
ANSWERS = {"closed_on": "2026-11-20", "closure_reason": "measure_completed",
           "attachment_after": "permanent_with_wage_subsidy", "attached_same_company": "yes"}
HINT_COOKIE = "hybrid_kept_intake"
PEOPLE = {"kari-veileder": ("counsellor", "Kari Veileder"), "ola-veileder": ("counsellor", "Ola Veileder")}


@pytest.fixture
def intake(platform_factory, db_url):
    platform = platform_factory("intake", tables.all_tables(), db_url)
    case_id = enter_case(platform, "kristiansand", "kari-veileder", CASE, seed=15)["case_id"]
    app = create_app(settings=platform.settings, platform=platform)
    app.config["TESTING"] = False
    return app, platform, case_id


def _csrf(client) -> str:
    page = client.get("/logg-inn")  # any page: its header's forms carry the token
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def _session(client, platform, person, minutes_ago=0, signed_in_minutes_ago=None, key=None):
    """The session cookie as the browser holds it: `minutes_ago` since the last page (an idle timeout once that is
    past SESSION_IDLE_MINUTES: the cookie outlives its token, the token has expired)."""
    settings = platform.settings
    role, name = PEOPLE[person]
    last_page = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    signed_in = datetime.now(UTC) - timedelta(minutes=signed_in_minutes_ago or minutes_ago)
    if key is None:
        token = mint_token(settings, subject=person, role=role, name=name, office="kristiansand",
                           lifetime_minutes=settings.session_idle_minutes, now=last_page, auth_time=signed_in)
    else:  # a token the platform did not sign
        token = jwt.encode({"iss": settings.auth_issuer, "aud": settings.auth_audience, "sub": person, "role": role,
                            "name": name, "office": "kristiansand", "iat": int(last_page.timestamp()),
                            "exp": int(last_page.timestamp()) + 60}, key, algorithm="HS256")
    client.set_cookie(COOKIE_NAME, token, path="/")


def _kept_rows(platform):
    with platform.engine.connect() as conn:
        return [dict(row) for row in conn.execute(select(platform.tables["kept_forms"])).mappings()]


def _draft_saved(platform, case_id):
    cases = platform.tables["cases"]
    with platform.engine.connect() as conn:
        return conn.execute(select(cases.c.draft_saved_at).where(cases.c.id == case_id)).scalar()


def _kept_on_page(html: str):
    found = re.search(r'<script type="application/json" id="tatt-vare-data"[^>]*>(.*?)</script>', html, re.S)
    return json.loads(found.group(1)) if found else None


def test_a_step_sent_after_the_idle_timeout_is_kept_encrypted_and_given_back_only_to_its_sender(intake):
    app, platform, case_id = intake
    step = f"/saker/{case_id}/sluttskjema/avslutning"
    kari = app.test_client()
    csrf = _csrf(kari)
    _session(kari, platform, "kari-veileder", minutes_ago=platform.settings.session_idle_minutes + 1)
    sent = kari.post(step, data={**ANSWERS, "csrf_token": csrf, "_form_token": "t1"},
                     headers={"Referer": "http://localhost" + step})
    # Not carried out: through sign-in, back to the same step.
    assert sent.status_code == 302
    location = urlsplit(sent.headers["Location"])
    assert location.path == "/logg-inn"
    assert parse_qs(location.query) == {"next": [step], "grunn": ["tatt-vare"]}
    assert _draft_saved(platform, case_id) is None
    [row] = _kept_rows(platform)
    assert row["case_id"] == case_id and row["page"] == step
    blob = bytes(row["fields"])
    assert b"measure_completed" not in blob and b"2026-11-20" not in blob  # encrypted
    assert "kari" not in row["owner"]  # a keyed hash, not the person's id
    lifetime = timedelta(minutes=platform.settings.token_lifetime_minutes)
    assert row["expires_at"] - row["created_at"] == lifetime

    # Another counsellor of the same office, signed in in a browser that has the hint: nothing of Kari's.
    ola = app.test_client()
    _session(ola, platform, "ola-veileder")
    ola.set_cookie(HINT_COOKIE, "1", path="/")
    page = ola.get(step)
    assert page.status_code == 200 and _kept_on_page(page.get_data(as_text=True)) is None

    # Kari signs in again (a fresh session of hers) and lands on the step: her answers are in the page, for
    # platform.js to fill in.
    _session(kari, platform, "kari-veileder")
    html = kari.get(step).get_data(as_text=True)
    kept = _kept_on_page(html)
    assert kept["action"] == step and sorted(map(tuple, kept["fields"])) == sorted(ANSWERS.items())
    assert 'id="tatt-vare"' in html and "send skjemaet på nytt" in html
    # Sending it again does the step and forgets the kept form.
    again = kari.post(step, data={**ANSWERS, "csrf_token": csrf, "_form_token": "t2"})
    assert again.status_code in (302, 303) and again.headers["Location"].endswith("/sluttskjema/kontakt")
    assert _draft_saved(platform, case_id) is not None
    assert _kept_rows(platform) == []
    assert kari.get_cookie(HINT_COOKIE) is None


def test_answers_kept_from_the_retired_one_page_form_wait_there_until_saved_as_the_draft(intake):
    """A tab left open on the one-page closure form (retired for the steps), sent after the idle timeout: after
    sign-in its old address shows the kept answers, never applied by themselves, and saves them as the draft."""
    app, platform, case_id = intake
    old_page = f"/saker/{case_id}/avslutning"
    kari = app.test_client()
    csrf = _csrf(kari)
    _session(kari, platform, "kari-veileder", minutes_ago=platform.settings.session_idle_minutes + 1)
    sent = kari.post(old_page, data={**ANSWERS, "action": "submit", "expected_version": "3", "csrf_token": csrf,
                                     "_form_token": "t1"}, headers={"Referer": "http://localhost" + old_page})
    assert parse_qs(urlsplit(sent.headers["Location"]).query)["next"] == [old_page]
    _session(kari, platform, "kari-veileder")
    html = kari.get(old_page).get_data(as_text=True)
    assert _draft_saved(platform, case_id) is None  # shown, not applied
    assert _kept_on_page(html)["action"] == old_page and 'id="en-side-form"' in html
    assert "20.11.2026" in html and "Lagre svarene som utkast og fortsett" in html
    form = re.search(r'<form\b[^>]*id="en-side-form"[^>]*>(.*?)</form>', html, re.S).group(1)
    hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)
    saved = kari.post(old_page, data=MultiDict(hidden))
    assert saved.status_code == 302 and "melding=fra-en-side" in saved.headers["Location"]
    assert _draft_saved(platform, case_id) is not None and _kept_rows(platform) == []
    # Nothing waits any more: the old address leads on to the steps.
    assert kari.get(old_page).headers["Location"].endswith("/sluttskjema/kontakt")


def test_a_form_without_its_csrf_token_is_refused_with_a_way_on_and_its_answers_kept(intake):
    app, platform, case_id = intake
    step = f"/saker/{case_id}/sluttskjema/avslutning"
    kari = app.test_client()
    _csrf(kari)
    _session(kari, platform, "kari-veileder")
    kari.delete_cookie(CSRF_COOKIE)  # the browser was closed: the CSRF cookie lived for the browser session only
    refused = kari.post(step, data={**ANSWERS, "csrf_token": "from-an-old-page"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 403  # still a refusal: nothing carried out
    assert _draft_saved(platform, case_id) is None
    assert "Skjemaet ble ikke sendt" in html and "Svarene dine er tatt vare på" in html
    link = re.search(r'id="logg-inn-igjen" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(link).query)["next"] == [step]
    assert "Logg ut" in html  # the frame with its menu, not a bare page
    assert len(_kept_rows(platform)) == 1


def test_a_form_that_names_nobody_keeps_nothing(intake):
    app, platform, case_id = intake
    step = f"/saker/{case_id}/sluttskjema/avslutning"
    nobody = app.test_client()
    csrf = _csrf(nobody)
    answer = nobody.post(step, data={**ANSWERS, "csrf_token": csrf})
    assert answer.status_code == 302 and "grunn=utlopt" in answer.headers["Location"]
    forged = app.test_client()
    csrf = _csrf(forged)
    _session(forged, platform, "kari-veileder", minutes_ago=60, key="another-key-" + "x" * 32)
    assert forged.post(step, data={**ANSWERS, "csrf_token": csrf}).status_code == 302
    assert _kept_rows(platform) == []


def test_kept_forms_are_in_access_requests_and_go_with_erasure_and_retention(intake):
    app, platform, case_id = intake
    kari = app.test_client()
    csrf = _csrf(kari)
    _session(kari, platform, "kari-veileder", minutes_ago=platform.settings.session_idle_minutes + 1)
    kari.post(f"/saker/{case_id}/sluttskjema/avslutning", data={**ANSWERS, "csrf_token": csrf})
    with platform.engine.connect() as conn:
        [exported] = privacy.export_cases(conn, platform, "kristiansand", [case_id])
    [kept] = exported["kept_forms"]
    assert ["closure_reason", "measure_completed"] in kept["fields"]
    assert "closure_draft" in exported  # the draft of the closure (encrypted on the case) is in the export too
    with platform.engine.begin() as conn:
        removed = shared_privacy.remove(conn, privacy.retention_steps(platform))
    assert removed["kept_forms"] == 1 and _kept_rows(platform) == []


def test_forleng_renews_the_session_and_says_how_long_it_lasts(intake):
    app, platform, _case_id = intake
    settings = platform.settings
    kari = app.test_client()
    csrf = _csrf(kari)
    _session(kari, platform, "kari-veileder", minutes_ago=10)
    before = jwt.decode(kari.get_cookie(COOKIE_NAME).value, options={"verify_signature": False})["exp"]
    extended = kari.post("/okt/forleng", headers={"X-CSRF-Token": csrf, "Accept": "application/json"})
    assert extended.status_code == 200
    assert extended.get_json() == {"seconds_left": settings.session_idle_minutes * 60, "extendable": True,
                                   "warn_before": 300}
    after = jwt.decode(kari.get_cookie(COOKIE_NAME).value, options={"verify_signature": False})["exp"]
    assert after >= before + 10 * 60 - 1
    # Near the absolute limit "Forleng" cannot help, and the answer says so.
    _session(kari, platform, "kari-veileder", signed_in_minutes_ago=settings.token_lifetime_minutes - 4)
    near_end = kari.post("/okt/forleng", headers={"X-CSRF-Token": csrf, "Accept": "application/json"}).get_json()
    assert near_end["extendable"] is False and 200 <= near_end["seconds_left"] <= 240
    # An ended session is not renewed.
    _session(kari, platform, "kari-veileder", minutes_ago=settings.session_idle_minutes + 1)
    assert kari.post("/okt/forleng", headers={"X-CSRF-Token": csrf, "Accept": "application/json"}).status_code == 401
