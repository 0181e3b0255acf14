"""Notify's migration to the due queue on both databases, with data written by the previous schema: the pending
periods become notify_due rows (none for a period already reminded), the common dates become `*_pending_after`,
reminders the old sweep had still to resolve are resolved with their mail cancelled; down and up again."""
from __future__ import annotations

from datetime import date

from alembic import command
from sqlalchemy import text

from shared import migrations
from shared.db import make_engine

BEFORE = "3f1c2a7d9b10"
T0 = "'2026-02-01 00:00:00+00:00'"


def _old_schema_data(conn):
    """Case a: open, closure period 01.02 pending, consent missing, mentor reminded for an old period; case b:
    closed with survey consent, its closure reminder still open; case c: open, reminded for its closure period."""
    conn.execute(text(f"""
        INSERT INTO notify_cases (case_id, office, counsellor_id, mentor_relation, opened_on, closed_on,
            end_status_sent, last_activity_on, closure_anchor_on, mentor_anchor_on, research_consent, survey_consent,
            interview_consent, updated_at, changed, checking, closure_pending_on, mentor_pending_on,
            consent_pending_on, survey_pending_on, project_end_reminded_on, interview_reminded_on) VALUES
        ('a', 'kristiansand', 'kari-veileder', 'colleague', '2026-01-01', NULL, false, '2026-02-01', '2026-02-01',
         '2026-01-05', NULL, NULL, 'granted', {T0}, true, false, '2026-02-01', NULL, '2026-01-01', NULL, NULL,
         NULL),
        ('b', 'kristiansand', 'kari-veileder', 'colleague', '2026-01-01', '2026-03-01', false, '2026-02-01',
         '2026-02-01', '2026-01-05', 'granted', 'granted', NULL, {T0}, true, false, NULL, NULL, NULL, '2026-03-01',
         NULL, NULL),
        ('c', 'lister', 'ola-veileder', 'none', '2026-01-01', NULL, false, '2026-01-10', '2026-01-10', NULL,
         'granted', NULL, NULL, {T0}, false, false, '2026-01-10', NULL, NULL, NULL, '2027-06-30', NULL)"""))
    conn.execute(text(f"""
        INSERT INTO reminders (rule, case_id, period, office, recipient_id, due_on, created_at) VALUES
        ('mentor_contact_missing', 'a', '2026-01-01', 'kristiansand', 'kari-veileder', '2026-02-01', {T0}),
        ('closure_overdue', 'b', '2026-02-01', 'kristiansand', 'kari-veileder', '2026-03-01', {T0}),
        ('closure_overdue', 'c', '2026-01-10', 'lister', 'ola-veileder', '2026-02-10', {T0})"""))
    conn.execute(text(f"""
        INSERT INTO mails (mail_key, kind, reminder_id, status, attempts, next_attempt_at, created_at) VALUES
        ('notice:a', 'notice', 1, 'pending', 0, {T0}, {T0}), ('notice:c', 'notice', 3, 'pending', 0, {T0}, {T0})"""))


def test_the_pending_columns_become_the_due_queue_and_back(db_url):
    migrations.upgrade("notify", db_url, BEFORE)
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            _old_schema_data(conn)
        migrations.upgrade("notify", db_url)
        with engine.connect() as conn:
            due = {tuple(row) for row in conn.execute(text(
                "SELECT rule, CAST(period AS VARCHAR(10)), case_id, office, recipient_id FROM notify_due"))}
            pending = {row.case_id: (row.project_end_pending_after, row.interview_pending_after) for row in
                       conn.execute(text("SELECT case_id, project_end_pending_after, interview_pending_after "
                                         "FROM notify_cases"))}
            resolutions = dict(conn.execute(text("SELECT case_id || ':' || rule, resolution FROM reminders")).all())
            mails = dict(conn.execute(text("SELECT mail_key, status FROM mails")).all())
        assert due == {("closure_overdue", "2026-02-01", "a", "kristiansand", "kari-veileder"),
                       ("consent_missing", "2026-01-01", "a", "kristiansand", "kari-veileder"),
                       ("employer_survey", "2026-03-01", "b", "kristiansand", None)}  # c's period was reminded
        as_date = {key: tuple(date.fromisoformat(str(v)) if v else None for v in value)
                   for key, value in pending.items()}
        assert as_date == {"a": (date(2025, 12, 31), date(2025, 12, 31)), "b": (None, None),
                           "c": (date(2027, 6, 30), None)}
        assert resolutions == {"a:mentor_contact_missing": "mentor_contact_logged",
                               "b:closure_overdue": "closure_submitted", "c:closure_overdue": None}
        assert mails == {"notice:a": "cancelled", "notice:c": "pending"}

        command.downgrade(migrations.alembic_config("notify", db_url), BEFORE)
        with engine.connect() as conn:
            back = {row.case_id: (row.closure_pending_on, row.consent_pending_on, row.survey_pending_on)
                    for row in conn.execute(text("SELECT case_id, closure_pending_on, consent_pending_on, "
                                                 "survey_pending_on FROM notify_cases"))}
        assert {k: tuple(date.fromisoformat(str(v)) if v else None for v in value) for k, value in back.items()} == {
            "a": (date(2026, 2, 1), date(2026, 1, 1), None), "b": (None, None, date(2026, 3, 1)),
            "c": (None, None, None)}
        migrations.upgrade("notify", db_url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM notify_due")).scalar() == 3
    finally:
        engine.dispose()
