"""mail language: the language a person of NAV chose for notify's mails (nb, nn or en; NULL: bokmål)

Revision ID: 5b8e1f0c2d47
Revises: 063396b4f06b
Create Date: 2026-12-03 13:00:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '5b8e1f0c2d47'
down_revision: str | Sequence[str] | None = '063396b4f06b'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('notify_preferences', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=5), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('notify_preferences', schema=None) as batch_op:
        batch_op.drop_column('language')
