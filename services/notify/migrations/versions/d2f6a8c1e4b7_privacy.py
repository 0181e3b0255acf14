"""privacy: the privacy log (access exports, erasures, retention runs) and the ids of erased cases

Revision ID: d2f6a8c1e4b7
Revises: 7c4e5d2b8a31
Create Date: 2026-11-27 12:00:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

# revision identifiers, used by Alembic.
revision: str = 'd2f6a8c1e4b7'
down_revision: str | Sequence[str] | None = '7c4e5d2b8a31'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('notify_erased_cases',
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('request_id', sa.String(length=36), nullable=False),
    sa.Column('erased_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('case_id', name=op.f('pk_notify_erased_cases'))
    )
    op.create_table('notify_privacy_log',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('request_id', sa.String(length=36), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('office', sa.String(length=42), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('actor_role', sa.String(length=20), nullable=False),
    sa.Column('at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('case_count', sa.Integer(), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('outcome', sa.String(length=30), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notify_privacy_log'))
    )
    with op.batch_alter_table('notify_privacy_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notify_privacy_log_office'), ['office'], unique=False)
        batch_op.create_index(batch_op.f('ix_notify_privacy_log_request_id'), ['request_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('notify_privacy_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notify_privacy_log_request_id'))
        batch_op.drop_index(batch_op.f('ix_notify_privacy_log_office'))

    op.drop_table('notify_privacy_log')
    op.drop_table('notify_erased_cases')
