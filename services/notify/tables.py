"""The notify service's own database: the schedule (what it knows of cases), reminders, in-app notifications,
the mail queue and per-user preferences, plus the platform's tables (directory, outbox, inbox).

Nothing personal is stored: cases are UUIDs with dates and codes; people of NAV are directory ids. The employer's
contact details for the survey are fetched from intake at send time and never written here.
"""
from sqlalchemy import (JSON, BigInteger, Boolean, Column, Date, Index, Integer, String, Table, Text,
                        UniqueConstraint)

from shared.db import UTCDateTime
from shared.platform import new_metadata, platform_tables

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
    Column("updated_at", UTCDateTime, nullable=False),
)
Index("ix_notify_cases_open", cases.c.closed_on, cases.c.office)

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

OWN = {"cases": cases, "contacts": contacts, "measures": measures, "consents": consents, "reminders": reminders,
       "notifications": notifications, "mails": mails, "preferences": preferences}


def all_tables() -> dict:
    return {**platform, **OWN}
