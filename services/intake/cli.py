"""Intake operations in the Flask CLI: `flask --app services.intake.wsgi <command>`.

demo seed | project end | privacy access | privacy erase | privacy log | privacy retention
"""
from __future__ import annotations

import json
import os

import click
from flask import current_app
from flask.cli import AppGroup

from shared import privacy as shared_privacy
from shared.auth import Principal, mint_token

from . import access, privacy, service, store
from .demo import seed
from .domain import Invalid
from .peers import PeerUnavailable

demo_cli = AppGroup("demo", help="Demo data.")
project_cli = AppGroup("project", help="The research project's milestones.")


@demo_cli.command("seed")
def demo_seed():
    """A handful of fictional cases in NAV Kristiansand and NAV Bergen vest, some closed (repeatable)."""
    result = seed(current_app.extensions["platform"])
    click.echo(f"demo: {result['created']} cases created, {result['skipped']} already there")


@project_cli.command("end")
@click.option("--actor", default="admin", show_default=True, help="the admin's directory id, kept in the history")
def project_end(actor):
    """Submit the project-end status form ("prosjektslutt, pågående") for every ongoing case, in every office."""
    result = service.project_end(current_app.extensions["platform"], service.Actor(office="", subject=actor))
    click.echo(f"project end: {result['status_forms']} status forms submitted")


privacy_cli = shared_privacy.retention_cli(privacy.retention_steps, store.PRIVACY_LOG)


def _as_local_contact(platform, user_id):
    """The local contact the command acts for, and a short-lived token of theirs for consent and notify."""
    with platform.engine.connect() as conn:
        user = platform.directory.user(conn, user_id)
    if user is None or user["role"] not in access.PRIVACY:
        raise click.ClickException(f"{user_id!r} is not a local contact in the directory (only they run this)")
    principal = Principal(subject=user["id"], role=user["role"], name=user["name"], office=user["office_code"])
    token = mint_token(platform.settings, subject=user["id"], role=user["role"], name=user["name"],
                       office=user["office_code"], lifetime_minutes=10)
    return principal, token


def _national_id():
    # Asked for, hidden: never an argument (it would sit in the shell history and the process list).
    return click.prompt("Fødselsnummer eller D-nummer", hide_input=True)


def _refusal(error):
    if isinstance(error, Invalid):
        return "; ".join(" ".join(messages) for messages in error.errors.values())
    return error.message if isinstance(error, PeerUnavailable) else privacy.NOBODY


@privacy_cli.command("access")
@click.option("--as", "user_id", required=True, help="the office's local contact who asks (directory id)")
@click.option("--output", type=click.Path(dir_okay=False), help="write the document to this file (mode 0600)")
def privacy_access(user_id, output):
    """Access request (innsyn): everything the office holds about one person, as JSON."""
    platform = current_app.extensions["platform"]
    principal, token = _as_local_contact(platform, user_id)
    try:
        document = privacy.access_request(platform, current_app.extensions["privacy_peers"], principal, token,
                                          _national_id())
    except (Invalid, privacy.NobodyFound, PeerUnavailable) as error:
        raise click.ClickException(_refusal(error)) from None
    text = json.dumps(document, ensure_ascii=False, indent=1)
    if output:
        with open(os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
            handle.write(text)
        click.echo(f"access request {document['request_id']}: {len(document['cases'])} case(s) written to {output}")
    else:
        click.echo(text)


@privacy_cli.command("erase")
@click.option("--as", "user_id", required=True, help="the office's local contact who asks (directory id)")
@click.option("--yes", "confirmed", is_flag=True, help="confirm: everything about the person is deleted for good")
def privacy_erase(user_id, confirmed):
    """Erasure (sletting): delete everything the office holds about one person; the other services follow."""
    platform = current_app.extensions["platform"]
    principal, _token = _as_local_contact(platform, user_id)
    try:
        with platform.engine.begin() as conn:
            # No version to name: the command finds the person's cases and erases them in one transaction.
            result = privacy.erase(conn, platform, principal, _national_id(), confirmed, expected_version=None)
    except (Invalid, privacy.NobodyFound) as error:
        raise click.ClickException(_refusal(error)) from None
    click.echo(json.dumps(privacy.jsonable(result), ensure_ascii=False, sort_keys=True))


@privacy_cli.command("log")
@click.option("--office", help="one office's requests (default: all)")
@click.option("--limit", type=int, default=50, show_default=True)
def privacy_log(office, limit):
    """The privacy audit log: access requests, erasures, retention runs (counts only, no person)."""
    platform = current_app.extensions["platform"]
    with platform.engine.connect() as conn:
        for entry in privacy.recent_requests(conn, office, limit):
            click.echo(json.dumps(privacy.jsonable(entry), ensure_ascii=False, sort_keys=True))


def register(app):
    app.cli.add_command(demo_cli)
    app.cli.add_command(project_cli)
    app.cli.add_command(privacy_cli)
