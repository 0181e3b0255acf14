"""The schedule and the sweep on both databases: events in (each delivered twice), reminders out, once per
rule and period; resolution by closure, by consent, by new contact and by hand; escalation; survey consent."""
from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from services.notify import privacy, service
from services.notify import tables as t
from services.notify.service import run_sweep, sweep_once
from shared import privacy as shared_privacy
from shared.auth import Forbidden, NotFound, Principal
from shared.bus.consumer import Reject
from tests.integration.test_notify_support import (
    case_closed,
    case_opened,
    consent,
    contact_logged,
    deliver_event,
    envelope,
    measure_changed,
    notify_env,
)

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # a Thursday, 11:00 in Oslo


@pytest.fixture
def notify(platform_factory, db_url):
    platform = platform_factory("notify", t.all_tables(), db_url, env=notify_env())
    return platform


def deliver_twice(platform, *envelopes):
    for env in envelopes:
        assert deliver_event(platform, env) is not False
        deliver_event(platform, env)  # the same message again: the inbox makes it a no-op


def rows(platform, table, *where):
    with platform.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table).where(*where)).mappings()]


def open_reminders(platform, case_id=None):
    where = [t.reminders.c.resolved_at.is_(None)]
    if case_id:
        where.append(t.reminders.c.case_id == str(case_id))
    return {r["rule"]: r for r in rows(platform, t.reminders, *where)}


def test_a_case_left_open_yields_one_reminder_per_rule_and_period(notify):
    case = uuid.uuid4()
    deliver_twice(notify,
                  case_opened(case, date(2026, 9, 1)),
                  contact_logged(case, date(2026, 9, 10), party="mentor"),
                  measure_changed(case, date(2026, 9, 1), date(2026, 10, 1)))
    first = sweep_once(notify)
    assert first.reminders["closure_overdue"] == 1
    assert first.reminders["mentor_contact_missing"] == 1
    assert first.reminders["consent_missing"] == 1
    reminders = open_reminders(notify, case)
    assert reminders["closure_overdue"]["period"] == date(2026, 10, 1)  # the last measure's end
    assert reminders["mentor_contact_missing"]["period"] == date(2026, 9, 10)
    assert reminders["consent_missing"]["period"] == date(2026, 9, 1)
    assert first.notifications == 3 and first.mails == 3

    again = sweep_once(notify)
    assert again.new_reminders == 0 and again.notifications == 0 and again.mails == 0
    with notify.engine.connect() as conn:
        assert conn.execute(select(func.count()).where(t.mails.c.kind == "notice")).scalar() == 3


def test_new_contact_resolves_and_starts_a_new_period_and_escalation_goes_to_the_local_contact(notify):
    case = uuid.uuid4()
    deliver_twice(notify, case_opened(case, date(2026, 9, 1)), contact_logged(case, date(2026, 9, 10)))
    sweep_once(notify)
    assert set(open_reminders(notify, case)) == {"closure_overdue", "mentor_contact_missing", "consent_missing"}

    deliver_twice(notify, contact_logged(case, date(2026, 11, 20), party="mentor"))
    # Resolved by the event itself (mentor contact logged, and the case is active again), before any sweep.
    resolved = {r["rule"]: r["resolution"] for r in rows(notify, t.reminders, t.reminders.c.resolved_at.is_not(None))}
    assert resolved == {"mentor_contact_missing": "mentor_contact_logged", "closure_overdue": "case_active_again"}
    assert sweep_once(notify).new_reminders == 0  # the new periods are not due yet
    # Their mail, not yet sent, is not sent at all.
    assert {m["status"] for m in rows(notify, t.mails) if m["reminder_id"] in
            {r["id"] for r in rows(notify, t.reminders, t.reminders.c.resolved_at.is_not(None))}} == {"cancelled"}

    notify.clock.set(NOW + timedelta(days=22))
    later = sweep_once(notify)
    assert later.reminders["mentor_contact_missing"] == 1  # a new period: 21 days after 20.11
    assert open_reminders(notify, case)["mentor_contact_missing"]["period"] == date(2026, 11, 20)
    assert later.escalations == 1  # consent still missing 22 days after its reminder: Lise, the local contact
    escalation = rows(notify, t.notifications, t.notifications.c.kind == "escalation")
    assert [e["recipient_id"] for e in escalation] == ["lise-kontakt"]
    assert sweep_once(notify).escalations == 0


