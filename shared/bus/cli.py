"""Bus commands in each service's Flask CLI: the outbox relay, the consumer, dead letters."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

outbox_cli = AppGroup("outbox", help="The transactional outbox.")
bus_cli = AppGroup("bus", help="Consumers and dead letters.")


def _platform():
    return current_app.extensions["platform"]


@outbox_cli.command("relay")
def outbox_relay():
    """Publish outbox rows with pipelined confirms until stopped (safe to kill at any moment)."""
    from shared.bus.relay import run_relay
    run_relay(_platform())


@outbox_cli.command("status")
def outbox_status():
    from sqlalchemy import func, select
    platform = _platform()
    t = platform.tables["outbox"]
    with platform.engine.connect() as conn:
        unsent = conn.execute(select(func.count()).select_from(t).where(t.c.sent_at.is_(None))).scalar()
        total = conn.execute(select(func.count()).select_from(t)).scalar()
    click.echo(f"outbox: {total} rows, {unsent} unsent")


@bus_cli.command("consume")
def bus_consume():
    """Run this service's consumer until stopped."""
    from shared.bus.consumer import run_consumer
    spec = current_app.extensions.get("consumer_spec")
    if spec is None:
        raise click.ClickException(f"{_platform().settings.service} consumes no events")
    run_consumer(_platform(), spec)


def register(app):
    app.cli.add_command(outbox_cli)
    app.cli.add_command(bus_cli)
