"""kept forms: a form sent after the session ended, kept encrypted for its person until they sign in again

Revision ID: 38a9c218659e
Revises: 5b8e1f0c2d47
Create Date: 2026-12-03 13:05:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

# revision identifiers, used by Alembic.
revision: str = '38a9c218659e'
down_revision: str | Sequence[str] | None = '5b8e1f0c2d47'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('kept_forms',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('keys', sa.String(length=64), nullable=False),
    sa.Column('page', sa.String(length=2000), nullable=False),
    sa.Column('fields', sa.LargeBinary(), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kept_forms'))
    )
    with op.batch_alter_table('kept_forms', schema=None) as batch_op:
        batch_op.create_index('ix_kept_forms_owner', ['owner'], unique=False)
        batch_op.create_index('ix_kept_forms_case_id', ['case_id'], unique=False)
        batch_op.create_index('ix_kept_forms_expires_at', ['expires_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('kept_forms', schema=None) as batch_op:
        batch_op.drop_index('ix_kept_forms_expires_at')
        batch_op.drop_index('ix_kept_forms_case_id')
        batch_op.drop_index('ix_kept_forms_owner')

    op.drop_table('kept_forms')