def test_closure_resolves_every_reminder_and_nothing_escalates_afterwards(notify):
    case = uuid.uuid4()
    deliver_twice(notify, case_opened(case, date(2026, 8, 1)))
    sweep_once(notify)
    assert open_reminders(notify, case)
    deliver_twice(notify, case_closed(case, date(2026, 8, 1), date(2026, 11, 26)))
    assert open_reminders(notify, case) == {}
    assert {r["resolution"] for r in rows(notify, t.reminders)} == {"closure_submitted"}
    notify.clock.set(NOW + timedelta(days=60))
    result = sweep_once(notify)
    assert result.new_reminders == 0 and result.escalations == 0


def test_interview_reminder_resolved_by_hand_neither_repeats_nor_escalates(notify):
    case = uuid.uuid4()
    deliver_twice(notify, case_opened(case, date(2026, 11, 20)),
                  consent("granted", case, "research_registration", NOW), consent("granted", case, "interviews", NOW))
    notify.clock.set(datetime(2026, 12, 28, 10, 0, tzinfo=UTC))  # 18 days before the 15.01.2027 point
    result = sweep_once(notify)
    assert result.reminders.get("interview") == 1
    reminder = open_reminders(notify, case)["interview"]
    kari = Principal(subject="kari-veileder", role="counsellor", name="Kari", office="kristiansand")
    per = Principal(subject="per-veileder", role="counsellor", name="Per", office="bergen-vest")
    with notify.engine.begin() as conn:
        with pytest.raises(NotFound):
            service.resolve_by_action(conn, per, reminder["id"], notify.clock.now())  # another office: 404
    with notify.engine.begin() as conn:
        resolved = service.resolve_by_action(conn, kari, reminder["id"], notify.clock.now())
    assert resolved["resolution"] == "interview_arranged" and resolved["resolved_by"] == "kari-veileder"
    notify.clock.set(datetime(2027, 1, 14, 10, 0, tzinfo=UTC))  # past escalate_after
    later = sweep_once(notify)
    assert later.reminders.get("interview") == 0
    interview = rows(notify, t.reminders, t.reminders.c.rule == "interview")
    assert len(interview) == 1 and interview[0]["escalated_at"] is None
    escalated = rows(notify, t.reminders, t.reminders.c.escalated_at.is_not(None))
    assert escalated and "interview" not in {r["rule"] for r in escalated}  # the others, unresolved, did escalate


def test_interview_reminders_only_where_every_party_consented_to_the_interviews(notify):
    """consent.granted for `interviews` means each party it needs in the case (candidate, mentor, employer) signed:
    no reminder without it, and one that stops holding (withdrawn, or incomplete when a new party joins) resolves
    the open reminder and cancels its mail."""
    granted, never, incomplete = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for case in (granted, never, incomplete):
        deliver_twice(notify, case_opened(case, date(2026, 11, 20)),
                      consent("granted", case, "research_registration", NOW))
    deliver_twice(notify, consent("granted", granted, "interviews", NOW),
                  consent("granted", incomplete, "interviews", NOW),
                  consent("granted", never, "employer_survey", NOW))  # another purpose opens nothing here
    notify.clock.set(datetime(2026, 12, 28, 10, 0, tzinfo=UTC))  # 18 days before the 15.01.2027 point
    result = sweep_once(notify)
    assert result.reminders["interview"] == 2
    interview = {r["case_id"] for r in rows(notify, t.reminders, t.reminders.c.rule == "interview")}
    assert interview == {str(granted), str(incomplete)}

    later = datetime(2026, 12, 29, 10, 0, tzinfo=UTC)
    deliver_twice(notify, envelope("consent.incomplete", "kristiansand", {
        "case_id": incomplete, "purpose": "interviews", "template_version": 1, "effective_at": later,
        "missing_roles": ["mentor"]}, producer="consent", at=later))
    notify.clock.set(later)
    assert sweep_once(notify).reminders.get("interview") == 0
    by_case = {r["case_id"]: r for r in rows(notify, t.reminders, t.reminders.c.rule == "interview")}
    assert by_case[str(incomplete)]["resolution"] == "no_interview_consent"
    assert by_case[str(granted)]["resolved_at"] is None
    mails = {m["reminder_id"]: m["status"] for m in rows(notify, t.mails)}
    assert mails[by_case[str(incomplete)]["id"]] == "cancelled" and mails[by_case[str(granted)]["id"]] == "pending"
    # Granted again within the notice window: the reminder for this point was resolved, so it does not repeat.
    deliver_twice(notify, consent("granted", incomplete, "interviews", later + timedelta(hours=1)))
    assert sweep_once(notify).reminders.get("interview") == 0


