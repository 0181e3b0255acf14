"""Events over the real broker: intake's outbox relay publishes case events, the same body is published a second
time (a redelivery), notify's consumer on `notify.schedule` drains them; one case, one reminder per rule."""
from __future__ import annotations

import uuid
from datetime import date

import pika
from sqlalchemy import func, select

from services.intake import tables as intake_tables
from services.notify import handlers
from services.notify import tables as t
from services.notify.service import sweep_once
from shared.bus.consumer import drain
from shared.bus.envelope import encode, routing_key
from shared.bus.relay import relay_pending
from shared.bus.topology import EXCHANGE


def test_case_events_through_rabbitmq_are_applied_once(bus_vhost, platform_factory, tmp_path):
    intake = platform_factory("intake", intake_tables.all_tables(), f"sqlite:///{tmp_path}/intake.db",
                              env=bus_vhost.env("intake"))
    notify = platform_factory("notify", t.all_tables(), f"sqlite:///{tmp_path}/notify.db", env=bus_vhost.env("notify"))
    case = uuid.uuid4()
    with intake.engine.begin() as conn:
        opened = intake.emit(conn, "case.opened", "kristiansand", {
            "case_id": case, "candidate_hash": "a" * 64, "opened_on": date(2026, 9, 1), "entry_point": "course_start",
            "counsellor_id": "kari-veileder", "mentor_id": None, "mentor_relation": "none", "employer_hash": None})
        intake.emit(conn, "case.contact_logged", "kristiansand", {
            "case_id": case, "contact_id": uuid.uuid4(), "revision": 1, "contact_date": date(2026, 9, 5),
            "party": "candidate", "form": "phone", "minutes": 10})
    assert relay_pending(intake) == 2
    # The same message once more, as a broker redelivery or a relay repeat would bring it.
    connection = pika.BlockingConnection(pika.URLParameters(bus_vhost.url("intake")))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(EXCHANGE, routing_key("kristiansand", "case.opened"), encode(opened),
                              pika.BasicProperties(message_id=opened["message_id"], content_type="application/json",
                                                   delivery_mode=2), mandatory=True)
    finally:
        connection.close()

    drain(notify, handlers.consumer_spec(), idle_seconds=1.0)
    assert bus_vhost.ready("notify.schedule") == 0
    with notify.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.cases)).scalar() == 1
        assert conn.execute(select(t.cases.c.last_activity_on)).scalar() == date(2026, 9, 5)
        assert conn.execute(select(func.count()).select_from(notify.tables["inbox"])).scalar() == 2
    result = sweep_once(notify)
    assert result.reminders["closure_overdue"] == 1 and result.reminders["consent_missing"] == 1
