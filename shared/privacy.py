"""Privacy operations the law requires, the parts every service holding case data shares.

- Access (GDPR art. 15) and erasure (art. 17) are asked by the office's local contact in intake, which finds the
  person's cases by the office's keyed hash; consent and notify answer for those case ids, and erase them when
  intake's `case.erased` event reaches them (the registry applies the project's withdrawal policy).
- Retention (art. 5(1)(e)): past the project's `retention_date` on the platform clock, each service's
  `flask --app services.<svc>.wsgi privacy retention` removes its case data; idempotent, `--dry-run` counts only.
  Every run, before that date too, removes the forms kept for after a sign-in that are past their time
  (shared.kept_forms), so it is also the cleanup to schedule.
- Every one of them leaves a row in the service's own `<service>_privacy_log`: who, when, which office, which
  request, how many rows of each kind. Never a national ID, a name or a keyed hash.

Deletions are lists of steps `(kind, table, where-clause)`, run children first inside the caller's transaction,
so a step's count is exactly what it removed.
"""
from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

import click
from flask import current_app
from flask.cli import AppGroup
from marshmallow import RAISE, Schema, fields, validate
from sqlalchemy import JSON, Column, Integer, String, Table, and_, delete, func, or_, select

from shared import kept_forms
from shared.db import UTCDateTime

ACTIONS = ("access_export", "erasure", "retention")


def jsonable(value):
    """The JSON shape of every service's part of an access document: dates and times as ISO 8601 strings."""
    def default(item):
        if isinstance(item, (date, datetime)):
            return item.isoformat()
        raise TypeError(f"not exportable: {type(item).__name__}")
    return json.loads(json.dumps(value, default=default, ensure_ascii=False))


# ---------------------------------------------------------------- the peer services' API (consent, notify)
class AccessIn(Schema):
    """What intake asks a peer service for an access request: its id and the person's case ids."""
    class Meta:
        unknown = RAISE

    request_id = fields.UUID(required=True, metadata={"description": "the access request's id (from intake)"})
    case_ids = fields.List(fields.UUID(), required=True, validate=validate.Length(min=1, max=1000))


class ErasureReceiptOut(Schema):
    """What a peer service deleted for one erasure (`erasure_receipt` of its privacy module)."""
    request_id = fields.String(required=True)
    at = fields.DateTime(required=True)
    case_count = fields.Integer(required=True)
    deleted = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


def define_log_table(metadata, name: str) -> Table:
    return Table(
        name, metadata,
        Column("id", String(36), primary_key=True),
        Column("request_id", String(36), nullable=False, index=True),  # the same id in every service's row
        Column("action", String(20), nullable=False),  # access_export | erasure | retention
        Column("office", String(42), nullable=True, index=True),  # None: a retention run over every office
        Column("actor", String(64), nullable=False),  # a directory id, or the service that acted on an event
        Column("actor_role", String(20), nullable=False),
        Column("at", UTCDateTime, nullable=False),
        Column("case_count", Integer, nullable=False),
        Column("counts", JSON, nullable=False),  # rows per kind, e.g. {"contacts": 3}
        Column("outcome", String(30), nullable=False),  # completed | failed | not_due ...
    )


def record(conn, table, *, request_id, action, office, actor, actor_role, at, counts: dict, case_count: int,
           outcome: str = "completed") -> dict:
    """Append one audit row in the caller's transaction."""
    if action not in ACTIONS:
        raise ValueError(f"unknown privacy action {action!r}")
    row = {"id": str(uuid.uuid4()), "request_id": str(request_id), "action": action, "office": office,
           "actor": actor, "actor_role": actor_role, "at": at, "case_count": case_count,
           "counts": {k: int(v) for k, v in counts.items()}, "outcome": outcome}
    conn.execute(table.insert().values(**row))
    return row


def already_recorded(conn, table, request_id, action: str) -> bool:
    """An event carried again under a new message id (its effect is already done): audit it once."""
    return conn.execute(select(table.c.id).where(table.c.request_id == str(request_id),
                                                 table.c.action == action)).first() is not None


def erasure_receipt(conn, table, office: str, request_id) -> dict | None:
    """What one of the office's erasures deleted, from the service's privacy log (ErasureReceiptOut); None while
    there is no such erasure."""
    row = conn.execute(select(table).where(table.c.request_id == str(request_id), table.c.action == "erasure",
                                           table.c.office == office)).mappings().first()
    if row is None:
        return None
    return {"request_id": row["request_id"], "at": row["at"], "case_count": row["case_count"],
            "deleted": row["counts"]}


