"""The registry's bus handlers and its consumer spec: the queue `registry.ingest` (closures, corrections,
project-end status forms from intake; research-registration consent status from consent; erasures from intake).

Handlers follow the bus contract `fn(conn, envelope, platform)` and run inside the consumer's inbox transaction
(`app.extensions["consumer_spec"]`, so `flask --app services.registry.wsgi bus consume` runs them); each calls one
use case. One message at a time: the registry has no batch handler (see the README's figures). The registry
publishes nothing.
"""
from __future__ import annotations

import contextvars

from shared.bus.consumer import ConsumerSpec, apply_envelope

from . import privacy, service

QUEUE = "registry.ingest"

# What the last handler did (accepted, waiting, refused...): for the CLI's replay summary and for tests; the bus
# consumer itself only needs commit or Reject.
last_outcome: contextvars.ContextVar = contextvars.ContextVar("registry_last_outcome", default=None)


def _handler(use_case):
    def handle(conn, envelope, platform):
        outcome = use_case(conn, platform, envelope)
        last_outcome.set(outcome)
        return outcome
    handle.__name__ = use_case.__name__
    handle.__doc__ = use_case.__doc__
    return handle


HANDLERS = {event: _handler(use_case) for event, use_case in {
    "case.closed": service.ingest_closure,
    "case.corrected": service.ingest_closure,
    "case.project_end_status": service.ingest_closure,
    "consent.granted": service.grant_consent,
    "consent.withdrawn": service.withdraw_consent,
    "consent.expired": service.expire_consent,
    "case.erased": privacy.erase_cases,
}.items()}


def consumer_spec() -> ConsumerSpec:
    return ConsumerSpec(queue=QUEUE, handlers=HANDLERS)


def process(platform, envelope: dict):
    """One envelope through the bus's own inbox + handler transaction, without a broker (CLI replay, demo, tests).

    Returns the handler's outcome (accepted, waiting, refused, duplicate, ...), "redelivery" when the inbox had the
    message already, or "ignored" for a type the registry does not consume."""
    last_outcome.set(None)
    result = apply_envelope(platform, consumer_spec(), envelope)
    if result == "duplicate":
        return "redelivery"
    if result == "ignored":
        return "ignored"
    return last_outcome.get()
