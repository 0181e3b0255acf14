"""consent templates: the title in nynorsk and English beside bokmål (optional; a page falls back to bokmål)

Revision ID: d5a1c3e7f920
Revises: 82631d34fd48
Create Date: 2026-12-03 16:30:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'd5a1c3e7f920'
down_revision: str | Sequence[str] | None = '82631d34fd48'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('consent_templates') as batch:
        batch.add_column(sa.Column('title_nn', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('title_en', sa.String(length=200), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('consent_templates') as batch:
        batch.drop_column('title_en')
        batch.drop_column('title_nn')