def log_entries(conn, table, office: str | None = None, limit: int = 50) -> list[dict]:
    query = select(table)
    if office is not None:
        query = query.where(table.c.office == office)
    return [dict(r) for r in conn.execute(query.order_by(table.c.at.desc(), table.c.id).limit(limit)).mappings()]


def remove(conn, steps, dry_run: bool = False) -> dict:
    """Run deletion steps in order (children before parents); return the rows removed (or found) per kind."""
    counts = {}
    for kind, table, clause in steps:
        if dry_run:
            found = conn.execute(select(func.count()).select_from(table).where(clause)).scalar()
        else:
            found = conn.execute(delete(table).where(clause)).rowcount
        counts[kind] = counts.get(kind, 0) + found
    return counts


def sent_events_about(conn, outbox, office: str, case_ids) -> object:
    """Sent outbox rows of `office` whose body names one of the cases: kept after sending, they still carry the
    case's keyed hashes. Unsent rows stay (they must still go out, in order)."""
    if conn.dialect.name == "sqlite":  # SQLite's LIKE does not match inside a BLOB; instr does
        mentions = [func.instr(outbox.c.body, str(case_id).encode()) > 0 for case_id in case_ids]
    else:
        mentions = [outbox.c.body.like(b"%" + str(case_id).encode() + b"%") for case_id in case_ids]
    return and_(outbox.c.sent_at.is_not(None), outbox.c.routing_key.like(f"office.{office}.%"), or_(*mentions))


def sent_events(outbox) -> object:
    return outbox.c.sent_at.is_not(None)


# ---------------------------------------------------------------- retention
def retention_check(platform) -> dict:
    """Is the project's retention date passed (platform clock)? Raises LookupError without project settings."""
    with platform.engine.connect() as conn:
        project = platform.directory.project_settings(conn)
    if project is None:
        raise LookupError("no project settings in this database: run `flask directory load`")
    today = platform.clock.today()
    return {"retention_date": project["retention_date"], "today": today, "due": today > project["retention_date"]}


def run_retention(platform, steps_of, log_table, actor: str = "admin", dry_run: bool = False) -> dict:
    """Remove the service's case data once the retention date has passed; nothing before it.

    `steps_of(platform)` gives the deletion steps of everything the service holds about cases. Idempotent: a
    second run finds nothing and says so (and is audited with zero counts, as a record that the check ran)."""
    check = retention_check(platform)
    result = {"service": platform.settings.service, "retention_date": check["retention_date"].isoformat(),
              "today": check["today"].isoformat(), "due": check["due"], "dry_run": dry_run, "removed": {}}
    # Forms kept for after a sign-in are past their time long before the project ends: each run removes those,
    # retention date or not. Their time is the session's, on the wall clock as the sessions' (shared.web.keeping).
    now = datetime.now(UTC)
    with platform.engine.begin() as conn:
        result["expired_kept_forms"] = (kept_forms.count_expired(conn, now) if dry_run
                                        else kept_forms.purge_expired(conn, now))
    if not check["due"]:
        return result
    with platform.engine.begin() as conn:
        counts = remove(conn, steps_of(platform), dry_run=dry_run)
        result["removed"] = counts
        if not dry_run:
            entry = record(conn, log_table, request_id=uuid.uuid4(), action="retention", office=None, actor=actor,
                           actor_role="admin", at=platform.clock.now(), counts=counts,
                           case_count=counts.get("cases", 0))
            result["request_id"] = entry["request_id"]
    return result


def retention_cli(steps_of, log_table) -> AppGroup:
    """The `privacy` command group of a service: `privacy retention [--dry-run] [--actor admin]`."""
    group = AppGroup("privacy", help="Privacy operations: retention of case data (access and erasure: intake).")

    @group.command("retention")
    @click.option("--dry-run", is_flag=True, help="count what would be removed, change nothing")
    @click.option("--actor", default="admin", show_default=True, help="who runs it (directory id), for the audit")
    def retention(dry_run, actor):
        """Remove this service's case data if the project's retention date has passed (platform clock)."""
        platform = current_app.extensions["platform"]
        try:
            result = run_retention(platform, steps_of, log_table, actor=actor, dry_run=dry_run)
        except LookupError as error:
            raise click.ClickException(str(error)) from None
        if not result["due"]:
            expired = result["expired_kept_forms"]
            click.echo(f"{result['service']}: retention date {result['retention_date']} not passed "
                       f"(today {result['today']}): " + (f"no case data removed; {expired} expired kept form(s) "
                                                         f"{'found' if dry_run else 'removed'}" if expired
                                                         else "nothing removed"))
        click.echo(json.dumps(result, sort_keys=True))

    return group
