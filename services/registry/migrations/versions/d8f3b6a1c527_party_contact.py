"""table 5 per party: the contact intensity and forms of the candidate and of the mentor (issue #18 point 5)

Rows from before have neither: their intensity is 'unknown' (the column's default, also for a closure event of the
old shape) and their forms NULL (unknown), never "no contact".

Revision ID: d8f3b6a1c527
Revises: c4e8a2f7d913
Create Date: 2026-12-03 16:30:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'd8f3b6a1c527'
down_revision: str | Sequence[str] | None = 'c4e8a2f7d913'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('registry_closures') as batch:
        batch.add_column(sa.Column('intensity_candidate', sa.String(length=40), server_default='unknown',
                                   nullable=False))
        batch.add_column(sa.Column('intensity_mentor', sa.String(length=40), server_default='unknown',
                                   nullable=False))
        batch.add_column(sa.Column('forms_candidate', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('forms_mentor', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('registry_closures') as batch:
        batch.drop_column('forms_mentor')
        batch.drop_column('forms_candidate')
        batch.drop_column('intensity_mentor')
        batch.drop_column('intensity_candidate')
