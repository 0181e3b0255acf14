"""The notification list in a real browser: Kari sees her reminders (case reference, no names), marks one as
read, marks an interview as arranged, and chooses a daily digest; Tone sees her county's counts only."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import select

from services.notify import tables as t
from services.notify.app import create_app
from services.notify.service import sweep_once
from tests.fixtures.system import sign_in
from tests.integration.test_notify_support import case_opened, consent, deliver_event, notify_env


def test_notification_list_mark_as_read_resolve_and_preferences(platform_factory, live_server, page, tmp_path):
    platform = platform_factory("notify", t.all_tables(), f"sqlite:///{tmp_path}/notify.db", env=notify_env())
    case = uuid.uuid4()
    deliver_event(platform, case_opened(case, date(2026, 11, 20)))
    deliver_event(platform, consent("granted", case, "interviews", datetime(2026, 11, 25, tzinfo=UTC)))
    deliver_event(platform, case_opened(uuid.uuid4(), date(2026, 11, 20), office="bergen-vest",
                                        counsellor="per-veileder"))
    platform.clock.set(datetime(2026, 12, 28, 10, 0, tzinfo=UTC))  # interview point ahead, case overdue
    sweep_once(platform)
    app = create_app(platform=platform)
    server = live_server(app)
    app.config["PUBLIC_URL"] = server.url

    sign_in(page, server.url, "kari-veileder")
    page.goto(server.url + "/")
    rows = page.locator("#notifications tbody tr")
    count = rows.count()
    assert count == 4  # closure overdue, mentor contact, consent missing, interview — Per's case is not here
    assert page.locator("#unread-count").inner_text() == f"{count} uleste varsler"
    assert page.locator("#notifications").inner_text().count(f"Sak {str(case)[:8]}") == count

    rows.first.get_by_role("button", name="Marker varselet").click()
    assert page.locator("p.notice").inner_text() == "Varselet er markert som lest."
    assert page.locator("#unread-count").inner_text() == f"{count - 1} uleste varsler"
    with platform.engine.connect() as conn:
        read = conn.execute(select(t.notifications.c.read_at).where(t.notifications.c.read_at.is_not(None))).all()
    assert len(read) == 1

    page.get_by_role("button", name="Intervju avtalt").click()
    assert page.locator("p.notice").inner_text() == "Påminnelsen er markert som løst."
    assert "Intervju avtalt" in page.locator("#notifications").inner_text()
    with platform.engine.connect() as conn:
        interview = conn.execute(select(t.reminders).where(t.reminders.c.rule == "interview")).mappings().all()
    resolved = [(r["case_id"], r["resolution"]) for r in interview if r["resolved_at"]]
    assert resolved == [(str(case), "interview_arranged")]

    page.check("#mode-daily")
    page.get_by_role("button", name="Lagre").click()
    assert page.locator("p.notice").inner_text() == "Innstillingene er lagret."
    assert page.is_checked("#mode-daily")


def test_county_contact_sees_counts_for_her_county_only(platform_factory, live_server, page, tmp_path):
    platform = platform_factory("notify", t.all_tables(), f"sqlite:///{tmp_path}/notify.db", env=notify_env())
    deliver_event(platform, case_opened(uuid.uuid4(), date(2026, 11, 24)))
    deliver_event(platform, case_opened(uuid.uuid4(), date(2026, 11, 24), office="bergen-vest",
                                        counsellor="per-veileder"))
    app = create_app(platform=platform)
    server = live_server(app)
    app.config["PUBLIC_URL"] = server.url
    sign_in(page, server.url, "tone-fylke")
    page.goto(server.url + "/fylke")
    table = page.locator("#county").inner_text()
    assert "NAV Kristiansand" in table and "NAV Lister" in table and "Bergen" not in table
    assert page.locator("#county tbody tr").first.inner_text().split("\t") == ["NAV Kristiansand", "1", "0", "0", "1"]
    page.context.clear_cookies()
    sign_in(page, server.url, "kari-veileder")
    response = page.goto(server.url + "/fylke")
    assert response.status == 403