def test_consent_status_is_the_latest_by_effective_time_and_granted_resolves_the_reminder(notify):
    case = uuid.uuid4()
    deliver_twice(notify, case_opened(case, date(2026, 10, 1)))
    sweep_once(notify)
    assert "consent_missing" in open_reminders(notify, case)
    deliver_twice(notify, consent("granted", case, "research_registration", NOW - timedelta(hours=1)))
    deliver_twice(notify, consent("withdrawn", case, "research_registration", NOW - timedelta(days=3)))  # late, older
    assert rows(notify, t.cases)[0]["research_consent"] == "granted"
    sweep_once(notify)
    assert "consent_missing" not in open_reminders(notify, case)


def test_edited_contact_keeps_the_highest_revision(notify):
    case, contact = uuid.uuid4(), uuid.uuid4()
    deliver_twice(notify, case_opened(case, date(2026, 9, 1)),
                  contact_logged(case, date(2026, 11, 1), contact_id=contact, revision=2),
                  contact_logged(case, date(2026, 9, 2), contact_id=contact, revision=1))  # older revision, late
    assert rows(notify, t.cases)[0]["last_mentor_contact_on"] == date(2026, 11, 1)
    deliver_twice(notify, contact_logged(case, date(2026, 11, 1), contact_id=contact, revision=3, deleted=True))
    assert rows(notify, t.cases)[0]["last_mentor_contact_on"] is None
    assert rows(notify, t.cases)[0]["mentor_anchor_on"] == date(2026, 9, 1)


def test_open_ended_measure_keeps_the_case_from_closure_reminders(notify):
    case = uuid.uuid4()
    deliver_twice(notify, case_opened(case, date(2026, 6, 1), relation="none"),
                  measure_changed(case, date(2026, 6, 1), None))
    result = sweep_once(notify)
    assert result.reminders["closure_overdue"] == 0 and result.reminders["mentor_contact_missing"] == 0


def test_employer_survey_only_with_the_employers_consent_and_withdrawal_cancels_it(notify):
    with_consent, without = uuid.uuid4(), uuid.uuid4()
    for case in (with_consent, without):
        deliver_twice(notify, case_opened(case, date(2026, 9, 1)),
                      case_closed(case, date(2026, 9, 1), date(2026, 11, 20)))
    deliver_twice(notify, consent("granted", with_consent, "employer_survey", NOW - timedelta(days=1)))
    result = sweep_once(notify)
    assert result.reminders["employer_survey"] == 1
    survey = rows(notify, t.mails, t.mails.c.kind == "survey")
    assert len(survey) == 1 and survey[0]["recipient_id"] is None and survey[0]["payload"] is None
    deliver_twice(notify, consent("withdrawn", with_consent, "employer_survey", NOW))
    sweep_once(notify)
    assert rows(notify, t.mails, t.mails.c.kind == "survey")[0]["status"] == "cancelled"
    assert rows(notify, t.reminders, t.reminders.c.rule == "employer_survey")[0]["resolution"] == "consent_withdrawn"


def test_project_end_reminds_every_counsellor_with_ongoing_cases(notify):
    cases = [uuid.uuid4() for _ in range(3)]
    deliver_twice(notify, case_opened(cases[0], date(2027, 1, 1)),
                  case_opened(cases[1], date(2027, 2, 1), counsellor="ola-veileder"),
                  case_opened(cases[2], date(2027, 2, 1), office="bergen-vest", counsellor="per-veileder"),
                  case_closed(cases[0], date(2027, 1, 1), date(2027, 3, 1)))
    notify.clock.set(datetime(2027, 5, 3, 10, 0, tzinfo=UTC))  # 58 days before 30.06.2027
    result = sweep_once(notify)
    assert result.reminders["project_end"] == 2
    recipients = {r["recipient_id"] for r in rows(notify, t.reminders, t.reminders.c.rule == "project_end")}
    assert recipients == {"ola-veileder", "per-veileder"}


