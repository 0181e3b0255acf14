"""Notify acts only on a view that has caught up with its events (issue #14, defect 9), against the real broker:
while case events wait in `notify.schedule` (the consumer stopped during a burst of closures, or not yet started
after a restart), or while the broker cannot say, a worker round sends nothing — no reminder, no mail, no digest —
and once the consumer has drained the queue the next round sends only what is still due."""
from __future__ import annotations

import uuid
from datetime import date

import pika
import pytest
from sqlalchemy import func, select

from services.notify import handlers
from services.notify import tables as t
from services.notify.app import create_app
from services.notify.service import sweep_once
from services.notify.worker import run_loop
from shared.bus.consumer import drain
from shared.bus.envelope import encode, routing_key
from shared.bus.topology import EXCHANGE
from tests.integration.test_notify_support import (
    case_closed,
    case_opened,
    deliver_event,
    free_port,
    notify_env,
    smtp_sink_fixture,  # noqa: F401 (the smtp_sink fixture)
)

OPENED = date(2026, 9, 1)  # every rule for open cases is due on the platform clock's day (2026-11-26)


def publish(bus_vhost, *envelopes):
    """As intake's relay publishes them (the producer's outbox kept them while notify was away)."""
    connection = pika.BlockingConnection(pika.URLParameters(bus_vhost.url("intake")))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for envelope in envelopes:
            channel.basic_publish(EXCHANGE, routing_key(envelope["office"], envelope["type"]), encode(envelope),
                                  pika.BasicProperties(message_id=str(envelope["message_id"]), delivery_mode=2,
                                                       content_type="application/json"), mandatory=True)
    finally:
        connection.close()


def count(platform, table, *where):
    with platform.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar()


@pytest.fixture
def notify(bus_vhost, platform_factory, db_url, smtp_sink):
    def make(**env):
        sink = smtp_sink()
        settings = {**bus_vhost.env("notify"), **notify_env(sink, **{"NOTIFY_CATCH_UP_SECONDS": "0", **env})}
        platform = platform_factory("notify", t.all_tables(), db_url, env=settings)
        platform.sink = sink
        return platform
    return make


def test_no_reminder_goes_out_for_a_case_whose_closure_waits_in_the_queue(notify, bus_vhost):
    platform = notify()
    cases = [uuid.uuid4() for _ in range(4)]
    for case in cases:  # applied before notify's consumer stopped
        deliver_event(platform, case_opened(case, OPENED, relation="none"))
    publish(bus_vhost, *(case_closed(case, OPENED, date(2026, 11, 25)) for case in cases[:3]))

    run_loop(platform, rounds=1)
    assert platform.sink.raw == []
    assert count(platform, t.reminders) == 0 and count(platform, t.mails) == 0

    drain(platform, handlers.consumer_spec(), idle_seconds=1.0)
    assert bus_vhost.ready("notify.schedule") == 0
    run_loop(platform, rounds=1)
    with platform.engine.connect() as conn:
        reminded = set(conn.execute(select(t.reminders.c.case_id).distinct()).scalars())
    assert reminded == {str(cases[3])}  # the three closed while notify was away get nothing
    notices = [m for m in platform.sink.messages if m["To"] == "kari.nordmann@demo.example.org"]
    assert len(notices) == 2 and all(str(cases[3])[:8] in m["Subject"] for m in notices)
    for closed in cases[:3]:
        assert not any(str(closed)[:8].encode() in raw for raw in platform.sink.raw)


def test_a_mail_queued_before_the_outage_waits_and_is_cancelled_by_the_closure_that_waited(notify, bus_vhost):
    platform = notify()
    case = uuid.uuid4()
    deliver_event(platform, case_opened(case, OPENED, relation="none"))
    sweep_once(platform)  # reminded while caught up: two mails queued, "send at once"
    assert count(platform, t.mails, t.mails.c.status == "pending") >= 2
    publish(bus_vhost, case_closed(case, OPENED, date(2026, 11, 25)))  # submitted while the consumer was away

    run_loop(platform, rounds=1)
    assert platform.sink.raw == []
    drain(platform, handlers.consumer_spec(), idle_seconds=1.0)
    run_loop(platform, rounds=1)
    assert not any(str(case)[:8].encode() in raw for raw in platform.sink.raw)
    assert count(platform, t.mails, t.mails.c.kind == "notice", t.mails.c.status != "cancelled") == 0

def test_no_county_digest_with_zeros_before_the_consumer_has_caught_up(notify, bus_vhost):
    platform = notify(NOTIFY_COUNTY_DIGEST_WEEKDAY="3")  # the platform clock's Thursday, after the digest hour
    publish(bus_vhost, *(case_opened(uuid.uuid4(), OPENED, relation="none") for _ in range(3)))

    run_loop(platform, rounds=1)
    assert count(platform, t.mails) == 0 and platform.sink.raw == []

    drain(platform, handlers.consumer_spec(), idle_seconds=1.0)
    run_loop(platform, rounds=1)
    county = [m for m in platform.sink.messages if m["To"] == "tone.bakke@demo.example.org"]
    assert len(county) == 1
    text = county[0].get_body(("plain",)).get_content()
    assert "NAV Kristiansand: åpnet 0, avsluttet 0, forsinket sluttskjema 3, aktive 3" in text


def test_nothing_goes_out_while_the_broker_cannot_say_what_waits(notify):
    platform = notify(NOTIFY_AMQP_URLS=f"amqp://notify:notify@127.0.0.1:{free_port()}/hybrid")
    deliver_event(platform, case_opened(uuid.uuid4(), OPENED, relation="none"))
    run_loop(platform, rounds=1)
    assert count(platform, t.reminders) == 0 and platform.sink.raw == []


def test_a_freshly_started_worker_waits_out_the_settling_time_even_on_an_empty_queue(notify):
    platform = notify(NOTIFY_CATCH_UP_SECONDS="60")
    deliver_event(platform, case_opened(uuid.uuid4(), OPENED, relation="none"))
    run_loop(platform, rounds=1)
    assert count(platform, t.reminders) == 0 and platform.sink.raw == []


def test_the_one_shot_sweep_refuses_while_events_wait_unless_forced(notify, bus_vhost):
    platform = notify()
    case = uuid.uuid4()
    deliver_event(platform, case_opened(case, OPENED, relation="none"))
    publish(bus_vhost, case_closed(case, OPENED, date(2026, 11, 25)))
    cli = create_app(platform=platform).test_cli_runner()
    refused = cli.invoke(args=["notify", "sweep"])
    assert refused.exit_code != 0 and "1 event(s) wait in notify.schedule" in refused.output
    assert count(platform, t.reminders) == 0
    forced = cli.invoke(args=["notify", "sweep", "--force"])
    assert forced.exit_code == 0 and count(platform, t.reminders) == 2
