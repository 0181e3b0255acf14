"""release aliases: a release row's pseudonym -> the case's pseudonym after a rebuild under a new secret

Revision ID: b7d2e91c4a05
Revises: 68ba0fc322e4
Create Date: 2026-12-03 16:30:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'b7d2e91c4a05'
down_revision: str | Sequence[str] | None = '68ba0fc322e4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'registry_release_aliases',
        sa.Column('release_pseudonym', sa.String(length=40), nullable=False),
        sa.Column('case_pseudonym', sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint('release_pseudonym'),
    )
    op.create_index('ix_registry_release_aliases_case_pseudonym', 'registry_release_aliases', ['case_pseudonym'])


def downgrade() -> None:
    op.drop_index('ix_registry_release_aliases_case_pseudonym', table_name='registry_release_aliases')
    op.drop_table('registry_release_aliases')
