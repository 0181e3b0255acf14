"""Intake's case events, consumed from the `consent.cases` queue: the consent service's knowledge of cases.

It keeps what consent rules need (office, counsellor, mentor relation, whether an employer is known, dates) and
re-evaluates every purpose of a case when its parties change. Nothing personal arrives (contract: shared.events.case).
Events are applied only through the consumer (`shared.bus.consumer`: inbox, handler and effect in one transaction);
the consent service publishes its own events through the outbox (service.refresh_status, sweep_expiry).
"""
from __future__ import annotations

from shared.bus.consumer import ConsumerSpec, Reject

from . import privacy, service

QUEUE = "consent.cases"


def on_case_opened(conn, envelope, platform):
    payload = envelope["payload"]
    try:
        service.upsert_case(conn, service.deps_from_platform(platform), envelope["office"], payload,
                            opened_on=payload["opened_on"])
    except ValueError as error:
        raise Reject(str(error), payload["case_id"]) from error


def on_parties_changed(conn, envelope, platform):
    try:
        service.upsert_case(conn, service.deps_from_platform(platform), envelope["office"], envelope["payload"],
                            require_known=True)
    except (ValueError, LookupError) as error:
        raise Reject(f"{error}: {envelope['payload']['case_id']}", envelope["payload"]["case_id"]) from error


def on_case_closed(conn, envelope, platform):
    """case.closed and case.corrected carry the whole closure record: parties and dates as finally reported."""
    payload = envelope["payload"]
    try:
        service.upsert_case(conn, service.deps_from_platform(platform), envelope["office"], payload,
                            opened_on=payload["opened_on"], closed_on=payload["closed_on"])
    except ValueError as error:
        raise Reject(str(error), payload["case_id"]) from error


HANDLERS = {
    "case.opened": on_case_opened,
    "case.parties_changed": on_parties_changed,
    "case.closed": on_case_closed,
    "case.corrected": on_case_closed,
    "case.erased": privacy.on_case_erased,  # the office erased the cases at the person's request
}


def consumer_spec() -> ConsumerSpec:
    return ConsumerSpec(queue=QUEUE, handlers=HANDLERS)
