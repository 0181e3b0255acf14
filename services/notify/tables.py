"""The notify service's own database: the schedule (what it knows of cases), reminders, in-app notifications,
the mail queue and per-user preferences, plus the platform's tables (directory, outbox, inbox).

Nothing personal is stored: cases are UUIDs with dates and codes; people of NAV are directory ids. The employer's
contact details for the survey are fetched from intake at send time and never written here.
"""
from sqlalchemy import (JSON, BigInteger, Boolean, Column, Date, Index, Integer, String, Table, Text,
                        UniqueConstraint, text)

from shared.db import UTCDateTime
from shared.platform import new_metadata, platform_tables
from shared.privacy import define_log_table

metadata = new_metadata()
platform = platform_tables(metadata)

_ID = BigInteger().with_variant(Integer, "sqlite")

# One row per case: the facts the rules need, kept current by intake's and consent's events.
cases = Table(
    "notify_cases", metadata,
    Column("case_id", String(36), primary_key=True),
    Column("office", String(42), nullable=False),
    Column("counsellor_id", String(64), nullable=False),
    Column("mentor_relation", String(20), nullable=False),
    Column("opened_on", Date, nullable=False),
    Column("closed_on", Date, nullable=True),
    Column("end_status_sent", Boolean, nullable=False, default=False),  # project-end status form submitted
    Column("last_activity_on", Date, nullable=False),  # latest of opened, contacts, measure dates
    Column("last_mentor_contact_on", Date, nullable=True),
    Column("closure_anchor_on", Date, nullable=True),  # closure counts as overdue N days after this; NULL while a measure runs open-ended
    Column("mentor_anchor_on", Date, nullable=True),  # mentor contact counts as missing N days after this; NULL without mentor
    Column("research_consent", String(20), nullable=True),  # latest status of research_registration
    Column("survey_consent", String(20), nullable=True),  # latest status of employer_survey
    Column("interview_consent", String(20), nullable=True),  # latest status of interviews (every party signed)
    Column("updated_at", UTCDateTime, nullable=False),
    # Change marker: set by every event that can make a reminder's reason go away; the sweep re-checks only the
    # marked cases (`checking` while it does, so an event arriving meanwhile stays marked for the next sweep).
    Column("changed", Boolean, nullable=False, default=False, server_default=text("false")),
    Column("checking", Boolean, nullable=False, default=False, server_default=text("false")),
    # The period each rule has yet to remind for: set by the schedule when the rule's period (anchor) moves, cleared
    # by the sweep once the reminder for that very period exists. The sweep reads the few pending cases through
    # small partial indexes (with exact statistics) instead of anti-joining every case with every reminder.
    Column("closure_pending_on", Date, nullable=True),
    Column("mentor_pending_on", Date, nullable=True),
    Column("consent_pending_on", Date, nullable=True),
    Column("survey_pending_on", Date, nullable=True),
    # One date for all cases (project end, interview point): the date last reminded for.
    Column("project_end_reminded_on", Date, nullable=True),
    Column("interview_reminded_on", Date, nullable=True),
)
Index("ix_notify_cases_open", cases.c.closed_on, cases.c.office)
Index("ix_notify_cases_changed", cases.c.case_id, postgresql_where=text("changed OR checking"),
      sqlite_where=text("changed OR checking"))
_OPEN = "closed_on IS NULL AND NOT end_status_sent"
for _pending, _also in (("closure_pending_on", ""), ("mentor_pending_on", ""), ("survey_pending_on", ""),
                       ("consent_pending_on", " AND (research_consent IS NULL OR research_consent = 'incomplete')")):
    _where = text(f"{_pending} IS NOT NULL{_also}")
    Index(f"ix_notify_cases_{_pending}", cases.c[_pending], postgresql_where=_where, sqlite_where=_where)
# Project end and interview points: the candidates are the active cases reminded for none or another date
# (reminded < date OR reminded > date OR NULL: three ranges of one index).
for _reminded in ("project_end_reminded_on", "interview_reminded_on"):
    Index(f"ix_notify_cases_{_reminded}", cases.c[_reminded], postgresql_where=text(_OPEN), sqlite_where=text(_OPEN))

