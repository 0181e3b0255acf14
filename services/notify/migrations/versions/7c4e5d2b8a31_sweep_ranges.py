"""sweep as index ranges: notify_due queue, reminders resolved by the handlers, keys that grow at the end

Revision ID: 7c4e5d2b8a31
Revises: 3f1c2a7d9b10
Create Date: 2026-11-27 03:00:00

"""
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import shared.db

# revision identifiers, used by Alembic.
revision: str = '7c4e5d2b8a31'
down_revision: str | Sequence[str] | None = '3f1c2a7d9b10'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_CASE = "closed_on IS NULL AND NOT end_status_sent"
CLOSING_RULES = "('closure_overdue', 'mentor_contact_missing', 'consent_missing', 'project_end', 'interview')"
# What the old sweep resolved for the cases marked changed (now the handlers do it when the event arrives),
# applied once to every open reminder: (rule condition, condition on its case, resolution).
RESOLVED = (
    (f"rule IN {CLOSING_RULES}", "closed_on IS NOT NULL", "closure_submitted"),
    ("rule IN ('closure_overdue', 'project_end')", "end_status_sent", "closure_submitted"),
    ("rule = 'consent_missing'", "research_consent IN ('granted', 'withdrawn', 'expired')", "consent_registered"),
    ("rule = 'mentor_contact_missing'", "mentor_anchor_on IS NULL OR mentor_anchor_on <> reminders.period",
     "mentor_contact_logged"),
    ("rule = 'closure_overdue'", "closure_anchor_on IS NULL OR closure_anchor_on <> reminders.period",
     "case_active_again"),
    ("rule = 'employer_survey'", "survey_consent IS NULL OR survey_consent <> 'granted'", "consent_withdrawn"),
    ("rule = 'interview'", "interview_consent IS NULL OR interview_consent <> 'granted'", "no_interview_consent"),
)
# The old pending columns become notify_due rows: (rule, column, which cases).
DUE = (
    ("closure_overdue", "closure_pending_on", OPEN_CASE),
    ("mentor_contact_missing", "mentor_pending_on", OPEN_CASE),
    ("consent_missing", "consent_pending_on",
     f"{OPEN_CASE} AND (research_consent IS NULL OR research_consent = 'incomplete')"),
    ("employer_survey", "survey_pending_on", "closed_on IS NOT NULL AND survey_consent = 'granted'"),
)
OLD_PENDING_INDEXES = {
    "closure_pending_on": "closure_pending_on IS NOT NULL",
    "mentor_pending_on": "mentor_pending_on IS NOT NULL",
    "survey_pending_on": "survey_pending_on IS NOT NULL",
    "consent_pending_on": ("consent_pending_on IS NOT NULL AND "
                           "(research_consent IS NULL OR research_consent = 'incomplete')"),
}


