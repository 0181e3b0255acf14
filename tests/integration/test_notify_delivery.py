"""Delivery over a real SMTP server on loopback: Norwegian plain text + HTML, a case reference and a link only,
stable Message-IDs, office hours and holidays, retries with backoff while SMTP is down, dead letters, digests,
unsubscribe, and the survey invitation with the employer's contact details fetched from intake at send time."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask, jsonify, request
from sqlalchemy import select

from services.notify import service
from services.notify import tables as t
from services.notify.config import load_notify_config
from services.notify.intake_client import ContactUnavailable, IntakeContacts
from services.notify.mailer import user_from_unsubscribe_token
from services.notify.service import deliver_due, deliver_once, sweep_once
from shared.auth import verify_token
from tests.integration.test_notify_support import (
    case_closed,
    case_opened,
    consent,
    deliver_event,
    notify_env,
    smtp_sink_fixture,  # noqa: F401 (the smtp_sink fixture)
)

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def mails(platform, **where):
    with platform.engine.connect() as conn:
        query = select(t.mails)
        for key, value in where.items():
            query = query.where(t.mails.c[key] == value)
        return [dict(r) for r in conn.execute(query.order_by(t.mails.c.id)).mappings()]


@pytest.fixture
def notify(platform_factory, db_url, smtp_sink):
    sink = smtp_sink()
    platform = platform_factory("notify", t.all_tables(), db_url, env=notify_env(sink, NOTIFY_MAX_ATTEMPTS="3",
                                                                             NOTIFY_COUNTY_DIGEST_WEEKDAY="4"))
    platform.sink = sink
    return platform


def overdue_case(platform, opened=date(2026, 9, 1), counsellor="kari-veileder"):
    case = uuid.uuid4()
    deliver_event(platform, case_opened(case, opened, counsellor=counsellor, relation="none"))
    return case


def test_reminder_mail_is_norwegian_text_and_html_with_reference_and_link_only(notify):
    case = overdue_case(notify)
    sweep_once(notify)
    result = deliver_once(notify)
    assert result.sent >= 2 and result.failed == 0
    to_kari = [m for m in notify.sink.messages if m["To"] == "kari.nordmann@demo.example.org"]
    subjects = sorted(m["Subject"] for m in to_kari)
    assert subjects == [f"Samtykke mangler: Sak {str(case)[:8]}", f"Sluttskjema mangler: Sak {str(case)[:8]}"]
    message = to_kari[0]
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert f"/intake/saker/{case}" in text and f"/intake/saker/{case}" in html
    assert "Kari" not in text and "Nordmann" not in text  # not even the recipient's own name
    assert message["List-Unsubscribe"].startswith("<http")
    assert message["Message-ID"].endswith("@notify.hybrid.local>")
    assert {m["status"] for m in mails(notify, kind="notice")} == {"sent"}
    assert deliver_once(notify).sent == 0  # nothing is sent twice


def test_message_id_is_stable_per_rule_case_and_period_across_databases(notify, tmp_path, platform_factory):
    """The Message-ID derives from (rule, case, period, recipient): the same reminder in another database gets
    the same id, so a repeat after a crash is recognisable."""
    case = overdue_case(notify)
    sweep_once(notify)
    deliver_once(notify)
    other = platform_factory("notify", t.all_tables(), f"sqlite:///{tmp_path}/other.db", env=notify_env(notify.sink))
    deliver_event(other, case_opened(case, date(2026, 9, 1), relation="none"))
    sweep_once(other)
    deliver_once(other)
    ids = [m["Message-ID"] for m in notify.sink.messages if "Sak" in m["Subject"]]
    assert len(ids) == 4 and len(set(ids)) == 2


def test_nothing_goes_out_at_night_on_weekends_or_on_easter_monday(notify):
    overdue_case(notify)
    sweep_once(notify)
    for moment in (datetime(2026, 11, 26, 17, 30, tzinfo=UTC),  # 18:30 in Oslo
                   datetime(2026, 11, 28, 10, 0, tzinfo=UTC),  # Saturday
                   datetime(2027, 3, 29, 9, 0, tzinfo=UTC)):  # Easter Monday 2027
        notify.clock.set(moment)
        assert deliver_once(notify).outside_hours is True
    assert notify.sink.raw == []
    notify.clock.set(datetime(2027, 3, 30, 7, 0, tzinfo=UTC))  # Tuesday after Easter, 09:00
    assert deliver_once(notify).sent == 2


def test_smtp_down_then_back_delivers_with_backoff_and_dead_letters_after_max_attempts(notify, smtp_sink):
    overdue_case(notify)
    sweep_once(notify)
    port = notify.sink.port
    notify.sink.stop()
    first = deliver_once(notify)
    assert first.sent == 0 and first.failed == 1  # the batch stops at the first connection failure
    failed = [m for m in mails(notify, kind="notice") if m["attempts"]][0]
    assert failed["next_attempt_at"] == NOW + timedelta(seconds=60) and "SMTP" in failed["last_error"]
    second = deliver_once(notify)  # the other mail gets its first try; the failed one waits for its backoff
    assert second.failed == 1
    notify.clock.set(NOW + timedelta(seconds=61))
    third = deliver_once(notify)
    assert third.failed == 1
    assert sorted(m["attempts"] for m in mails(notify, kind="notice")) == [1, 2]
    assert max(m["next_attempt_at"] for m in mails(notify, kind="notice")) == NOW + timedelta(seconds=61 + 120)

    back = smtp_sink(port)  # SMTP is back on the same port
    notify.clock.set(NOW + timedelta(minutes=10))
    result = deliver_once(notify)
    assert result.sent == 2
    assert len([m for m in back.messages if "Sak" in m["Subject"]]) == 2


def test_a_mail_that_never_gets_through_becomes_a_visible_dead_letter(notify):
    overdue_case(notify)
    sweep_once(notify)
    notify.sink.before_accept = lambda sink, envelope: "drop"  # the server answers 451 to every mail
    for minutes in (0, 2, 5, 10):
        notify.clock.set(NOW + timedelta(minutes=minutes))
        deliver_once(notify)
    dead = mails(notify, status="dead")
    assert len(dead) >= 1 and dead[0]["attempts"] == 3
    with notify.engine.connect() as conn:
        listed = service.dead_letters(conn)
    assert [d["id"] for d in listed] == [d["id"] for d in dead]
    notify.sink.before_accept = None
    assert service.retry_dead(notify) == len(dead)
    assert deliver_once(notify).sent >= 1


def test_daily_digest_user_gets_one_mail_and_unsubscribed_user_none_but_keeps_the_list(notify):
    for _ in range(3):
        overdue_case(notify)
    overdue_case(notify, counsellor="ola-veileder")
    with notify.engine.begin() as conn:
        service.set_preferences(conn, "kari-veileder", NOW, mode="daily")
        service.set_preferences(conn, "ola-veileder", NOW, unsubscribed=True)
    notify.clock.set(datetime(2026, 11, 26, 6, 0, tzinfo=UTC))  # 07:00 in Oslo: before the digest hour
    sweep_once(notify)
    assert mails(notify, kind="digest") == [] and mails(notify, kind="notice") == []
    notify.clock.set(NOW)
    result = sweep_once(notify)
    assert result.digests == 1
    deliver_once(notify)
    digests = [m for m in notify.sink.messages if m["Subject"].startswith("Daglig oversikt")]
    assert len(digests) == 1 and digests[0]["Subject"] == "Daglig oversikt: 6 påminnelser"
    assert not [m for m in notify.sink.messages if m["To"] == "ola.hansen@demo.example.org"]
    with notify.engine.connect() as conn:
        assert len(service.list_for(conn, "ola-veileder")) == 2  # in-app list still there


def test_a_backlog_in_several_sweeps_still_makes_one_digest_with_all_of_it(notify):
    """The daily digest waits for the sweep that ends a backlog: taken in sweeps of 2 reminders, Kari's 8 still come
    in one digest mail, not in one today and the rest tomorrow."""
    for _ in range(4):
        overdue_case(notify)  # closure overdue and consent missing: 2 reminders each
    with notify.engine.begin() as conn:
        service.set_preferences(conn, "kari-veileder", NOW, mode="daily")
    result = sweep_once(notify, budget=2)
    assert result.sweeps >= 4 and result.new_reminders == 8 and result.digests == 1
    deliver_once(notify)
    digests = [m for m in notify.sink.messages if m["Subject"].startswith("Daglig oversikt")]
    assert [m["Subject"] for m in digests] == ["Daglig oversikt: 8 påminnelser"]


def test_a_changed_mail_choice_applies_to_what_waits_for_the_digest(notify):
    """Kari (daily) switches to immediate before the digest hour: her waiting notifications are mailed one by one
    by the next sweep; Ola (daily) unsubscribes: his waiting ones are never mailed, not even in a digest."""
    for counsellor in ("kari-veileder", "ola-veileder"):
        overdue_case(notify, counsellor=counsellor)
        with notify.engine.begin() as conn:
            service.set_preferences(conn, counsellor, NOW, mode="daily")
    notify.clock.set(datetime(2026, 11, 26, 6, 0, tzinfo=UTC))  # 07:00 in Oslo: before the digest hour
    assert sweep_once(notify).mails == 0
    with notify.engine.begin() as conn:
        service.set_preferences(conn, "kari-veileder", NOW, mode="immediate")
        service.set_preferences(conn, "ola-veileder", NOW, unsubscribed=True)
    assert sweep_once(notify).mails == 2  # Kari's two (closure overdue, consent missing)
    assert {m["recipient_id"] for m in mails(notify, kind="notice")} == {"kari-veileder"}
    notify.clock.set(NOW)
    assert sweep_once(notify).digests == 0 and mails(notify, kind="digest") == []
    assert sweep_once(notify).mails == 0  # nothing twice


def test_unsubscribe_link_token_is_signed(notify):
    overdue_case(notify)
    sweep_once(notify)
    deliver_once(notify)
    link = notify.sink.messages[0]["List-Unsubscribe"].strip("<>")
    token = link.rsplit("/", 1)[1]
    assert user_from_unsubscribe_token(notify.settings, token) == "kari-veileder"
    assert user_from_unsubscribe_token(notify.settings, token[:-2] + "xx") is None


def test_weekly_county_digest_holds_counts_only(notify):
    overdue_case(notify)
    assert sweep_once(notify).county_digests == 0  # Thursday: the digest goes on Fridays in this setup
    notify.clock.set(NOW + timedelta(days=1))
    assert sweep_once(notify).county_digests == 1
    assert sweep_once(notify).county_digests == 0  # once per week
    deliver_once(notify)
    county = [m for m in notify.sink.messages if m["To"] == "tone.bakke@demo.example.org"]
    assert len(county) == 1 and county[0]["Subject"] == "Ukeoversikt for kontorene i fylket (2026-W48)"
    assert county[0]["Message-ID"] != notify.sink.messages[0]["Message-ID"] or len(notify.sink.messages) == 1
    text = county[0].get_body(("plain",)).get_content()
    assert "NAV Kristiansand: åpnet 0, avsluttet 0, forsinket sluttskjema 1, aktive 1" in text
    assert "Sak " not in text and "/intake/saker/" not in text  # no case references at all


class FakeIntake:
    """What intake must answer (the contract in services/notify/intake_client.py), as a real HTTP server."""

    def __init__(self, settings, contacts):
        self.app = Flask("fake_intake")
        self.calls = []

        @self.app.get("/api/internal/cases/<case_id>/employer-contact")
        def contact(case_id):
            principal = verify_token(settings, request.headers["Authorization"][7:])
            self.calls.append((case_id, principal.subject))
            if case_id not in contacts:
                return jsonify(code=404, status="Not Found", message="unknown case"), 404
            return jsonify(contacts[case_id])


def test_survey_invitation_goes_to_the_survey_address_with_contact_details_fetched_at_send_time(
        notify, live_server, platform_factory, db_url):
    case, other = uuid.uuid4(), uuid.uuid4()
    for c in (case, other):
        deliver_event(notify, case_opened(c, date(2026, 9, 1)))
        deliver_event(notify, case_closed(c, date(2026, 9, 1), date(2026, 11, 20)))
        deliver_event(notify, consent("granted", c, "employer_survey", NOW - timedelta(days=1)))
    contact = {"organisation": "Butikken AS", "contact_name": "Eva Arbeidsgiver", "email": "eva@butikken.example",
               "phone": "+47 22 22 22 22"}
    intake = FakeIntake(notify.settings, {str(case): contact})
    server = live_server(intake.app)
    client = IntakeContacts(server.url, notify.settings)
    sweep_once(notify)
    with notify.engine.connect() as conn:  # the contact details are nowhere in notify's database
        dump = repr([dict(r) for r in conn.execute(select(t.mails)).mappings()])
    assert "Eva" not in dump and "butikken" not in dump
    result = deliver_due(notify, load_notify_config(notify.settings), client)
    survey = [m for m in notify.sink.messages if m["To"] == "survey@research.example.org"]
    assert len(survey) == 1
    body = survey[0].get_body(("plain",)).get_content()
    assert "Eva Arbeidsgiver" in body and "eva@butikken.example" in body and "Butikken AS" in body
    assert {c[1] for c in intake.calls} == {"service-notify"}
    assert result.failed == 1  # intake knows no contact for the other case: retried later, not sent
    reminders = {r["case_id"]: r for r in notify.engine.connect().execute(
        select(t.reminders).where(t.reminders.c.rule == "employer_survey")).mappings()}
    assert reminders[str(case)]["resolution"] == "survey_sent"
    assert reminders[str(other)]["resolved_at"] is None
    notify.engine.dispose()


def test_intake_client_reports_an_unreachable_intake_as_unavailable(notify):
    from tests.integration.test_notify_support import free_port
    client = IntakeContacts(f"http://127.0.0.1:{free_port()}", notify.settings, timeout=2)
    with pytest.raises(ContactUnavailable):
        client.employer_contact(str(uuid.uuid4()))


def test_each_person_of_nav_gets_mail_in_the_language_they_chose(notify):
    """Kari chose nynorsk, Tone (county contact) English, Ola nothing: each mail, subject, text and HTML, is in the
    recipient's language, bokmål without a choice."""
    kari_case = overdue_case(notify)
    overdue_case(notify, counsellor="ola-veileder")
    with notify.engine.begin() as conn:
        service.set_preferences(conn, "kari-veileder", NOW, language="nn")
        service.set_preferences(conn, "tone-fylke", NOW, language="en")
    notify.clock.set(NOW + timedelta(days=1))  # Friday: the county digest goes too
    sweep_once(notify)
    deliver_once(notify)
    by_recipient = {}
    for message in notify.sink.messages:
        by_recipient.setdefault(message["To"], []).append(message)

    kari = by_recipient["kari.nordmann@demo.example.org"]
    assert sorted(m["Subject"] for m in kari) == [f"Samtykke manglar: Sak {str(kari_case)[:8]}",
                                                  f"Sluttskjema manglar: Sak {str(kari_case)[:8]}"]
    text, html = kari[0].get_body(("plain",)).get_content(), kari[0].get_body(("html",)).get_content()
    assert "Du har ei påminning frå hybridmodell-prosjektet." in text and '<html lang="nn">' in html
    assert "Meld av e-postvarsel" in text and "ikkje" in text and "ikke" not in text

    tone = by_recipient["tone.bakke@demo.example.org"]
    assert [m["Subject"] for m in tone] == ["Weekly overview for the offices in the county (2026-W48)"]
    text, html = tone[0].get_body(("plain",)).get_content(), tone[0].get_body(("html",)).get_content()
    assert "NAV Kristiansand: opened 0, closed 0, closure form overdue " in text and "åpnet" not in text
    assert '<html lang="en">' in html and "<th>Office</th>" in html and "Kontor" not in html

    ola = by_recipient["ola.hansen@demo.example.org"]
    assert all(m["Subject"].startswith(("Sluttskjema mangler", "Samtykke mangler")) for m in ola)
    assert "Du har en påminnelse fra hybridmodell-prosjektet." in ola[0].get_body(("plain",)).get_content()
