"""interview consent per case: interview reminders only where the interviews purpose is granted

Revision ID: 3f1c2a7d9b10
Revises: e8babd2a09da
Create Date: 2026-11-27 02:00:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '3f1c2a7d9b10'
down_revision: str | Sequence[str] | None = 'e8babd2a09da'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('notify_cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('interview_consent', sa.String(length=20), nullable=True))
    # The consents already received: the latest status of `interviews` per case.
    op.execute("UPDATE notify_cases SET interview_consent = (SELECT status FROM notify_consents "
               "WHERE notify_consents.case_id = notify_cases.case_id AND purpose = 'interviews')")
    # Open interview reminders of cases without that consent: the next sweep resolves them and cancels their mail.
    op.execute("UPDATE notify_cases SET changed = TRUE WHERE case_id IN (SELECT case_id FROM reminders "
               "WHERE rule = 'interview' AND resolved_at IS NULL)")


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('notify_cases', schema=None) as batch_op:
        batch_op.drop_column('interview_consent')
