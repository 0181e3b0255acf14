"""rejected messages: the reason the consumer dead-lettered a message, as it logged it, for `bus dead-letters`

Revision ID: 063396b4f06b
Revises: d4af3b806e24
Create Date: 2026-12-07 10:00:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

# revision identifiers, used by Alembic.
revision: str = '063396b4f06b'
down_revision: str | Sequence[str] | None = 'd4af3b806e24'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('rejected_messages',
    sa.Column('consumer', sa.String(length=100), nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('event_type', sa.String(length=100), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=True),
    sa.Column('rejected_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('consumer', 'message_id', name=op.f('pk_rejected_messages'))
    )
    with op.batch_alter_table('rejected_messages', schema=None) as batch_op:
        batch_op.create_index('ix_rejected_messages_case_id', ['case_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('rejected_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_rejected_messages_case_id')

    op.drop_table('rejected_messages')
