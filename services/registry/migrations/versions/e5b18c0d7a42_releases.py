"""releases: immutable cuts with their files and rows, and the hash-chained download log (issue #18)

Revision ID: e5b18c0d7a42
Revises: c39e2a7f5d13
Create Date: 2026-12-03 10:00:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

# revision identifiers, used by Alembic.
revision: str = 'e5b18c0d7a42'
down_revision: str | Sequence[str] | None = 'c39e2a7f5d13'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'registry_releases',
        sa.Column('id', sa.String(length=20), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('cut_at', shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('cursor', _ID, nullable=False),
        sa.Column('codebook_version', sa.String(length=40), nullable=False),
        sa.Column('labels', sa.String(length=2), nullable=False),
        sa.Column('cut_by', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('notes', sa.JSON(), nullable=False),
        sa.Column('manifest', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('number', 'version', name='uq_registry_releases_number_version'),
    )
    op.create_table(
        'registry_release_files',
        sa.Column('release_id', sa.String(length=20), nullable=False),
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('part', sa.Integer(), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=True),
        sa.Column('deleted_at', shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('release_id', 'name', 'part'),
    )
    op.create_table(
        'registry_release_rows',
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('case_pseudonym', sa.String(length=40), nullable=False),
        sa.Column('row', sa.JSON(), nullable=True),
        sa.Column('erased_from', sa.String(length=20), nullable=True),
        sa.PrimaryKeyConstraint('number', 'case_pseudonym'),
    )
    op.create_index('ix_registry_release_rows_case_pseudonym', 'registry_release_rows', ['case_pseudonym'])
    op.create_table(
        'registry_downloads',
        sa.Column('seq', _ID, autoincrement=False, nullable=False),
        sa.Column('at', shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('researcher', sa.String(length=64), nullable=False),
        sa.Column('release_id', sa.String(length=20), nullable=False),
        sa.Column('file', sa.String(length=40), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('prev_hash', sa.String(length=64), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('seq'),
    )
    op.create_index('ix_registry_downloads_release_id', 'registry_downloads', ['release_id'])
    op.create_table(
        'registry_download_head',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('seq', _ID, nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('registry_download_head')
    op.drop_index('ix_registry_downloads_release_id', table_name='registry_downloads')
    op.drop_table('registry_downloads')
    op.drop_index('ix_registry_release_rows_case_pseudonym', table_name='registry_release_rows')
    op.drop_table('registry_release_rows')
    op.drop_table('registry_release_files')
    op.drop_table('registry_releases')