def test_county_overview_counts_own_county_only(notify):
    deliver_twice(notify, case_opened(uuid.uuid4(), date(2026, 11, 24)),
                  case_opened(uuid.uuid4(), date(2026, 8, 1), office="lister", counsellor="kari-veileder"),
                  case_opened(uuid.uuid4(), date(2026, 11, 24), office="bergen-vest", counsellor="per-veileder"))
    sweep_once(notify)
    tone = Principal(subject="tone-fylke", role="county_contact", name="Tone", county="agder")
    with notify.engine.connect() as conn:
        overview = {r["office"]: r for r in service.county_overview(conn, notify.directory, tone, NOW.date())}
        assert set(overview) == {"kristiansand", "lister"}
        assert overview["kristiansand"]["opened"] == 1 and overview["lister"]["overdue"] == 1
        assert overview["lister"]["active"] == 1 and set(overview["lister"]) == {
            "office", "name", "opened", "closed", "overdue", "active"}
        with pytest.raises(Forbidden):
            service.county_overview(conn, notify.directory, Principal(
                subject="kari-veileder", role="counsellor", name="K", office="kristiansand"), NOW.date())


def test_a_contact_for_a_case_another_office_owns_is_rejected(notify):
    case = uuid.uuid4()
    deliver_twice(notify, case_opened(case, date(2026, 9, 1)))
    with pytest.raises(Exception) as raised:
        deliver_event(notify, case_opened(case, date(2026, 9, 1), office="bergen-vest", counsellor="per-veileder"))
    assert "another office" in str(raised.value)
    assert rows(notify, t.cases)[0]["office"] == "kristiansand"


def due_rows(platform, case):
    return {(r["rule"], r["period"], r["recipient_id"]) for r in rows(platform, t.due, t.due.c.case_id == str(case))}


def parties_changed(case_id, counsellor, office="kristiansand"):
    return envelope("case.parties_changed", office, {
        "case_id": case_id, "counsellor_id": counsellor, "mentor_id": uuid.uuid4(), "mentor_relation": "colleague",
        "employer_hash": None})


def test_the_due_queue_holds_what_can_still_fall_due_and_nothing_else(notify):
    """What the sweep reads: one row per per-case period not yet reminded for, moved by the events, emptied by the
    sweep, by an answered consent and by the closure."""
    case, opened = uuid.uuid4(), date(2026, 9, 1)
    deliver_twice(notify, case_opened(case, opened))
    assert due_rows(notify, case) == {("closure_overdue", opened, "kari-veileder"),
                                      ("mentor_contact_missing", opened, "kari-veileder"),
                                      ("consent_missing", opened, "kari-veileder")}
    deliver_twice(notify, consent("granted", case, "research_registration", NOW - timedelta(days=60)),
                  contact_logged(case, date(2026, 9, 10), party="mentor"),
                  parties_changed(case, "ola-veileder"))  # a handover: what is still due goes to Ola
    assert due_rows(notify, case) == {("closure_overdue", date(2026, 9, 10), "ola-veileder"),
                                      ("mentor_contact_missing", date(2026, 9, 10), "ola-veileder")}
    result = sweep_once(notify)
    assert (result.reminders["closure_overdue"], result.reminders["mentor_contact_missing"]) == (1, 1)
    assert {r["recipient_id"] for r in rows(notify, t.reminders)} == {"ola-veileder"}
    assert due_rows(notify, case) == set()  # reminded: nothing left for the next sweep to read
    deliver_twice(notify, envelope("consent.incomplete", "kristiansand", {
        "case_id": case, "purpose": "research_registration", "template_version": 1, "effective_at": NOW,
        "missing_roles": ["mentor"]}, producer="consent", at=NOW))
    assert due_rows(notify, case) == {("consent_missing", opened, "ola-veileder")}  # missing again
    assert sweep_once(notify).reminders["consent_missing"] == 1
    deliver_twice(notify, contact_logged(case, date(2026, 11, 25), party="candidate"))
    assert due_rows(notify, case) == {("closure_overdue", date(2026, 11, 25), "ola-veileder")}
    deliver_twice(notify, case_closed(case, opened, date(2026, 11, 26)))
    assert due_rows(notify, case) == set()
    deliver_twice(notify, consent("granted", case, "employer_survey", NOW))
    assert due_rows(notify, case) == {("employer_survey", date(2026, 11, 26), None)}
    assert sweep_once(notify).reminders["employer_survey"] == 1 and due_rows(notify, case) == set()
    deliver_twice(notify, consent("withdrawn", case, "employer_survey", NOW + timedelta(hours=1)),
                  consent("granted", case, "employer_survey", NOW + timedelta(hours=2)))
    assert due_rows(notify, case) == set()  # that period had its invitation: once is enough
    assert sweep_once(notify).new_reminders == 0


