"""One day for every service: half an hour after midnight in Oslo (23:30 UTC, still yesterday in UTC) intake's
worklist and office overview count the same overdue closures as notify's reminders and county view, in winter (UTC+1)
and in summer (UTC+2). The platform clock's `today()` is the project's day in TIMEZONE (Europe/Oslo); intake judged
today in UTC and notify in Oslo time, so a closure falling due that day was overdue in notify an hour or two before
intake (tests/integration/test_demo_agrees.py compares the two the same way)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from services.intake import tables as intake_tables
from services.intake.app import create_app as create_intake
from services.intake.testing import enter_case
from services.notify import handlers
from services.notify import service as notify_service
from services.notify import tables as notify_tables
from services.notify.app import create_app as create_notify
from shared.auth import COOKIE_NAME
from shared.bus.consumer import drain
from shared.bus.relay import relay_pending
from shared.clock import FixedClock
from tests.fixtures.tokens import user_auth_header, user_token

BASE = {"entry_point": "course_start", "industry": "retail", "initiator": "counsellor",
        "reasons": ["extra_follow_up"], "counsellor_knew_company": "no", "attachment_before": "none",
        "mentor_relation": "none"}
WINTER = datetime(2026, 12, 9, 23, 30, tzinfo=UTC)  # 00:30 on 10 December in Oslo
SUMMER = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)  # 01:30 on 1 July in Oslo


@pytest.mark.parametrize("at", [WINTER, SUMMER], ids=["winter", "summer"])
def test_just_after_midnight_in_oslo_intake_and_notify_count_the_same_overdue_closures(
        bus_vhost, platform_factory, tmp_path, at):
    oslo_day = (at + timedelta(hours=3)).date()  # the next calendar day in Oslo, whichever the season
    assert at.date() == oslo_day - timedelta(days=1)
    intake = platform_factory("intake", intake_tables.all_tables(), f"sqlite:///{tmp_path}/intake.db",
                              env=bus_vhost.env("intake"), clock=FixedClock(at))
    notify = platform_factory("notify", notify_tables.all_tables(), f"sqlite:///{tmp_path}/notify.db",
                              env=bus_vhost.env("notify"), clock=FixedClock(at))
    days = 30  # the project's closure_overdue
    cases = {}
    # Nothing logged since the opening: the closure counts from it. Due today in Oslo (not yet in UTC's day),
    # due yesterday (overdue either way) and due tomorrow (overdue in neither).
    for seed, (name, back) in enumerate((("due today", days), ("due yesterday", days + 1),
                                         ("due tomorrow", days - 1)), start=81):
        opened = (oslo_day - timedelta(days=back)).isoformat()
        cases[name] = str(enter_case(intake, "kristiansand", "kari-veileder", {**BASE, "opened_on": opened},
                                     seed=seed)["case_id"])
    assert relay_pending(intake) > 0
    drain(notify, handlers.consumer_spec(), idle_seconds=1.0)
    notify_service.sweep_once(notify)

    r = notify_tables.reminders
    with notify.engine.connect() as conn:
        reminded = {row.case_id for row in conn.execute(select(r.c.case_id).where(
            r.c.rule == "closure_overdue", r.c.office == "kristiansand", r.c.resolved_at.is_(None)))}
    county = create_notify(platform=notify).test_client().get("/api/v1/county",
                                                              headers=user_auth_header(notify, "tone-fylke"))
    counted = next(row for row in county.get_json() if row["office"] == "kristiansand")["overdue"]
    intake_app = create_intake(platform=intake)
    overview = intake_app.test_client().get("/api/v1/overview", headers=user_auth_header(intake, "lise-kontakt"))
    counsellor = intake_app.test_client()
    counsellor.set_cookie(COOKIE_NAME, user_token(intake, "kari-veileder"), path="/")
    worklist = counsellor.get("/").get_data(as_text=True)

    overdue = {cases["due today"], cases["due yesterday"]}
    assert {str(case_id) for case_id in reminded} == overdue  # notify's reminders: Oslo's day
    assert set(overview.get_json()["overdue_case_ids"]) == overdue  # intake's overview: the same day
    assert counted == overview.get_json()["overdue"] == 2
    assert worklist.count("Sluttskjema forfalt") == 2  # the counsellor's worklist too
    assert f"Sluttskjema forfalt {oslo_day.strftime('%d.%m.%Y')}" in worklist  # due today, Oslo's today