def upgrade() -> None:
    """Upgrade schema."""
    bind = op.get_bind()
    day_before_opening = "date(opened_on, '-1 day')" if bind.dialect.name == "sqlite" else "opened_on - 1"
    op.create_table('notify_due',
    sa.Column('rule', sa.String(length=40), nullable=False),
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('office', sa.String(length=42), nullable=False),
    sa.Column('recipient_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('rule', 'period', 'case_id', name=op.f('pk_notify_due')),
    sqlite_with_rowid=False
    )
    if bind.dialect.name == "postgresql":  # a queue: vacuum its dead rows daily, not after 20 % of the table
        op.execute("ALTER TABLE notify_due SET (autovacuum_vacuum_scale_factor = 0, "
                   "autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0, "
                   "autovacuum_analyze_threshold = 1000)")
    for rule, column, cases in DUE:
        recipient = "NULL" if rule == "employer_survey" else "counsellor_id"
        op.execute(f"INSERT INTO notify_due (rule, period, case_id, office, recipient_id) SELECT '{rule}', "
                   f"{column}, case_id, office, {recipient} FROM notify_cases WHERE {column} IS NOT NULL AND {cases} "
                   f"AND NOT EXISTS (SELECT 1 FROM reminders WHERE reminders.rule = '{rule}' "
                   f"AND reminders.case_id = notify_cases.case_id AND reminders.period = notify_cases.{column})")
    with op.batch_alter_table('notify_cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('project_end_pending_after', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('interview_pending_after', sa.Date(), nullable=True))
    op.execute(f"UPDATE notify_cases SET project_end_pending_after = "
               f"COALESCE(project_end_reminded_on, {day_before_opening}) WHERE {OPEN_CASE}")
    op.execute(f"UPDATE notify_cases SET interview_pending_after = COALESCE(interview_reminded_on, "
               f"{day_before_opening}) WHERE {OPEN_CASE} AND interview_consent = 'granted'")
    now = datetime.now(UTC)
    resolved_at = sa.bindparam("now", now, type_=shared.db.UTCDateTime())
    for rule, case_condition, resolution in RESOLVED:
        bind.execute(sa.text(
            f"UPDATE reminders SET resolved_at = :now, resolution = '{resolution}' WHERE resolved_at IS NULL "
            f"AND {rule} AND EXISTS (SELECT 1 FROM notify_cases WHERE notify_cases.case_id = reminders.case_id "
            f"AND ({case_condition}))").bindparams(resolved_at))
    bind.execute(sa.text(
        "UPDATE mails SET status = 'cancelled', claimed_until = NULL WHERE status = 'pending' AND reminder_id IN "
        "(SELECT id FROM reminders WHERE resolved_at = :now)").bindparams(resolved_at))

    with op.batch_alter_table('notify_cases', schema=None) as batch_op:
        for index in ('ix_notify_cases_changed', 'ix_notify_cases_project_end_reminded_on',
                      'ix_notify_cases_interview_reminded_on', *(f'ix_notify_cases_{c}' for c in OLD_PENDING_INDEXES)):
            batch_op.drop_index(index)
        for column in ('changed', 'checking', 'project_end_reminded_on', 'interview_reminded_on',
                       *OLD_PENDING_INDEXES):
            batch_op.drop_column(column)
        for column in ('project_end_pending_after', 'interview_pending_after'):
            where = sa.text(f'{column} IS NOT NULL')
            batch_op.create_index(f'ix_notify_cases_{column}', [column], unique=False,
                                  postgresql_where=where, sqlite_where=where)
        batch_op.create_index('ix_notify_cases_opened', ['opened_on', 'office'], unique=False)
    open_reminder = sa.text('resolved_at IS NULL')
    common_dates = sa.text("rule IN ('interview', 'project_end')")
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.drop_index('ix_reminders_case')
        batch_op.drop_index('ix_reminders_open')
        batch_op.drop_index(batch_op.f('ix_reminders_notified_at'))
        batch_op.drop_column('notified_at')
        batch_op.drop_constraint('uq_reminders_rule_case_period', type_='unique')
        batch_op.create_unique_constraint('uq_reminders_rule_period_case', ['rule', 'period', 'case_id'])
        batch_op.create_index('ix_reminders_common_dates', ['case_id'], unique=False,
                              postgresql_where=common_dates, sqlite_where=common_dates)
        batch_op.create_index('ix_reminders_open_office', ['rule', 'office'], unique=False,
                              postgresql_where=open_reminder, sqlite_where=open_reminder)
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_notifications_key'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_notifications_queued_at'))
        batch_op.drop_index(batch_op.f('ix_notifications_reminder_id'))
        batch_op.create_unique_constraint('uq_notifications_reminder_kind_recipient',
                                          ['reminder_id', 'kind', 'recipient_id'])
        unqueued = sa.text('queued_at IS NULL')
        batch_op.create_index('ix_notifications_unqueued', ['recipient_id'], unique=False,
                              postgresql_where=unqueued, sqlite_where=unqueued)
    with op.batch_alter_table('mails', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_mails_mail_key'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_mails_notification_id'))
        for name, column, where in (('uq_mails_notification', 'notification_id', 'notification_id IS NOT NULL'),
                                    ('uq_mails_survey', 'reminder_id', "kind = 'survey'"),
                                    ('uq_mails_digest_key', 'mail_key', "kind = 'digest'"),
                                    ('uq_mails_county_key', 'mail_key', "kind = 'county'")):
            batch_op.create_index(name, [column], unique=True, postgresql_where=sa.text(where),
                                  sqlite_where=sa.text(where))


