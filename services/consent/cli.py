"""Consent operations in the Flask CLI: `flask --app services.consent.wsgi <command>`.

templates load | rewrap | audit verify | expiry sweep | demo seed | privacy retention
"""
from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup
from marshmallow import ValidationError

from shared.web import current_platform

from . import demo, privacy, service
from .cipher import OfficeCipher
from .domain import ConsentInvalid

templates_cli = AppGroup("templates", help="Consent templates (purposes, versions, signers, texts, expiry).")
audit_cli = AppGroup("audit", help="The hash-chained audit log of document views.")
expiry_cli = AppGroup("expiry", help="Expiry of consents on the platform clock.")
demo_cli = AppGroup("demo", help="Demo data.")


@templates_cli.command("load")
@click.option("--file", "path", default=str(service.DEFAULT_TEMPLATES), show_default=True)
def templates_load(path):
    """Add the file's template versions; an existing version with a different text is an error."""
    try:
        result = service.load_template_file(current_platform(), path)
    except ValidationError as error:
        click.echo(f"template file {path} is invalid: {json.dumps(error.messages, ensure_ascii=False)}", err=True)
        sys.exit(2)
    except ConsentInvalid as error:
        click.echo(f"template file {path} refused: {json.dumps(error.errors, ensure_ascii=False)}", err=True)
        sys.exit(2)
    click.echo(f"templates: {len(result['added'])} added, {len(result['unchanged'])} unchanged")


@click.command("rewrap")
@click.option("--office", "offices", multiple=True, help="only these offices (default: every office in the keyring)")
@click.option("--batch-size", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--pause", default=0.0, type=float, help="seconds to sleep between batches (to go easy on the database)")
def rewrap_command(offices, batch_size, pause):
    """Re-wrap every record and document under the office's current key version (resumable: run it again)."""
    platform = current_platform()
    cipher = OfficeCipher(platform.keyring)
    total = 0
    for office in offices or platform.keyring.offices():
        def progress(office_code, table, n, done):
            click.echo(f"{office_code}: {table} batch of {n} committed ({done} so far)")
        total += service.rewrap_office(platform.engine, cipher, office, batch_size, pause, progress)
        left = service.rows_behind(platform.engine, cipher, office)
        if left:
            click.echo(f"{office}: {left} rows still behind (another run is at work?)", err=True)
    click.echo(f"rewrap done: {total} rows re-wrapped")


@audit_cli.command("verify")
@click.option("--office", default=None)
def audit_verify(office):
    """Recompute the hash chains; exit 1 and name the entries if a row was edited, deleted or reordered."""
    platform = current_platform()
    with platform.engine.connect() as conn:
        report = service.verify_audit(conn, office)
    broken = False
    if not report:
        click.echo("no audit entries yet")
    for code, problems in sorted(report.items()):
        if problems:
            broken = True
            for problem in problems:
                click.echo(f"{code}: {problem}")
        else:
            click.echo(f"{code}: chain intact")
    if broken:
        sys.exit(1)


@expiry_cli.command("sweep")
def expiry_sweep():
    """Mark consents past their expiry as expired and warn N days before (events consent.expired / .expiring)."""
    platform = current_platform()
    with platform.engine.begin() as conn:
        result = service.sweep_expiry(conn, service.deps_from_platform(platform))
    click.echo(f"expiry sweep: {result['expired']} expired, {result['expiring']} expiring")


@demo_cli.command("seed")
def demo_seed():
    """Templates, plus consents for the demo cases this database already knows from intake's events."""
    result = demo.seed(current_platform())
    click.echo(f"demo: {result['templates']} template versions added, {result['consents']} consents recorded "
               f"for {result['cases']} known cases")


def register(app):
    for command in (templates_cli, audit_cli, expiry_cli, demo_cli, rewrap_command, privacy.retention_cli):
        app.cli.add_command(command)
