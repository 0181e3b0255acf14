"""Notify operations in the Flask CLI: `flask --app services.notify.wsgi notify sweep|deliver|run|dead-letters|retry`
and `demo seed`."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from shared import privacy as shared_privacy
from shared.bus.metrics import serve_metrics
from shared.web import current_platform

from . import demo, privacy, service, worker
from . import tables as t

notify_cli = AppGroup("notify", help="Reminders: sweep, delivery, the loop, dead letters.")
demo_cli = AppGroup("demo", help="Demo data.")


def _config():
    return current_app.extensions["notify_config"]


def _refuse_unless_caught_up(force: bool, what: str) -> None:
    """A one-shot acts only on an empty queue (one look, no settling time) unless forced."""
    if force:
        return
    waiting = worker.events_waiting(current_platform())
    if waiting != 0:
        reason = "no broker answered" if waiting is None else f"{waiting} event(s) wait in {worker.QUEUE}"
        raise click.ClickException(f"{what}: {reason}, so the cases may be out of date; nothing done "
                                   "(--force acts anyway)")


@notify_cli.command("sweep")
@click.option("--force", is_flag=True, help="sweep even while events wait for the consumer")
def sweep_command(force):
    """Evaluate every rule once (set-based); running it twice adds nothing."""
    _refuse_unless_caught_up(force, "sweep")
    result = service.sweep_once(current_platform(), _config())
    click.echo(f"sweep: {result.new_reminders} new reminders {result.reminders}, "
               f"{result.notifications} notifications, {result.escalations} escalations, {result.mails} mails, "
               f"{result.digests} daily digests, {result.county_digests} county digests")


@notify_cli.command("deliver")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 10000))
@click.option("--force", is_flag=True, help="deliver even while events wait for the consumer")
def deliver_command(limit, force):
    """Send due mail over SMTP (working days, office hours); failures back off, then become dead letters."""
    _refuse_unless_caught_up(force, "deliver")
    result = service.deliver_once(current_platform(), _config(), limit=limit)
    if result.outside_hours:
        click.echo("deliver: outside office hours or not a working day; nothing sent")
        return
    click.echo(f"deliver: {result.sent} sent, {result.failed} failed (will retry), {result.dead} dead, "
               f"{result.cancelled} cancelled")
    if result.errors:
        click.echo("last error: " + result.errors[-1], err=True)


@notify_cli.command("run")
@click.option("--rounds", type=int, default=None, help="stop after this many rounds (default: run until killed)")
def run_command(rounds):
    """Sweep and deliver every NOTIFY_LOOP_SECONDS once the consumer has caught up (the notify worker); metrics on
    NOTIFY_WORKER_METRICS_ADDRESS when set."""
    metrics = serve_metrics(current_platform().settings, "worker")
    try:
        worker.run_loop(current_platform(), _config(), rounds=rounds)
    finally:
        if metrics is not None:
            metrics.shutdown()


@notify_cli.command("dead-letters")
def dead_letters_command():
    """List mail that failed every attempt."""
    with current_platform().engine.connect() as conn:
        rows = service.dead_letters(conn)
    for row in rows:
        click.echo(f"{row['id']}\t{row['kind']}\t{row['recipient_id'] or 'survey'}\t{row['attempts']} attempts\t"
                   f"{row['last_error']}")
    click.echo(f"{len(rows)} dead letter(s)")
    if rows:
        sys.exit(1)


@notify_cli.command("retry")
@click.argument("mail_ids", nargs=-1, type=int)
def retry_command(mail_ids):
    """Put dead letters (all, or the given ids) back in the queue."""
    click.echo(f"requeued {service.retry_dead(current_platform(), list(mail_ids) or None)} mail(s)")


@demo_cli.command("seed")
def demo_seed():
    """Remind for intake's demo cases (run after intake's `demo seed` and the bus delivered its events)."""
    result = demo.seed(current_platform())
    click.echo(f"demo: {result['cases']} cases from intake's events, {result['reminders']} reminders made")


privacy_cli = shared_privacy.retention_cli(privacy.retention_steps, t.privacy_log)


def register(app):
    app.cli.add_command(notify_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(privacy_cli)
