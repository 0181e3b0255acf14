"""release files compressed with lz4 instead of pglz on PostgreSQL: storing a release's parts took a third of a
cut's time in PostgreSQL's own compression (pglz); lz4 compresses the same text and numbers several times faster

Revision ID: c4e8a2f7d913
Revises: b7d2e91c4a05
Create Date: 2026-12-03 16:35:00

"""
from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'c4e8a2f7d913'
down_revision: str | Sequence[str] | None = 'b7d2e91c4a05'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # PostgreSQL 14 and later, built with lz4 (Debian's is); SQLite stores blobs as they are.
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE registry_release_files ALTER COLUMN content SET COMPRESSION lz4')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE registry_release_files ALTER COLUMN content SET COMPRESSION pglz')
