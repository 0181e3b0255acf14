"""release file parts stored compressed: registry_release_files.compression ("zlib", or NULL for a part as it is)

Revision ID: e2a9c5b7f416
Revises: d8f3b6a1c527
Create Date: 2026-12-03 16:50:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'e2a9c5b7f416'
down_revision: str | Sequence[str] | None = 'd8f3b6a1c527'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('registry_release_files') as batch:
        batch.add_column(sa.Column('compression', sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('registry_release_files') as batch:
        batch.drop_column('compression')
