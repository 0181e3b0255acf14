"""request replays: the first answer of a state-changing request, replayed to its repeats for 24 hours

Revision ID: c2340f2a8639
Revises: c4a1e7b2d905
Create Date: 2026-12-03 09:22:48

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

# revision identifiers, used by Alembic.
revision: str = 'c2340f2a8639'
down_revision: str | Sequence[str] | None = 'c4a1e7b2d905'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('request_replays',
    sa.Column('lookup', sa.String(length=64), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('claim', sa.String(length=32), nullable=False),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.Column('response', sa.LargeBinary(), nullable=True),
    sa.Column('case_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lease_until', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('lookup', name=op.f('pk_request_replays'))
    )
    with op.batch_alter_table('request_replays', schema=None) as batch_op:
        batch_op.create_index('ix_request_replays_case_id', ['case_id'], unique=False)
        batch_op.create_index('ix_request_replays_expires_at', ['expires_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('request_replays', schema=None) as batch_op:
        batch_op.drop_index('ix_request_replays_expires_at')
        batch_op.drop_index('ix_request_replays_case_id')

    op.drop_table('request_replays')
