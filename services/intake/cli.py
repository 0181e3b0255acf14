"""Intake operations in the Flask CLI: `flask --app services.intake.wsgi <command>`.

demo seed | project end
"""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from . import cases

demo_cli = AppGroup("demo", help="Demo data.")
project_cli = AppGroup("project", help="The research project's milestones.")


@demo_cli.command("seed")
def demo_seed():
    """A handful of fictional cases in NAV Kristiansand and NAV Bergen vest, some closed (repeatable)."""
    from .demo import seed
    result = seed(current_app.extensions["platform"])
    click.echo(f"demo: {result['created']} cases created, {result['skipped']} already there")


@project_cli.command("end")
@click.option("--actor", default="admin", show_default=True, help="the admin's directory id, kept in the history")
def project_end(actor):
    """Submit the project-end status form ("prosjektslutt, pågående") for every ongoing case, in every office."""
    result = cases.project_end(current_app.extensions["platform"], cases.Actor(office="", subject=actor))
    click.echo(f"project end: {result['status_forms']} status forms submitted")


def register(app):
    app.cli.add_command(demo_cli)
    app.cli.add_command(project_cli)
