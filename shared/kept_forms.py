"""Kept forms: what a person sent after their session had ended, kept so that signing in again loses nothing.

A page form posted after the session ended (idle or absolute limit) or with a missing CSRF token is not carried out;
its fields are kept here and the person goes through sign-in back to the page, where the answers are filled in again
for them to check and send once more (shared.web.keeping). Every service carries the `kept_forms` table.

- Keyed to the person: `owner` is the keyed hash of the person's directory id (the platform's hash key, so a new
  office does not lose it); only that person, signed in again, ever gets the form back.
- Encrypted like the other free text (shared.crypto): the fields are a blob under the office's keys (`_platform` for
  a person without an office), bound to the row, its owner and its page.
- Kept at most the session's absolute lifetime (TOKEN_LIFETIME_MINUTES) from when it was sent: past `expires_at` it
  is never handed out and `purge_expired` removes it: when a new form is kept, and on every run of the service's
  retention command (`privacy retention`, shared.privacy), whether or not the retention date has passed.
- The case the form was about (`case_id` of the URL) is kept beside it, so erasure (`erase_kept_forms`), retention
  and access requests (`kept_forms_about`) reach it.

This module needs no web layer: a consumer that erases cases calls `erase_kept_forms` too.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, MetaData, String, Table, column, delete, func, select, table

from shared.crypto import decrypt, encrypt
from shared.db import UTCDateTime
from shared.replays import PLATFORM_KEYS

TABLE = "kept_forms"
MAX_FIELDS = 500  # a page form has tens; more is not a person's form and is not kept


def define_tables(metadata: MetaData) -> dict[str, Table]:
    kept = Table(
        TABLE, metadata,
        Column("id", String(36), primary_key=True),
        Column("owner", String(64), nullable=False),  # keyed hash of the person's directory id
        Column("keys", String(64), nullable=False),  # whose keys encrypt it: the person's office, or _platform
        Column("page", String(2000), nullable=False),  # the page (path within the service) to fill it in on
        Column("fields", LargeBinary, nullable=False),  # encrypted JSON: the form's action and fields
        Column("case_id", String(36), nullable=True),  # the case it is about, for erasure and access requests
        Column("created_at", UTCDateTime, nullable=False),
        Column("expires_at", UTCDateTime, nullable=False),
    )
    Index("ix_kept_forms_owner", kept.c.owner)
    Index("ix_kept_forms_case_id", kept.c.case_id)
    Index("ix_kept_forms_expires_at", kept.c.expires_at)
    return {"kept_forms": kept}


_kept = table(TABLE, column("id"), column("owner"), column("keys"), column("page"), column("fields"),
              column("case_id"), column("created_at"), column("expires_at"))


def owner_hash(keyring, subject: str) -> str:
    return keyring.keyed_hash(PLATFORM_KEYS, "kept-form\x1f" + subject)


def _binding(row_id: str, owner: str, page: str) -> dict:
    return {"record": f"kept_form:{row_id}", "owner": owner, "page": page}


def keep(conn, keyring, *, subject: str, office: str | None, page: str, action: str, fields: list[tuple[str, str]],
         files: list[str], case_id: str | None, now: datetime, expires_at: datetime) -> str:
    """Keep one sent form for `subject`, replacing what was kept for the same page; returns its id."""
    owner = owner_hash(keyring, subject)
    keys = office or PLATFORM_KEYS
    row_id = str(uuid.uuid4())
    content = json.dumps({"action": action, "fields": [list(item) for item in fields[:MAX_FIELDS]],
                          "files": files[:MAX_FIELDS]}, ensure_ascii=False).encode("utf-8")
    blob = encrypt(keyring, keys, content, **_binding(row_id, owner, page))
    conn.execute(delete(_kept).where(_kept.c.owner == owner, _kept.c.page == page))
    conn.execute(_kept.insert().values(id=row_id, owner=owner, keys=keys, page=page, fields=blob, case_id=case_id,
                                       created_at=now, expires_at=expires_at))
    return row_id


def _opened(keyring, row) -> dict:
    blob = bytes(row["fields"])  # PostgreSQL hands an untyped column's bytes over as a memoryview
    content = json.loads(decrypt(keyring, row["keys"], blob, **_binding(row["id"], row["owner"], row["page"])))
    return {"id": row["id"], "page": row["page"], "case_id": row["case_id"], "created_at": row["created_at"],
            "expires_at": row["expires_at"], **content}


def kept_for(conn, keyring, subject: str, page: str, now: datetime) -> dict | None:
    """The form `subject` sent for `page`, still within its time, opened; None if there is none."""
    owner = owner_hash(keyring, subject)
    row = conn.execute(select(_kept).where(_kept.c.owner == owner, _kept.c.page == page, _kept.c.expires_at > now)
                       .order_by(_kept.c.created_at.desc())).mappings().first()
    return _opened(keyring, row) if row is not None else None


def has_any(conn, keyring, subject: str, now: datetime) -> bool:
    owner = owner_hash(keyring, subject)
    return conn.execute(select(_kept.c.id).where(_kept.c.owner == owner, _kept.c.expires_at > now)
                        .limit(1)).first() is not None


def discard(conn, keyring, subject: str, *, action: str | None = None, form_id: str | None = None) -> int:
    """Forget what `subject` kept: the forms sent to `action` (sent again successfully), or the one named `form_id`."""
    owner = owner_hash(keyring, subject)
    rows = conn.execute(select(_kept).where(_kept.c.owner == owner)).mappings().all()
    gone = [row["id"] for row in rows
            if row["id"] == form_id or (action is not None and _opened(keyring, row)["action"] == action)]
    if not gone:
        return 0
    return conn.execute(delete(_kept).where(_kept.c.id.in_(gone))).rowcount


def kept_forms_about(conn, keyring, case_ids) -> list[dict]:
    """For an access request: every kept form about these cases, opened (fields as sent; no owner in clear)."""
    ids = [str(case_id) for case_id in case_ids]
    if not ids:
        return []
    rows = conn.execute(select(_kept).where(_kept.c.case_id.in_(ids)).order_by(_kept.c.created_at)).mappings().all()
    return [{key: value for key, value in _opened(keyring, row).items() if key != "id"} for row in rows]


def erase_kept_forms(conn, case_ids) -> int:
    """Delete the kept forms about these cases (one id or several), in the caller's transaction; returns how many."""
    ids = [str(case_ids)] if isinstance(case_ids, str) else [str(case_id) for case_id in case_ids]
    if not ids:
        return 0
    return conn.execute(delete(_kept).where(_kept.c.case_id.in_(ids))).rowcount


def purge_expired(conn, now: datetime) -> int:
    """Delete every kept form past its time; returns how many went."""
    return conn.execute(delete(_kept).where(_kept.c.expires_at <= now)).rowcount


def count_expired(conn, now: datetime) -> int:
    """How many `purge_expired` would delete (a dry run)."""
    return conn.execute(select(func.count()).select_from(_kept).where(_kept.c.expires_at <= now)).scalar()
