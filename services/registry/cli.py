"""Registry operations in the Flask CLI: `flask --app services.registry.wsgi <command>`.

registry purge-waiting | registry replay --file envelopes.jsonl | demo seed | privacy retention
"""
from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from shared import privacy as shared_privacy
from shared.bus.envelope import InvalidEvent

from . import demo, handlers, privacy, service, tables

registry_cli = AppGroup("registry", help="The research registry's ingest housekeeping.")
demo_cli = AppGroup("demo", help="Demo data.")


def _platform():
    return current_app.extensions["platform"]


@registry_cli.command("purge-waiting")
def purge_waiting():
    """Drop closures that waited longer than the project's consent_wait_days for consent (platform clock)."""
    dropped = service.purge_waiting(_platform())
    click.echo(f"dropped {dropped} closure(s) that waited too long for consent")


@registry_cli.command("replay")
@click.option("--file", "path", required=True, help="JSON lines, one event envelope per line")
def replay(path):
    """Process envelopes (e.g. from the dead-letter queue) through inbox + handlers; a seen message is a no-op."""
    outcomes = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                outcome = handlers.process(_platform(), json.loads(line))
            except (InvalidEvent, ValueError) as error:
                click.echo(f"line {number}: refused: {error}", err=True)
                sys.exit(2)
            outcomes[str(outcome)] = outcomes.get(str(outcome), 0) + 1
    click.echo(json.dumps(outcomes, sort_keys=True))


@demo_cli.command("seed")
def seed():
    """The report's 21 cases of table 1, with research consent, straight into the registry's ingest."""
    outcomes = demo.seed(_platform())
    click.echo(json.dumps(outcomes, sort_keys=True))


privacy_cli = shared_privacy.retention_cli(privacy.retention_steps, tables.privacy_log)


def register(app):
    app.cli.add_command(registry_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(privacy_cli)
