"""How many events wait for notify's consumer: a passive declare of its queue on the broker, as notify's own broker
user (an adapter kept apart, like intake_client.py).

AMQP counts the messages ready in a queue, not those a consumer has taken and not yet acknowledged (only the
broker's management plugin, which is not run, sees those); the settling time in `domain.catch_up` covers them.
"""
from __future__ import annotations

import logging

import pika

from shared.bus.connection import connection_parameters
from shared.logs import log_event

log = logging.getLogger("notify")


def events_waiting(settings, queue: str) -> int | None:
    """Messages ready in `queue`, from the first broker address that answers; None when none does."""
    for url in settings.amqp_urls:
        try:
            connection = pika.BlockingConnection(connection_parameters(url))
        except (pika.exceptions.AMQPError, OSError) as error:
            log_event(log, "broker look failed", level=logging.WARNING, queue=queue, error=type(error).__name__)
            continue
        try:
            return connection.channel().queue_declare(queue, passive=True).method.message_count
        except (pika.exceptions.AMQPError, OSError) as error:
            log_event(log, "broker look failed", level=logging.WARNING, queue=queue, error=type(error).__name__)
        finally:
            if connection.is_open:
                connection.close()
    return None