def downgrade() -> None:
    """Downgrade schema: the old columns come back filled from notify_due; every case is marked for the old
    sweep to re-check."""
    with op.batch_alter_table('mails', schema=None) as batch_op:
        for name in ('uq_mails_county_key', 'uq_mails_digest_key', 'uq_mails_survey', 'uq_mails_notification'):
            batch_op.drop_index(name)
        batch_op.create_index(batch_op.f('ix_mails_notification_id'), ['notification_id'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_mails_mail_key'), ['mail_key'])
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_unqueued')
        batch_op.drop_constraint('uq_notifications_reminder_kind_recipient', type_='unique')
        batch_op.create_index(batch_op.f('ix_notifications_reminder_id'), ['reminder_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_queued_at'), ['queued_at'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_notifications_key'), ['key'])
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.drop_index('ix_reminders_open_office')
        batch_op.drop_index('ix_reminders_common_dates')
        batch_op.drop_constraint('uq_reminders_rule_period_case', type_='unique')
        batch_op.create_unique_constraint('uq_reminders_rule_case_period', ['rule', 'case_id', 'period'])
        batch_op.add_column(sa.Column('notified_at', shared.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_reminders_notified_at'), ['notified_at'], unique=False)
        batch_op.create_index('ix_reminders_open', ['resolved_at', 'rule'], unique=False)
        batch_op.create_index('ix_reminders_case', ['case_id'], unique=False)
    op.execute("UPDATE reminders SET notified_at = created_at")
    open_case = sa.text(OPEN_CASE)
    with op.batch_alter_table('notify_cases', schema=None) as batch_op:
        for column in ('project_end_pending_after', 'interview_pending_after'):
            batch_op.drop_index(f'ix_notify_cases_{column}')
        batch_op.drop_index('ix_notify_cases_opened')
        batch_op.add_column(sa.Column('changed', sa.Boolean(), server_default=sa.text('(false)'), nullable=False))
        batch_op.add_column(sa.Column('checking', sa.Boolean(), server_default=sa.text('(false)'), nullable=False))
        for column in ('project_end_reminded_on', 'interview_reminded_on', *OLD_PENDING_INDEXES):
            batch_op.add_column(sa.Column(column, sa.Date(), nullable=True))
        for column, where in OLD_PENDING_INDEXES.items():
            batch_op.create_index(f'ix_notify_cases_{column}', [column], unique=False,
                                  postgresql_where=sa.text(where), sqlite_where=sa.text(where))
        for column in ('interview_reminded_on', 'project_end_reminded_on'):
            batch_op.create_index(f'ix_notify_cases_{column}', [column], unique=False,
                                  postgresql_where=open_case, sqlite_where=open_case)
        changed = sa.text('changed OR checking')
        batch_op.create_index('ix_notify_cases_changed', ['case_id'], unique=False,
                              postgresql_where=changed, sqlite_where=changed)
    for rule, column, _cases in DUE:
        op.execute(f"UPDATE notify_cases SET {column} = notify_due.period FROM notify_due "
                   f"WHERE notify_due.case_id = notify_cases.case_id AND notify_due.rule = '{rule}'")
    op.execute("UPDATE notify_cases SET changed = TRUE")
    with op.batch_alter_table('notify_cases', schema=None) as batch_op:
        batch_op.drop_column('interview_pending_after')
        batch_op.drop_column('project_end_pending_after')
    op.drop_table('notify_due')
