"""Bus commands in each service's Flask CLI: the outbox relay, the consumer, dead letters."""
from __future__ import annotations

from contextlib import contextmanager

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from shared.bus import store, topology
from shared.config import ConfigError
from shared.db import utcnow

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


@outbox_cli.command("export")
@click.option("--type", "event_types", multiple=True, help="only this event type (repeatable); default every type")
def outbox_export(event_types):
    """Print the events this service keeps in its outbox, one envelope per line (JSON), oldest first: a consuming
    service rebuilds from them (e.g. `registry rebuild --events <(flask --app ... outbox export)`). They carry case
    ids and keyed hashes: pipe them, do not keep the output."""
    platform = _platform()
    out = click.get_binary_stream("stdout")
    with platform.engine.connect() as conn:
        for body in store.outbox_bodies(conn, platform.tables["outbox"], event_types):
            out.write(body + b"\n")
    out.flush()


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
    service's consumer rejected shows the reason the consumer logged when it rejected it."""
    from shared.bus.admin import list_dead_letters  # deferred: a web process never loads pika
    letters = list_dead_letters(admin_url, _queues_for(queue))
    with _platform().engine.connect() as conn:
        recorded = {letter_queue: store.rejection_reasons(conn, letter_queue, ids)
                    for letter_queue, ids in _own_message_ids(letters).items()}
    for letter in letters:
        if letter["reason"] == "rejected":
            letter["reason"] = _consumer_reason(letter, recorded)
        click.echo("\t".join(str(letter[k]) for k in ("queue", "message_id", "type", "office", "reason", "count")))
    click.echo(f"{len(letters)} dead letter(s)", err=True)


def _own_queue(letter_queue) -> bool:
    spec = current_app.extensions.get("consumer_spec")
    return spec is not None and spec.queue == letter_queue


def _own_message_ids(letters) -> dict[str, list]:
    """queue -> message ids, for the letters of this service's consumer (whose reasons its database holds)."""
    found: dict[str, list] = {}
    for letter in letters:
        if letter["message_id"] and _own_queue(letter["queue"]):
            found.setdefault(letter["queue"], []).append(letter["message_id"])
    return found


def _consumer_reason(letter, recorded) -> str:
    if not _own_queue(letter["queue"]):
        owner = topology.queue(letter["queue"]).service
        return f"rejected (the reason is with {owner}: its bus dead-letters)"
    reason = recorded.get(letter["queue"], {}).get(letter["message_id"])
    return f"rejected: {reason}" if reason else "rejected (no reason recorded)"


@bus_cli.command("replay")
@click.option("--queue", help="a consumer queue (default: this service's queues)")
@click.option("--message-id", help="replay this message")
@click.option("--all", "replay_all", is_flag=True, help="replay every dead letter of the queue(s)")
@ADMIN_URL_OPTION
def bus_replay(queue, message_id, replay_all, admin_url):
    """Republish dead letters to their original queue and remove them from the dead-letter queue; this service
    forgets the reasons it recorded for them."""
    from shared.bus.admin import replay_dead_letters  # deferred: a web process never loads pika
    if bool(message_id) == bool(replay_all):
        raise click.UsageError("give exactly one of --message-id ID or --all")
    started = utcnow()
    replayed = replay_dead_letters(admin_url, _queues_for(queue), message_id=message_id, replay_all=replay_all)
    for letter in replayed:
        click.echo(f"replayed {letter['message_id']} to {letter['queue']}")
    with _platform().engine.begin() as conn:
        for letter_queue, ids in _own_message_ids(replayed).items():
            store.clear_rejections(conn, letter_queue, ids, before=started)
    if message_id and not replayed:
        raise click.ClickException(f"no dead letter with message id {message_id}")
    click.echo(f"{len(replayed)} replayed", err=True)


def register(app):
    app.cli.add_command(outbox_cli)
    app.cli.add_command(bus_cli)