def test_an_erased_case_leaves_nothing_for_the_sweep(notify):
    """case.erased deletes the case's due rows with the rest: the sweep, which reads only those rows, reminds for
    nothing of it (and the other case is untouched)."""
    erased, kept = uuid.uuid4(), uuid.uuid4()
    for case in (erased, kept):
        deliver_twice(notify, case_opened(case, date(2026, 9, 1)))
    deliver_twice(notify, envelope("case.erased", "kristiansand", {
        "request_id": uuid.uuid4(), "case_ids": [erased], "data_policy": "erase"}))
    assert due_rows(notify, erased) == set() and len(due_rows(notify, kept)) == 3
    sweep_once(notify)
    assert {r["case_id"] for r in rows(notify, t.reminders)} == {str(kept)}


def keep_answers(platform, *case_ids):
    """Kept answers of repeatable requests (shared.replays), one per case id (None: a request about no case)."""
    replays = platform.tables["replays"]
    with platform.engine.begin() as conn:
        for number, case_id in enumerate(case_ids):
            conn.execute(replays.insert().values(
                lookup=f"{number:064x}", fingerprint="f" * 64, claim="c" * 32, status=200, response=b"sealed",
                case_id=None if case_id is None else str(case_id), created_at=NOW, lease_until=NOW,
                expires_at=NOW + timedelta(hours=24)))


def test_an_erasure_takes_the_kept_answers_about_its_cases(notify):
    erased, kept = uuid.uuid4(), uuid.uuid4()
    for case in (erased, kept):
        deliver_twice(notify, case_opened(case, date(2026, 9, 1)))
    keep_answers(notify, erased, kept, None)
    deliver_twice(notify, envelope("case.erased", "kristiansand", {
        "request_id": uuid.uuid4(), "case_ids": [erased], "data_policy": "erase"}))
    assert sorted(str(r["case_id"]) for r in rows(notify, notify.tables["replays"])) == sorted([str(kept), "None"])


def test_retention_takes_every_kept_answer(notify):
    deliver_twice(notify, case_opened(uuid.uuid4(), date(2026, 9, 1)))
    keep_answers(notify, uuid.uuid4(), None)
    with notify.engine.begin() as conn:
        removed = shared_privacy.remove(conn, privacy.retention_steps(notify))
    assert removed["replays"] == 2 and rows(notify, notify.tables["replays"]) == []

def test_the_consumers_kept_reasons_that_name_a_case_go_with_it(notify):
    """A rejected event's reason quotes its case id: kept for `bus dead-letters`, erased with the case, and taken
    by retention."""
    erased, kept = uuid.uuid4(), uuid.uuid4()
    for case in (erased, kept):
        with pytest.raises(Reject):
            deliver_event(notify, parties_changed(case, "per-veileder"))  # never opened here
    reasons = {r["case_id"]: r["reason"] for r in rows(notify, notify.tables["rejections"])}
    assert reasons == {str(case): f"parties changed for a case notify has not seen opened: {case}"
                       for case in (erased, kept)}
    deliver_twice(notify, envelope("case.erased", "kristiansand", {
        "request_id": uuid.uuid4(), "case_ids": [erased], "data_policy": "erase"}))
    assert [r["case_id"] for r in rows(notify, notify.tables["rejections"])] == [str(kept)]
    with notify.engine.begin() as conn:
        removed = shared_privacy.remove(conn, privacy.retention_steps(notify))
    assert removed["rejected_messages"] == 1 and rows(notify, notify.tables["rejections"]) == []


