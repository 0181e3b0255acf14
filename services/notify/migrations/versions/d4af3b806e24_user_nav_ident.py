"""directory users' NAV ident: the identity provider's NAVident claim names the person

Revision ID: d4af3b806e24
Revises: 3a1185053edb
Create Date: 2026-12-03 10:05:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'd4af3b806e24'
down_revision: str | Sequence[str] | None = '3a1185053edb'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('nav_ident', sa.String(length=32), nullable=True))
        batch.create_unique_constraint(batch.f('uq_users_nav_ident'), ['nav_ident'])


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('users') as batch:
        batch.drop_constraint(batch.f('uq_users_nav_ident'), type_='unique')
        batch.drop_column('nav_ident')
