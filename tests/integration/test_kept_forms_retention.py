"""Kept forms past their time (shared.kept_forms) go with every service's retention command, on SQLite and
PostgreSQL: `privacy retention` removes them on each run, long before the project's retention date, and a form still
within its time stays (it is someone's work, waiting for them to sign in). Before, an expired form was dropped only
when another was kept, so one nobody came back for stayed until the project ended."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from services.consent import tables as consent_tables
from services.consent.app import create_app as consent_app
from services.intake import tables as intake_tables
from services.intake.app import create_app as intake_app
from services.notify import tables as notify_tables
from services.notify.app import create_app as notify_app
from services.registry import tables as registry_tables
from services.registry.app import create_app as registry_app
from shared import kept_forms

SERVICES = {"intake": (intake_tables, intake_app), "consent": (consent_tables, consent_app),
            "notify": (notify_tables, notify_app), "registry": (registry_tables, registry_app)}


def _keep(platform, page: str, sent_ago: timedelta) -> str:
    sent = datetime.now(UTC) - sent_ago
    with platform.engine.begin() as conn:
        return kept_forms.keep(conn, platform.keyring, subject="kari-veileder", office="kristiansand", page=page,
                               action=page, fields=[("note", "Skrevet før økten gikk ut")], files=[], case_id=None,
                               now=sent, expires_at=sent + timedelta(minutes=platform.settings.token_lifetime_minutes))


def _kept_ids(platform) -> set[str]:
    with platform.engine.connect() as conn:
        return set(conn.execute(select(platform.tables["kept_forms"].c.id)).scalars())


def _last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


@pytest.mark.parametrize("service", SERVICES)
def test_the_retention_command_removes_expired_kept_forms_and_keeps_the_others(
        service, db_url, platform_factory, monkeypatch):
    monkeypatch.setenv("REGISTRY_PSEUDONYM_SECRET", "kept-forms-test-pseudonym-secret-0123456789")
    tables, create_app = SERVICES[service]
    platform = platform_factory(service, tables.all_tables(), db_url)
    app = create_app(platform=platform)
    lifetime = timedelta(minutes=platform.settings.token_lifetime_minutes)
    expired = _keep(platform, "/gammel", lifetime + timedelta(hours=1))  # sent a day's session and an hour ago
    waiting = _keep(platform, "/ny", timedelta(minutes=5))
    assert _kept_ids(platform) == {expired, waiting}

    dry = app.test_cli_runner().invoke(args=["privacy", "retention", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert _last_json(dry.output)["expired_kept_forms"] == 1 and _kept_ids(platform) == {expired, waiting}

    run = app.test_cli_runner().invoke(args=["privacy", "retention"])
    assert run.exit_code == 0, run.output
    assert "retention date 2029-12-31 not passed" in run.output and "1 expired kept form(s) removed" in run.output
    result = _last_json(run.output)
    assert result["expired_kept_forms"] == 1 and result["removed"] == {}  # no case data before the date
    assert _kept_ids(platform) == {waiting}
    with platform.engine.connect() as conn:  # the waiting one still opens for its owner
        assert kept_forms.kept_for(conn, platform.keyring, "kari-veileder", "/ny", datetime.now(UTC)) is not None

    again = app.test_cli_runner().invoke(args=["privacy", "retention"])
    assert "nothing removed" in again.output and _last_json(again.output)["expired_kept_forms"] == 0
    # Past the retention date every kept form goes with the case data, the registry's too.
    platform.clock.set(datetime(2030, 1, 2, 9, 0, tzinfo=UTC))
    final = _last_json(app.test_cli_runner().invoke(args=["privacy", "retention"]).output)
    assert final["removed"]["kept_forms"] == 1
    with platform.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(platform.tables["kept_forms"])).scalar() == 0
