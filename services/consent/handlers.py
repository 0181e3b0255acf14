"""Intake's case events, consumed from the `consent.cases` queue: the consent service's knowledge of cases.

It keeps what consent rules need (office, counsellor, mentor relation, whether an employer is known, dates) and
re-evaluates every purpose of a case when its parties change. Nothing personal arrives (contract: shared.events.case).
"""
from __future__ import annotations

from . import domain, privacy

QUEUE = "consent.cases"


def _deps(platform):
    return domain.deps_from_platform(platform)


def _reject(message):
    from shared.bus.consumer import Reject
    raise Reject(message)


def on_case_opened(conn, envelope, platform):
    payload = envelope["payload"]
    try:
        domain.upsert_case(conn, _deps(platform), envelope["office"], payload, opened_on=payload["opened_on"])
    except ValueError as error:
        _reject(str(error))


def on_parties_changed(conn, envelope, platform):
    try:
        domain.upsert_case(conn, _deps(platform), envelope["office"], envelope["payload"], require_known=True)
    except (ValueError, LookupError) as error:
        _reject(f"{error}: {envelope['payload']['case_id']}")


def on_case_closed(conn, envelope, platform):
    """case.closed and case.corrected carry the whole closure record: parties and dates as finally reported."""
    payload = envelope["payload"]
    try:
        domain.upsert_case(conn, _deps(platform), envelope["office"], payload, opened_on=payload["opened_on"],
                           closed_on=payload["closed_on"])
    except ValueError as error:
        _reject(str(error))


HANDLERS = {
    "case.opened": on_case_opened,
    "case.parties_changed": on_parties_changed,
    "case.closed": on_case_closed,
    "case.corrected": on_case_closed,
    "case.erased": privacy.on_case_erased,  # the office erased the cases at the person's request
}


def consumer_spec():
    from shared.bus.consumer import ConsumerSpec
    return ConsumerSpec(queue=QUEUE, handlers=HANDLERS)
