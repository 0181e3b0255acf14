"""Intake's case events and consent's status events, consumed from the `notify.schedule` queue.

A handler does its effect on the consumer's open transaction (the inbox row is written in the same one) and
raises Reject for a message that can never apply. Contracts: shared.events.case and shared.events.consent.
"""
from __future__ import annotations

from . import privacy, schedule

QUEUE = "notify.schedule"


def _reject(message):
    from shared.bus.consumer import Reject
    raise Reject(message)


def on_case_opened(conn, envelope, platform):
    payload = envelope["payload"]
    try:
        schedule.upsert_case(conn, envelope["office"], payload, platform.clock.now(), opened_on=payload["opened_on"])
    except ValueError as error:
        _reject(str(error))


def on_parties_changed(conn, envelope, platform):
    try:
        schedule.upsert_case(conn, envelope["office"], envelope["payload"], platform.clock.now())
    except (ValueError, LookupError) as error:
        _reject(str(error))


def on_contact_logged(conn, envelope, platform):
    schedule.record_contact(conn, envelope["payload"], platform.clock.now())


def on_measure_changed(conn, envelope, platform):
    schedule.record_measure(conn, envelope["payload"], platform.clock.now())


def on_case_closed(conn, envelope, platform):
    try:
        schedule.record_closure(conn, envelope["office"], envelope["payload"], platform.clock.now())
    except ValueError as error:
        _reject(str(error))


def on_project_end_status(conn, envelope, platform):
    try:
        schedule.record_closure(conn, envelope["office"], envelope["payload"], platform.clock.now(),
                                project_end_status=True)
    except ValueError as error:
        _reject(str(error))


def on_consent_status(conn, envelope, platform):
    if privacy.is_erased(conn, envelope["payload"].get("case_id")):
        return  # the office erased the case; this event was still on its way from the consent service
    schedule.record_consent(conn, envelope["type"], envelope["payload"], platform.clock.now())


HANDLERS = {
    "case.opened": on_case_opened,
    "case.parties_changed": on_parties_changed,
    "case.contact_logged": on_contact_logged,
    "case.measure_changed": on_measure_changed,
    "case.closed": on_case_closed,
    "case.corrected": on_case_closed,
    "case.project_end_status": on_project_end_status,
    "consent.granted": on_consent_status,
    "consent.withdrawn": on_consent_status,
    "consent.expired": on_consent_status,
    "consent.incomplete": on_consent_status,
    "case.erased": privacy.on_case_erased,  # the office erased the cases at the person's request
}


def consumer_spec():
    from shared.bus.consumer import ConsumerSpec
    return ConsumerSpec(queue=QUEUE, handlers=HANDLERS)


def apply_locally(platform, envelope: dict) -> bool:
    """Process one envelope as the consumer does (inbox row + handler in one transaction), without a broker.

    For `demo seed` and tests; the queue's consumer (`flask bus consume`) is the production path. Returns False
    when the message was already processed (a redelivery).
    """
    from sqlalchemy import select

    from shared.bus.envelope import validate_envelope

    loaded = validate_envelope(envelope)
    inbox = platform.tables["inbox"]
    with platform.engine.begin() as conn:
        seen = conn.execute(select(inbox.c.message_id).where(
            inbox.c.consumer == QUEUE, inbox.c.message_id == str(loaded["message_id"]))).first()
        if seen:
            return False
        conn.execute(inbox.insert().values(consumer=QUEUE, message_id=str(loaded["message_id"]),
                                           event_type=loaded["type"], processed_at=platform.clock.now()))
        handler = HANDLERS.get(loaded["type"])
        if handler:
            handler(conn, loaded, platform)
    return True
