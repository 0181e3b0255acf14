"""Registry operations in the Flask CLI: `flask --app services.registry.wsgi <command>`.

registry purge-waiting | registry replay --file envelopes.jsonl | registry rebuild --events … |
registry release cut / recut | registry patterns [--follow] | registry downloads verify | demo seed | privacy retention
"""
from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time

import click
from flask import current_app
from flask.cli import AppGroup

from shared import privacy as shared_privacy
from shared.bus.envelope import InvalidEvent

from . import demo, handlers, pattern_follower, privacy, service, tables
from .domain.errors import ReleaseError

registry_cli = AppGroup("registry", help="The research registry's ingest housekeeping and releases.")
demo_cli = AppGroup("demo", help="Demo data.")


def _platform():
    return current_app.extensions["platform"]


@registry_cli.command("purge-waiting")
def purge_waiting():
    """Drop closures that waited longer than the project's consent_wait_days for consent (platform clock)."""
    dropped = service.purge_waiting(_platform())
    click.echo(f"dropped {dropped} closure(s) that waited too long for consent")


@registry_cli.command("patterns")
@click.option("--follow", is_flag=True,
              help="keep running: search it again each time the data has settled after a change (the stack's "
                   "registry-patterns process; REGISTRY_PATTERNS_* settings)")
def patterns(follow):
    """Search the suppression pattern of the tables without a filter now, if not kept yet (the front page's), so
    that the first reader after a batch of changes does not wait for it; every worker then reads it."""
    if follow:
        config = pattern_follower.load_follower_config(_platform().settings)
        os.nice(config.nice)
        # SIGTERM as an exception: a search under way drops its claim row (readers would wait for it otherwise).
        signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
        pattern_follower.follow(_platform(), config, stop=threading.Event())  # until SIGTERM or Ctrl-C
        return
    started = time.monotonic()
    view = service.overview(_platform())
    click.echo(f"pattern for cursor {view['cursor']} ready in {time.monotonic() - started:.1f} s")


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


@registry_cli.command("rebuild")
@click.option("--events", "paths", multiple=True, required=True,
              help="JSON lines of events kept upstream, one file per service: intake's and consent's `outbox "
                   "export` (e.g. <(flask --app services.intake.wsgi outbox export)); '-' reads standard input")
@click.option("--previous-secret-ref", default=None,
              help="the secret the registry used until now (env:NAME or file:PATH), when the project's settings "
                   "name a new one: to recognise the cases it erased")
@click.option("--yes", is_flag=True, help="do not ask before replacing the tables")
def rebuild(paths, previous_secret_ref, yes):
    """Rebuild closures, versions, waiting closures, consent states and the change feed from upstream events (one
    transaction; releases untouched; an erased case stays gone)."""
    sources = [click.open_file(path, encoding="utf-8") for path in paths]
    try:
        envelopes = handlers.read_events(sources)
        if not yes:
            click.confirm(f"Replace the registry's rows with {len(envelopes)} replayed event(s)?", abort=True)
        summary = handlers.rebuild(_platform(), envelopes, previous_secret_ref)
    except (handlers.RebuildRefused, service.SecretUnavailable) as error:
        click.echo(f"refused: {error}", err=True)
        sys.exit(2)
    finally:
        for source in sources:
            source.close()
    click.echo(json.dumps(summary, sort_keys=True))


release_cli = AppGroup("release", help="Research data releases.")
downloads_cli = AppGroup("downloads", help="The hash-chained log of release downloads.")


@release_cli.command("cut")
@click.option("--labels", type=click.Choice(["nb", "en"]), default="nb", help="language of the SPSS/Stata labels")
@click.option("--cursor", type=int, default=None, help="must be the newest change (the default)")
@click.option("--by", "actor", default="operator", help="who cuts it (recorded in the release)")
def cut(labels, cursor, actor):
    """Cut a release at the newest change: files in every format, manifest, codebook, DDI XML, notes."""
    try:
        record = service.cut_release(_platform(), actor, labels=labels, cursor=cursor)
    except ReleaseError as error:
        click.echo(f"refused: {error}", err=True)
        sys.exit(2)
    anonymity = record["notes"]["k_anonymity"]
    click.echo(json.dumps({"release": record["id"], "cursor": record["cursor"], "cases": record["notes"]["cases"],
                           "files": len(record["manifest"]), "errata": len(record["notes"]["errata"]),
                           "k": anonymity["k"], "periods": anonymity["periods"],
                           "blanked": sum(anonymity["suppressed"].values())}))


@release_cli.command("recut")
@click.option("--by", "actor", default="operator", help="who re-cuts (recorded in the release)")
def recut(actor):
    """Re-cut every release version an erasure withdrew; prints the researchers who downloaded it, to be told."""
    for done in service.recut_withdrawn(_platform(), actor):
        click.echo(json.dumps({"release": done["release"]["id"], "recut_of": done["release"]["notes"]["recut_of"],
                               "tell": done["tell"]}))


@downloads_cli.command("verify")
def verify_downloads():
    """Recompute the download log's hash chain; exit 1 and say what is wrong if an entry was edited or removed."""
    log = service.download_log(_platform())
    for problem in log["problems"]:
        click.echo(problem)
    if log["problems"]:
        sys.exit(1)
    click.echo(f"download log intact: {len(log['entries'])} entries")


@demo_cli.command("seed")
def seed():
    """The report's 21 cases of table 1, with research consent, straight into the registry's ingest."""
    outcomes = demo.seed(_platform())
    click.echo(json.dumps(outcomes, sort_keys=True))


privacy_cli = shared_privacy.retention_cli(privacy.retention_steps, tables.privacy_log)


registry_cli.add_command(release_cli)
registry_cli.add_command(downloads_cli)


def register(app):
    app.cli.add_command(registry_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(privacy_cli)