# Contacts and measures by id, so an edit (higher revision) or a deletion recomputes the case's dates.
contacts = Table(
    "notify_contacts", metadata,
    Column("contact_id", String(36), primary_key=True),
    Column("case_id", String(36), nullable=False, index=True),
    Column("revision", Integer, nullable=False),
    Column("contact_date", Date, nullable=False),
    Column("party", String(20), nullable=False),
    Column("deleted", Boolean, nullable=False),
)
measures = Table(
    "notify_measures", metadata,
    Column("measure_id", String(36), primary_key=True),
    Column("case_id", String(36), nullable=False, index=True),
    Column("from_date", Date, nullable=False),
    Column("to_date", Date, nullable=True),
    Column("deleted", Boolean, nullable=False),
)
# Latest status per (case, purpose): an older event arriving late never overwrites a newer one.
consents = Table(
    "notify_consents", metadata,
    Column("case_id", String(36), primary_key=True),
    Column("purpose", String(40), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("effective_at", UTCDateTime, nullable=False),
)

# A reminder is due once per (rule, case, period): the unique key is what makes a second sweep insert nothing.
reminders = Table(
    "reminders", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("rule", String(40), nullable=False),
    Column("case_id", String(36), nullable=False),
    Column("period", Date, nullable=False),
    Column("office", String(42), nullable=False),
    Column("recipient_id", String(64), nullable=True),  # NULL for the survey invitation (goes to the research team)
    Column("due_on", Date, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime, nullable=True),
    Column("resolution", String(40), nullable=True),
    Column("resolved_by", String(64), nullable=True),
    Column("escalated_at", UTCDateTime, nullable=True),
    Column("notified_at", UTCDateTime, nullable=True, index=True),  # notification (or survey mail) created
    UniqueConstraint("rule", "case_id", "period", name="uq_reminders_rule_case_period"),
)
Index("ix_reminders_open", reminders.c.resolved_at, reminders.c.rule)
Index("ix_reminders_case", reminders.c.case_id)
_UNESCALATED = text("resolved_at IS NULL AND escalated_at IS NULL AND recipient_id IS NOT NULL")
Index("ix_reminders_unescalated", reminders.c.due_on, postgresql_where=_UNESCALATED, sqlite_where=_UNESCALATED)

# The in-app list: one row per (reminder, recipient, kind). `key` is the natural key the Message-ID derives from.
notifications = Table(
    "notifications", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("key", String(300), nullable=False, unique=True),
    Column("reminder_id", _ID, nullable=False, index=True),
    Column("recipient_id", String(64), nullable=False),
    Column("kind", String(20), nullable=False),  # reminder | escalation
    Column("created_at", UTCDateTime, nullable=False),
    Column("read_at", UTCDateTime, nullable=True),
    Column("digest_key", String(200), nullable=True),  # set when collected into a daily digest
    Column("queued_at", UTCDateTime, nullable=True, index=True),  # its own mail (or digest) is queued
)
Index("ix_notifications_recipient", notifications.c.recipient_id, notifications.c.created_at)
Index("ix_notifications_digest", notifications.c.digest_key, postgresql_where=text("digest_key IS NOT NULL"),
      sqlite_where=text("digest_key IS NOT NULL"))

# Mail to send. Bodies are rendered at send time from ids and counts; a row holds no personal data.
mails = Table(
    "mails", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("mail_key", String(300), nullable=False, unique=True),  # the Message-ID is a hash of this
    Column("kind", String(20), nullable=False),  # notice | digest | county | survey
    Column("recipient_id", String(64), nullable=True),
    Column("notification_id", _ID, nullable=True, index=True),
    Column("reminder_id", _ID, nullable=True, index=True),
    Column("payload", JSON, nullable=True),  # counts (county digest) only
    Column("status", String(20), nullable=False),  # pending | sent | dead | cancelled
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("claimed_until", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
)
Index("ix_mails_pending", mails.c.status, mails.c.next_attempt_at)

preferences = Table(
    "notify_preferences", metadata,
    Column("user_id", String(64), primary_key=True),
    Column("mode", String(20), nullable=False),  # immediate | daily
    Column("unsubscribed", Boolean, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Cases the office erased (intake's case.erased): their ids only, so that a consent event about one of them still in
# flight from the consent service changes nothing.
erased_cases = Table(
    "notify_erased_cases", metadata,
    Column("case_id", String(36), primary_key=True),
    Column("request_id", String(36), nullable=False),
    Column("erased_at", UTCDateTime, nullable=False),
)

# Access exports, erasures and retention runs (shared.privacy): who, when, office, counts; no person.
privacy_log = define_log_table(metadata, "notify_privacy_log")

OWN = {"cases": cases, "contacts": contacts, "measures": measures, "consents": consents, "reminders": reminders,
       "notifications": notifications, "mails": mails, "preferences": preferences,
       "erased_cases": erased_cases, "privacy_log": privacy_log}


def all_tables() -> dict:
    return {**platform, **OWN}
