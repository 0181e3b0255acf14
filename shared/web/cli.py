"""Operations commands every service has, in the Flask CLI: `flask --app services.<name>.wsgi <group> <command>`."""
from __future__ import annotations

import json
import sys

import click
from alembic import command
from flask import current_app
from flask.cli import AppGroup
from marshmallow import ValidationError

from shared import directory as directory_module
from shared import migrations
from shared.auth import mint_token
from shared.bus import cli as bus_cli
from shared.crypto import LocalKeyring
from shared.replays import PLATFORM_KEYS

db_cli = AppGroup("db", help="The service's own database.")
directory_cli = AppGroup("directory", help="Offices, users and the project as data.")
auth_cli = AppGroup("auth", help="Tokens for local use.")
keys_cli = AppGroup("keys", help="The office keyring (local keyring file).")


def _platform():
    return current_app.extensions["platform"]


@db_cli.command("upgrade")
@click.option("--revision", default="head")
def db_upgrade(revision):
    """Apply the service's Alembic migrations."""
    platform = _platform()
    migrations.upgrade(platform.settings.service, platform.settings.database_url, revision)
    click.echo(f"{platform.settings.service}: database at {revision}")


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message):
    """Autogenerate a migration from the tables (against a database already at head)."""
    platform = _platform()
    config = migrations.alembic_config(platform.settings.service, platform.settings.database_url)
    command.revision(config, message=message, autogenerate=True)


@directory_cli.command("load")
@click.option("--file", "path", default=str(directory_module.DEFAULT_DIRECTORY_FILE), show_default=True)
def directory_load(path):
    """Load counties, offices, users and project settings (upsert; adding an office is adding a line)."""
    platform = _platform()
    try:
        data = directory_module.read_directory_file(path)
    except ValidationError as error:
        click.echo(f"directory file {path} is invalid: {json.dumps(error.messages, ensure_ascii=False)}", err=True)
        sys.exit(2)
    counts = directory_module.load_directory(platform.engine, platform.tables, data)
    click.echo(f"{platform.settings.service}: loaded " + ", ".join(f"{v} {k}" for k, v in counts.items()))


@auth_cli.command("mint")
@click.option("--user", "user_id", help="a user id from the directory")
@click.option("--role", help="or a role, with --office/--county")
@click.option("--office")
@click.option("--county")
@click.option("--minutes", type=int, default=None)
def auth_mint(user_id, role, office, county, minutes):
    """An operator's command for local API calls in local demo mode (DEMO_MODE=true on a loopback PUBLIC_URL): print
    a bearer token of the local issuer for a directory user, or for an ad-hoc role. Anywhere else API clients get
    their tokens from the identity provider (README, "API clients")."""
    platform = _platform()
    if not platform.settings.demo_mode:
        raise click.ClickException("auth mint works only in local demo mode (DEMO_MODE=true on a loopback "
                                   "PUBLIC_URL); get a token from the identity provider instead (README, API clients)")
    if user_id:
        with platform.engine.connect() as conn:
            user = platform.directory.user(conn, user_id)
        if user is None:
            raise click.ClickException(f"no user {user_id!r} in the directory (run `flask directory load`)")
        claims = dict(subject=user["id"], role=user["role"], name=user["name"], office=user["office_code"],
                      county=user["county_code"])
    elif role:
        claims = dict(subject=f"cli-{role}", role=role, name=f"CLI {role}", office=office, county=county)
    else:
        raise click.ClickException("give --user or --role")
    click.echo(mint_token(platform.settings, lifetime_minutes=minutes, **claims))


@keys_cli.command("init")
def keys_init():
    """Create the keyring file if absent and give every office in the directory its keys, and the platform's own
    entry (`_platform`: the kept answers of callers without an office, shared.replays)."""
    platform = _platform()
    path = platform.settings.keyring_file
    keyring = LocalKeyring.from_file(path) if path.exists() else LocalKeyring({}, source=path)
    with platform.engine.connect() as conn:
        offices = platform.directory.offices(conn)
    added = [o["code"] for o in offices if keyring.ensure_office(o["code"])]
    keyring.ensure_office(PLATFORM_KEYS)
    keyring.save(path)
    click.echo(f"keyring {path}: {len(added)} office(s) added")


@keys_cli.command("rotate")
@click.option("--office", required=True)
def keys_rotate(office):
    """Add a new key version for an office; new data uses it, old versions still decrypt."""
    platform = _platform()
    keyring = LocalKeyring.from_file(platform.settings.keyring_file)
    version = keyring.rotate(office)
    keyring.save()
    click.echo(f"{office}: current key version is now {version}")


def register(app):
    for group in (db_cli, directory_cli, auth_cli, keys_cli):
        app.cli.add_command(group)
    bus_cli.register(app)