def test_an_event_during_a_sweep_waits_for_it_and_resolves_what_it_made(notify):
    """The sweep holds the handlers off (PostgreSQL: an advisory lock they share and it takes alone; SQLite: one
    writer): a contact logged while the sweep is reminding for the old period is applied after its commit, and
    resolves that reminder instead of leaving it open."""
    case = uuid.uuid4()
    deliver_twice(notify, case_opened(case, date(2026, 9, 1)))
    sweeping = notify.engine.connect()
    transaction = sweeping.begin()
    assert run_sweep(sweeping, notify.directory, NOW, NOW.date()).reminders["closure_overdue"] == 1  # not committed yet
    done = []
    event = threading.Thread(target=lambda: done.append(
        deliver_event(notify, contact_logged(case, date(2026, 11, 20), party="mentor"))))
    event.start()
    time.sleep(1.5)
    assert event.is_alive() and not done  # waiting for the sweep
    transaction.commit()
    sweeping.close()
    event.join(30)
    assert done and not event.is_alive()
    resolved = {r["rule"]: r["resolution"] for r in rows(notify, t.reminders, t.reminders.c.case_id == str(case))}
    assert resolved["closure_overdue"] == "case_active_again"
    assert resolved["mentor_contact_missing"] == "mentor_contact_logged"
    assert due_rows(notify, case) >= {("closure_overdue", date(2026, 11, 20), "kari-veileder")}
    assert {m["status"] for m in rows(notify, t.mails)} <= {"cancelled", "pending"}
    cancelled = {m["reminder_id"] for m in rows(notify, t.mails, t.mails.c.status == "cancelled")}
    assert cancelled == {r["id"] for r in rows(notify, t.reminders, t.reminders.c.resolution.in_(
        ("case_active_again", "mentor_contact_logged")))}



def _count(platform, table, *where):
    with platform.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar()


def test_a_backlog_goes_in_sweeps_of_at_most_the_budget_each_reminding_once(notify):
    """A first start on a full database: every case due at once. Each sweep makes at most `budget` reminders (its own
    short transaction); together they make each reminder, notification and mail exactly once."""
    for _ in range(5):
        case = uuid.uuid4()
        deliver_twice(notify, case_opened(case, date(2026, 9, 1)), contact_logged(case, date(2026, 9, 10)))
    per_sweep = []
    while not per_sweep or per_sweep[-1][1]:
        with notify.engine.begin() as conn:
            result = run_sweep(conn, notify.directory, NOW, NOW.date(), budget=4)
        per_sweep.append((result.new_reminders, result.backlog))
    total = _count(notify, t.reminders)
    assert total >= 15  # closure overdue, mentor contact missing, consent missing: 3 per case at least
    full, rest = divmod(total, 4)
    assert per_sweep == [(4, True)] * full + [(rest, False)]  # an exact multiple ends with an empty sweep
    keys = {(r["rule"], r["case_id"], r["period"]) for r in rows(notify, t.reminders)}
    assert len(keys) == total
    assert _count(notify, t.notifications) == total and _count(notify, t.mails, t.mails.c.kind == "notice") == total
    assert _count(notify, t.due, t.due.c.period <= date(2026, 10, 1)) == 0  # nothing due left behind

    for _ in range(3):  # the loop's sweep goes on by itself until the backlog is done
        case = uuid.uuid4()
        deliver_twice(notify, case_opened(case, date(2026, 9, 1)), contact_logged(case, date(2026, 9, 10)))
    later = sweep_once(notify, budget=4)
    assert later.sweeps >= 3 and not later.backlog
    assert later.new_reminders == _count(notify, t.reminders) - total >= 9
    assert later.mails == later.new_reminders and sweep_once(notify).new_reminders == 0


def test_a_date_common_to_all_cases_is_reminded_in_budgeted_sweeps_too(notify):
    """The project's end warning falls due for every ongoing case on the same day: that backlog is shared out in
    sweeps of the budget as well, one project_end reminder per case."""
    cases = [uuid.uuid4() for _ in range(7)]
    deliver_twice(notify, *(case_opened(case, date(2027, 2, 1)) for case in cases))
    notify.clock.set(datetime(2027, 5, 3, 10, 0, tzinfo=UTC))  # 58 days before 30.06.2027
    today = notify.clock.now()
    made = []
    while not made or made[-1][1]:
        with notify.engine.begin() as conn:
            result = run_sweep(conn, notify.directory, today, today.date(), budget=3)
        made.append((result.new_reminders, result.backlog))
    assert all(count <= 3 for count, _ in made) and made[-1][1] is False
    assert sum(count for count, _ in made) == _count(notify, t.reminders)
    project_end = rows(notify, t.reminders, t.reminders.c.rule == "project_end")
    assert sorted(r["case_id"] for r in project_end) == sorted(str(case) for case in cases)
