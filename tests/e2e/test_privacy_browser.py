"""The local contact's privacy page in headless Chromium, against the whole system (gunicorn behind nginx, relays,
consumers, RabbitMQ, PostgreSQL): a case and a signed consent made as a counsellor would, then the access request
(wrong number first), the JSON download, an erasure that is not confirmed, the confirmed erasure and its receipt
until consent and notify report it done, and the databases checked."""
from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, text

from services.intake.testing import fake_national_id
from tests.fixtures.system import sign_in
from tests.integration.test_consent_helpers import PNG

NAME, NOTE = "Eva Innsynsen", "Trenger tilrettelegging"


def _csrf(session):
    return {"X-CSRF-Token": session.cookies["hybrid_csrf"]}


def _wait(check, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _count(url, sql, **params):
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()
    finally:
        engine.dispose()


def test_local_contact_sees_everything_held_about_a_person_and_erases_it(stack, page):
    stack.supervisor.flask("consent", "templates", "load")
    today = date.today().isoformat()
    fnr = fake_national_id(93011)
    counsellor = stack.sign_in("kari-veileder")
    opened = counsellor.post(stack.url("/intake/api/v1/cases"), headers=_csrf(counsellor), timeout=10, json={
        "national_id": fnr, "candidate_name": NAME, "in_target_group": "yes", "in_follow_up_measure": "no",
        "entry_point": "course_start", "industry": "retail", "initiator": "counsellor", "attachment_before": "none",
        "counsellor_knew_company": "no", "reasons": ["extra_follow_up"], "opened_on": today,
        "mentor_relation": "none"})
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["id"]
    logged = counsellor.post(stack.url(f"/intake/api/v1/cases/{case_id}/contacts"), headers=_csrf(counsellor),
                             timeout=10, json={"contact_date": today, "party": "candidate", "form": "phone",
                                               "minutes": 15, "note": NOTE})
    assert logged.status_code == 201, logged.text
    # Consent learns of the case from intake's event (relay -> RabbitMQ -> consumer); then the signed form.
    _wait(lambda: counsellor.get(stack.url(f"/consent/api/v1/cases/{case_id}"), timeout=10).status_code == 200,
          what="the case in consent")
    recorded = counsellor.post(stack.url("/consent/api/v1/consents"), headers=_csrf(counsellor), timeout=10, data={
        "case_id": case_id, "signer_role": "candidate", "signer_name": NAME, "signed_on": today,
        "decision_research_registration": "granted"}, files={"document": ("skann.png", PNG, "image/png")})
    assert recorded.status_code == 201, recorded.text

    sign_in(page, stack.base_url, "lise-kontakt")
    page.goto(stack.url("/intake/"))
    page.click("nav >> text=Personvern")
    page.fill("#national_id", fnr[:10])
    page.click("#access-form button[type=submit]")
    assert "11 siffer" in page.locator("#error-summary").inner_text()
    assert "11 siffer" in page.locator("#national_id-error").inner_text()

    page.fill("#national_id", fnr)
    page.click("#access-form button[type=submit]")
    assert NAME in page.locator("h1").inner_text()
    assert "logget" in page.locator("#melding").inner_text()
    case_section = page.locator(f"#sak-{case_id[:8]}")
    assert fnr in case_section.inner_text() and NOTE in case_section.inner_text()
    assert f"{NAME} (Bruker)" in page.locator("#samtykker").inner_text()
    assert "pseudonym" in page.locator("#register").inner_text()
    with page.expect_download() as download:
        page.click("#download-form button[type=submit]")
    document = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert [c["id"] for c in document["cases"]] == [case_id]
    assert document["consents"][0]["records"][0]["signer_name"] == NAME

    page.click("#erase-start-form button[type=submit]")
    assert "Slett alt om " + NAME == page.locator("h1").inner_text()
    page.click("#erase-form button[type=submit]")  # not confirmed
    assert "Bekreft" in page.locator("#confirm-error").inner_text()
    assert _count(stack.database_urls["intake"], "SELECT count(*) FROM intake_cases WHERE id = :id", id=case_id) == 1

    page.check("#confirm")
    page.click("#erase-form button[type=submit]")
    assert "Kvittering for sletting" in page.locator("h1").inner_text()
    assert _count(stack.database_urls["intake"], "SELECT count(*) FROM intake_cases WHERE id = :id", id=case_id) == 0

    def done():
        page.reload()
        states = {s: page.locator(f"tr[data-service={s}]").get_attribute("data-state") for s in ("consent", "notify")}
        return states == {"consent": "completed", "notify": "completed"}
    _wait(done, what="consent and notify to report the erasure")
    assert "1 samtykkeskjema" in page.locator("tr[data-service=consent]").inner_text()
    for service, sql in (("consent", "SELECT count(*) FROM consent_records WHERE case_id = :id"),
                         ("consent", "SELECT count(*) FROM consent_cases WHERE case_id = :id"),
                         ("notify", "SELECT count(*) FROM notify_cases WHERE case_id = :id")):
        assert _count(stack.database_urls[service], sql, id=case_id) == 0, (service, sql)
    # The privacy page lists the office's requests (who, what, how many cases), no person.
    page.goto(stack.url("/intake/personvern"))
    recent = page.locator("#recent").inner_text()
    assert "Sletting" in recent and "Innsyn" in recent and NAME not in recent and fnr not in recent
