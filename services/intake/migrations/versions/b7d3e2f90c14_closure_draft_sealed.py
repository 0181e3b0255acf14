"""closure draft sealed: the draft column holds an encrypted blob, and the drafts stored before are encrypted

Revision ID: b7d3e2f90c14
Revises: a17c0e5d3b91
Create Date: 2026-12-03 11:10:00

Each draft is sealed as services/intake/store.py seals it (CASE_FIELDS["closure_draft"]): JSON, encrypted with its
office's key, bound to the case's id and the field's name. The binding is written out here rather than imported, so
this step stays what it was when the store changes. The keyring is the service's own (KEYRING_JSON_B64 or
KEYRING_FILE), loaded only when there is a draft to seal or open.
"""
import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.config import load_settings
from shared.crypto import decrypt_text, encrypt_text, load_keyring

# revision identifiers, used by Alembic.
revision: str = 'b7d3e2f90c14'
down_revision: str | Sequence[str] | None = 'a17c0e5d3b91'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BINDING = {"field": "closure_draft"}  # with case=<the case's id>


def _keyring():
    return load_keyring(load_settings("intake").keyring_file)


def _drafts(column_type):
    return sa.table("intake_cases", sa.column("id", sa.String), sa.column("office", sa.String),
                    sa.column("closure_draft", column_type), sa.column("draft", column_type))


def _swap(new_type, convert) -> None:
    """Add a `draft` column of `new_type`, fill it with `convert(keyring, office, case id, old value)` for every
    stored draft, drop the old column and give the new one its name."""
    op.add_column("intake_cases", sa.Column("draft", new_type, nullable=True))
    conn = op.get_bind()
    old, new = _drafts(sa.LargeBinary if new_type is sa.JSON else sa.JSON), _drafts(new_type)
    rows = conn.execute(sa.select(old.c.id, old.c.office, old.c.closure_draft)
                        .where(old.c.closure_draft.is_not(None))).all()
    keyring = _keyring() if rows else None
    for case_id, office, value in rows:
        conn.execute(sa.update(new).where(new.c.id == case_id).values(draft=convert(keyring, office, case_id, value)))
    with op.batch_alter_table("intake_cases") as batch:
        batch.drop_column("closure_draft")
        batch.alter_column("draft", new_column_name="closure_draft", existing_type=new_type, existing_nullable=True)


def _seal(keyring, office, case_id, draft):
    return encrypt_text(keyring, office, json.dumps(draft, ensure_ascii=False, default=str), case=case_id, **BINDING)


def _open(keyring, office, case_id, blob):
    return json.loads(decrypt_text(keyring, office, blob, case=case_id, **BINDING))


def upgrade() -> None:
    """Upgrade schema."""
    _swap(sa.LargeBinary, _seal)


def downgrade() -> None:
    """Downgrade schema."""
    _swap(sa.JSON, _open)
