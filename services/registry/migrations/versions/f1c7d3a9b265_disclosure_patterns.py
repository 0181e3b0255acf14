"""registry_disclosure_patterns: a filter set's suppression pattern kept for every worker (issue #18)

Revision ID: f1c7d3a9b265
Revises: e2a9c5b7f416
Create Date: 2026-12-03 17:20:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

# revision identifiers, used by Alembic.
revision: str = 'f1c7d3a9b265'
down_revision: str | Sequence[str] | None = 'e2a9c5b7f416'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'registry_disclosure_patterns',
        sa.Column('scope', sa.String(length=20), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('cursor', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('started_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('hidden', sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint('scope', 'digest'),
    )


def downgrade() -> None:
    op.drop_table('registry_disclosure_patterns')
