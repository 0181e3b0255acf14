"""Bus commands in each service's Flask CLI: the outbox relay, the consumer, dead letters."""
from __future__ import annotations

from contextlib import contextmanager

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from shared.bus import topology
from shared.config import ConfigError

outbox_cli = AppGroup("outbox", help="The transactional outbox.")
bus_cli = AppGroup("bus", help="Consumers and dead letters.")


def _platform():
    return current_app.extensions["platform"]


@contextmanager
def _config_errors():
    """A malformed setting read at start (e.g. the metrics address) stops the command with one line naming it."""
    try:
        yield
    except ConfigError as error:
        raise click.ClickException(f"configuration error: {error}") from None


@outbox_cli.command("relay")
def outbox_relay():
    """Publish outbox rows with pipelined confirms until stopped (safe to kill at any moment)."""
    from shared.bus.relay import run_relay  # deferred: a web process never loads pika and the bus metrics
    with _config_errors():
        run_relay(_platform())


@outbox_cli.command("status")
def outbox_status():
    platform = _platform()
    t = platform.tables["outbox"]
    with platform.engine.connect() as conn:
        unsent = conn.execute(select(func.count()).select_from(t).where(t.c.sent_at.is_(None))).scalar()
        total = conn.execute(select(func.count()).select_from(t)).scalar()
    click.echo(f"outbox: {total} rows, {unsent} unsent")


@bus_cli.command("consume")
def bus_consume():
    """Run this service's consumer until stopped."""
    from shared.bus.consumer import run_consumer  # deferred: a web process never loads pika and the bus metrics
    spec = current_app.extensions.get("consumer_spec")
    if spec is None:
        raise click.ClickException(f"{_platform().settings.service} consumes no events")
    with _config_errors():
        run_consumer(_platform(), spec)


def _queues_for(queue):
    if queue:
        try:
            topology.queue(queue)
        except KeyError:
            raise click.BadParameter(f"no consumer queue {queue!r} (known: "
                                     f"{', '.join(q.name for q in topology.QUEUES)})", param_hint="--queue") from None
        return [queue]
    own = [q.name for q in topology.queues_of(_platform().settings.service)]
    return own or None


ADMIN_URL_OPTION = click.option("--admin-url", envvar="BUS_ADMIN_URL", show_envvar=True,
                                default="amqp://guest:guest@127.0.0.1:5672/hybrid",
                                help="an operator's AMQP URL for the vhost")


@bus_cli.command("dead-letters")
@click.option("--queue", help="a consumer queue (default: this service's queues)")
@ADMIN_URL_OPTION
def bus_dead_letters(queue, admin_url):
    """List dead letters (message id, type, office, reason, count) without consuming them. A message this
    service's consumer rejected shows the consumer's reason, found by running it through the consumer's checks
    and handler in a transaction that is rolled back."""
    from shared.bus.admin import list_dead_letters  # deferred: a web process never loads pika
    from shared.bus.consumer import rejection_reason  # deferred: a web process never loads pika and the bus metrics
    spec = current_app.extensions.get("consumer_spec")

    def explain(letter_queue, body):
        if spec is None or spec.queue != letter_queue:
            return "rejected"  # another service's consumer: its own CLI explains it
        reason = rejection_reason(_platform(), spec, body)
        return f"rejected: {reason}" if reason else "rejected (would be processed now: replay it)"
    letters = list_dead_letters(admin_url, _queues_for(queue), explain)
    for letter in letters:
        click.echo("\t".join(str(letter[k]) for k in ("queue", "message_id", "type", "office", "reason", "count")))
    click.echo(f"{len(letters)} dead letter(s)", err=True)


@bus_cli.command("replay")
@click.option("--queue", help="a consumer queue (default: this service's queues)")
@click.option("--message-id", help="replay this message")
@click.option("--all", "replay_all", is_flag=True, help="replay every dead letter of the queue(s)")
@ADMIN_URL_OPTION
def bus_replay(queue, message_id, replay_all, admin_url):
    """Republish dead letters to their original queue and remove them from the dead-letter queue."""
    from shared.bus.admin import replay_dead_letters  # deferred: a web process never loads pika
    if bool(message_id) == bool(replay_all):
        raise click.UsageError("give exactly one of --message-id ID or --all")
    replayed = replay_dead_letters(admin_url, _queues_for(queue), message_id=message_id, replay_all=replay_all)
    for letter in replayed:
        click.echo(f"replayed {letter['message_id']} to {letter['queue']}")
    if message_id and not replayed:
        raise click.ClickException(f"no dead letter with message id {message_id}")
    click.echo(f"{len(replayed)} replayed", err=True)


def register(app):
    app.cli.add_command(outbox_cli)
    app.cli.add_command(bus_cli)
