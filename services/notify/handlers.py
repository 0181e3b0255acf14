"""Notify's bus handlers and its consumer spec: the queue `notify.schedule` (intake's case events, consent's status
events, intake's erasures). Notify publishes nothing.

A handler does its effect on the consumer's open transaction (the inbox row is written in the same one) and
raises Reject for a message that can never apply, naming the case (its reason may quote the case id and is then
erased with the case); each calls one use case. Events are applied only through the
consumer's path (`flask bus consume`; `shared.bus.consumer.apply_envelope` without a broker, for the demo and
tests). Contracts: shared.events.case and shared.events.consent.
"""
from __future__ import annotations

from shared.bus.consumer import ConsumerSpec, Reject

from . import privacy, service

QUEUE = "notify.schedule"


def on_case_opened(conn, envelope, platform):
    payload = envelope["payload"]
    try:
        service.upsert_case(conn, envelope["office"], payload, platform.clock.now(), opened_on=payload["opened_on"])
    except ValueError as error:
        raise Reject(str(error), payload["case_id"]) from None


def on_parties_changed(conn, envelope, platform):
    try:
        service.upsert_case(conn, envelope["office"], envelope["payload"], platform.clock.now())
    except (ValueError, LookupError) as error:
        raise Reject(str(error), envelope["payload"]["case_id"]) from None


def on_contact_logged(conn, envelope, platform):
    service.record_contact(conn, envelope["payload"], platform.clock.now())


def on_measure_changed(conn, envelope, platform):
    service.record_measure(conn, envelope["payload"], platform.clock.now())


def on_case_closed(conn, envelope, platform):
    try:
        service.record_closure(conn, envelope["office"], envelope["payload"], platform.clock.now())
    except ValueError as error:
        raise Reject(str(error), envelope["payload"]["case_id"]) from None


def on_project_end_status(conn, envelope, platform):
    try:
        service.record_closure(conn, envelope["office"], envelope["payload"], platform.clock.now(),
                               project_end_status=True)
    except ValueError as error:
        raise Reject(str(error), envelope["payload"]["case_id"]) from None


def on_consent_status(conn, envelope, platform):
    if privacy.is_erased(conn, envelope["payload"].get("case_id")):
        return  # the office erased the case; this event was still on its way from the consent service
    service.record_consent(conn, envelope["type"], envelope["payload"], platform.clock.now())


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


def consumer_spec() -> ConsumerSpec:
    return ConsumerSpec(queue=QUEUE, handlers=HANDLERS)
