"""The notify service's own database: the schedule (what it knows of cases), reminders, in-app notifications,
the mail queue and per-user preferences, plus the platform's tables (directory, outbox, inbox).

Nothing personal is stored: cases are UUIDs with dates and codes; people of NAV are directory ids. The employer's
contact details for the survey are fetched from intake at send time and never written here.
"""
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from shared.db import UTCDateTime
from shared.platform import new_metadata, platform_tables
from shared.privacy import define_log_table

metadata = new_metadata()
platform = platform_tables(metadata, consumer=True)

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
    # Closure counts as overdue N days after this; NULL while a measure runs open-ended.
    Column("closure_anchor_on", Date, nullable=True),
    # Mentor contact counts as missing N days after this; NULL without mentor.
    Column("mentor_anchor_on", Date, nullable=True),
    Column("research_consent", String(20), nullable=True),  # latest status of research_registration
    Column("survey_consent", String(20), nullable=True),  # latest status of employer_survey
    Column("interview_consent", String(20), nullable=True),  # latest status of interviews (every party signed)
    Column("updated_at", UTCDateTime, nullable=False),
    # Dates common to all cases (project end, interview points): the ones after this date are still to be reminded
    # for (the day before opening at first, the date reminded for afterwards); NULL = none (case closed; for
    # interviews also: the interviews consent does not hold). The sweep reads the candidates as one range of a
    # partial index (`x IS NOT NULL` only: both databases infer it from the range condition on x).
    Column("project_end_pending_after", Date, nullable=True),
    Column("interview_pending_after", Date, nullable=True),
)
Index("ix_notify_cases_open", cases.c.closed_on, cases.c.office)
Index("ix_notify_cases_opened", cases.c.opened_on, cases.c.office)  # the county counts: opened this week
for _pending in ("project_end_pending_after", "interview_pending_after"):
    _where = text(f"{_pending} IS NOT NULL")
    Index(f"ix_notify_cases_{_pending}", cases.c[_pending], postgresql_where=_where, sqlite_where=_where)

# What the per-case rules have yet to remind for: one row per (rule, period, case) that is not reminded yet, kept by
# the handlers (a moved period moves its row; closure, an answered consent remove it; a handover changes its
# recipient) and removed by the sweep when it reminds. The period is the date the rule counts from (last activity,
# mentor contact, opening, closure), so a rule's due rows are the front of the primary key (period <= today - N):
# the sweep reads and deletes one contiguous range, never a case row, never a case that cannot fall due. Clustered
# by that key on SQLite (no rowid); on PostgreSQL vacuumed after every 1,000 deleted rows (the migration), as a
# range scan walks the dead index entries of the rows it deleted until a vacuum removes them.
due = Table(
    "notify_due", metadata,
    Column("rule", String(40), primary_key=True),
    Column("period", Date, primary_key=True),
    Column("case_id", String(36), primary_key=True),
    Column("office", String(42), nullable=False),
    Column("recipient_id", String(64), nullable=True),  # the counsellor; NULL for the survey invitation
    sqlite_with_rowid=False,
)

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
    # Period before case: a day's new reminders of a rule share their period, so they land side by side.
    UniqueConstraint("rule", "period", "case_id", name="uq_reminders_rule_period_case"),
)
# The handlers find a case's reminder of a per-case rule by that key (the period is the case's anchor, opening or
# closing date); those for the dates common to all cases (made in one burst per date) by case. Open reminders per
# office (the county counts) and those still to escalate by due date (the sweep's range) have partial indexes.
# A sweep's new rows land at the end of every index: it writes few pages.
COMMON_DATE_RULES = "rule IN ('interview', 'project_end')"  # the same text in the index and the query
Index("ix_reminders_common_dates", reminders.c.case_id, postgresql_where=text(COMMON_DATE_RULES),
      sqlite_where=text(COMMON_DATE_RULES))
_OPEN_REMINDER = text("resolved_at IS NULL")
Index("ix_reminders_open_office", reminders.c.rule, reminders.c.office,
      postgresql_where=_OPEN_REMINDER, sqlite_where=_OPEN_REMINDER)
_UNESCALATED = text("resolved_at IS NULL AND escalated_at IS NULL AND recipient_id IS NOT NULL")
Index("ix_reminders_unescalated", reminders.c.due_on, postgresql_where=_UNESCALATED, sqlite_where=_UNESCALATED)

# The in-app list: one row per (reminder, kind, recipient), the unique key. `key` spells that key out (rule, case,
# period, recipient); the Message-ID derives from it.
notifications = Table(
    "notifications", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("key", String(300), nullable=False),
    Column("reminder_id", _ID, nullable=False),
    Column("recipient_id", String(64), nullable=False),
    Column("kind", String(20), nullable=False),  # reminder | escalation
    Column("created_at", UTCDateTime, nullable=False),
    Column("read_at", UTCDateTime, nullable=True),
    Column("digest_key", String(200), nullable=True),  # set when collected into a daily digest ('unsubscribed': never)
    Column("queued_at", UTCDateTime, nullable=True),  # its own mail (or digest) is queued; NULL: waits for a digest
    UniqueConstraint("reminder_id", "kind", "recipient_id", name="uq_notifications_reminder_kind_recipient"),
)
Index("ix_notifications_recipient", notifications.c.recipient_id, notifications.c.created_at)
Index("ix_notifications_unqueued", notifications.c.recipient_id, postgresql_where=text("queued_at IS NULL"),
      sqlite_where=text("queued_at IS NULL"))
Index("ix_notifications_digest", notifications.c.digest_key, postgresql_where=text("digest_key IS NOT NULL"),
      sqlite_where=text("digest_key IS NOT NULL"))

# Mail to send. Bodies are rendered at send time from ids and counts; a row holds no personal data. One mail per
# notification (notice), per survey reminder (survey), per key (digest: user and day; county: contact and week):
# unique keys that grow at the end; every mail_key is unique by construction, the Message-ID is a hash of it.
mails = Table(
    "mails", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("mail_key", String(300), nullable=False),
    Column("kind", String(20), nullable=False),  # notice | digest | county | survey
    Column("recipient_id", String(64), nullable=True),
    Column("notification_id", _ID, nullable=True),
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
Index("uq_mails_notification", mails.c.notification_id, unique=True,
      postgresql_where=text("notification_id IS NOT NULL"), sqlite_where=text("notification_id IS NOT NULL"))
Index("uq_mails_survey", mails.c.reminder_id, unique=True,
      postgresql_where=text("kind = 'survey'"), sqlite_where=text("kind = 'survey'"))
for _kind in ("digest", "county"):
    Index(f"uq_mails_{_kind}_key", mails.c.mail_key, unique=True,
          postgresql_where=text(f"kind = '{_kind}'"), sqlite_where=text(f"kind = '{_kind}'"))

preferences = Table(
    "notify_preferences", metadata,
    Column("user_id", String(64), primary_key=True),
    Column("mode", String(20), nullable=False),  # immediate | daily
    Column("unsubscribed", Boolean, nullable=False),
    Column("language", String(5), nullable=True),  # the mails' language: nb, nn or en (NULL: bokmål)
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

OWN = {"cases": cases, "due": due, "contacts": contacts, "measures": measures, "consents": consents,
       "reminders": reminders, "notifications": notifications, "mails": mails, "preferences": preferences,
       "erased_cases": erased_cases, "privacy_log": privacy_log}


def all_tables() -> dict:
    return {**platform, **OWN}
