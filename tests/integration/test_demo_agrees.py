"""Intake and notify against the same events (issue #15 points 1, 2 and 7): intake's demo cases, and two cases the two
services used to judge differently, go from intake's outbox through the real broker to notify's consumer; notify
sweeps. Then one definition of an overdue closure (shared.overdue): the local contact's overview, the county view
and the reminders due name the same cases; and every link on notify's page opens a case that intake has, named as
intake's case page names it."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from services.intake import demo as intake_demo
from services.intake import tables as intake_tables
from services.intake.app import create_app as create_intake
from services.intake.testing import enter_case
from services.notify import demo as notify_demo
from services.notify import handlers
from services.notify import tables as notify_tables
from services.notify.app import create_app as create_notify
from shared.auth import COOKIE_NAME
from shared.bus.consumer import drain
from shared.bus.relay import relay_pending
from tests.fixtures.tokens import user_auth_header, user_token

BASE = {"entry_point": "course_start", "industry": "retail", "initiator": "counsellor",
        "reasons": ["extra_follow_up"], "counsellor_knew_company": "no", "attachment_before": "none"}


@pytest.fixture
def world(bus_vhost, platform_factory, tmp_path):
    intake = platform_factory("intake", intake_tables.all_tables(), f"sqlite:///{tmp_path}/intake.db",
                              env=bus_vhost.env("intake"))
    notify = platform_factory("notify", notify_tables.all_tables(), f"sqlite:///{tmp_path}/notify.db",
                              env=bus_vhost.env("notify"))
    assert intake_demo.seed(intake)["created"] > 0
    today = intake.clock.today()

    def ago(days):
        return (today - timedelta(days=days)).isoformat()
    # No measure and nothing logged for 60 days: overdue for notify, not for intake's old rule.
    quiet = enter_case(intake, "kristiansand", "kari-veileder", {
        **BASE, "opened_on": ago(60), "mentor_relation": "none"}, seed=71)
    # The measure ended 40 days ago but a contact 10 days ago: overdue for intake's old rule, not for notify.
    active = enter_case(intake, "kristiansand", "ola-veileder", {
        **BASE, "opened_on": ago(150), "mentor_relation": "colleague",
        "measures": [{"measure": "mentor_subsidy", "from_date": ago(140), "to_date": ago(40)}],
        "contacts": [{"contact_date": ago(10), "party": "candidate", "form": "phone", "minutes": 10}]}, seed=72)
    assert relay_pending(intake) > 0
    drain(notify, handlers.consumer_spec(), idle_seconds=1.0)
    assert notify_demo.seed(notify)["cases"] == 8  # the local run's order: intake's events in, then notify's seed
    return intake, notify, quiet["case_id"], active["case_id"]


def signed_in(app, platform, user):
    client = app.test_client()
    client.set_cookie(COOKIE_NAME, user_token(platform, user), path="/")
    return client


def test_overview_county_view_and_reminders_count_the_same_overdue_closures(world):
    intake, notify, quiet, active = world
    r = notify_tables.reminders
    with notify.engine.connect() as conn:
        reminded = {row.case_id for row in conn.execute(select(r.c.case_id).where(
            r.c.rule == "closure_overdue", r.c.office == "kristiansand", r.c.resolved_at.is_(None)))}
    overview = create_intake(platform=intake).test_client().get(
        "/oversikt", headers=user_auth_header(intake, "lise-kontakt")).get_data(as_text=True)
    shown = int(re.search(r'id="stat-overdue"><strong>(\d+)</strong>', overview)[1])
    listed = set(re.findall(r'/saker/([0-9a-f-]{36})"', overview.split('id="stat-overdue"')[1]))
    notify_app = create_notify(platform=notify)
    county = notify_app.test_client().get("/api/v1/county", headers=user_auth_header(notify, "tone-fylke"))
    counted = next(row for row in county.get_json() if row["office"] == "kristiansand")["overdue"]

    assert shown == counted == len(reminded) >= 2
    assert listed == reminded  # the same cases, not only as many
    assert str(quiet) in reminded and str(active) not in reminded


def test_every_case_link_on_notify_pages_opens_in_intake(world):
    intake, notify, _, _ = world
    intake_client = create_intake(platform=intake).test_client()
    notify_app = create_notify(platform=notify)
    with intake.engine.connect() as conn:
        intake_cases = {str(i) for i in conn.execute(select(intake_tables.cases.c.id)).scalars()}
    with notify.engine.connect() as conn:
        assert {str(i) for i in conn.execute(select(notify_tables.cases.c.case_id)).scalars()} <= intake_cases
        recipients = set(conn.execute(select(notify_tables.notifications.c.recipient_id).distinct()).scalars())
    assert {"kari-veileder", "ola-veileder", "per-veileder"} <= recipients
    for user in sorted(recipients):
        page = signed_in(notify_app, notify, user).get("/").get_data(as_text=True)
        links = set(re.findall(r'href="[^"]*/intake/saker/([0-9a-f-]{36})">([^<]*)</a>', page))
        assert links, f"no case links on {user}'s notifications"
        for case_id, named in links:
            opened = intake_client.get(f"/saker/{case_id}", headers=user_auth_header(intake, user))
            assert opened.status_code == 200, (user, case_id)
            # The case is named as intake's case page names it.
            assert re.search(r'id="saksreferanse">([^<]*)<', opened.get_data(as_text=True))[1] == named
