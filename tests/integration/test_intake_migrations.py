"""Intake's migration that seals the closure drafts, on both databases: a draft stored in clear before it is
encrypted with its office's key (as the store opens it), and comes back in clear on the way down."""
from __future__ import annotations

import json

from alembic import command
from sqlalchemy import text

from services.intake import store
from shared import migrations
from shared.crypto import LocalKeyring
from shared.db import make_engine

BEFORE = "a17c0e5d3b91"
CASE_ID = "0b0e9a3c-0f2f-4a57-9d0e-3a3c1a1f0c11"
DRAFT = {"closure_reason": "candidate_moved", "closed_on": "2026-09-01",
         "success_criteria": {"plan_followed": "partly"}}


def _a_case_with_a_draft_in_clear(conn):
    conn.execute(text("""
        INSERT INTO intake_cases (id, office, counsellor_id, state, revision, candidate_hash, candidate_fnr,
            candidate_name, in_target_group, in_follow_up_measure, entry_point, industry, initiator,
            attachment_before, counsellor_knew_company, reasons, mentor_relation, opened_on, steps, closure_version,
            closure_draft, created_at, updated_at)
        VALUES (:id, 'kristiansand', 'kari-veileder', 'open', 1, 'hash', :blob, :blob, true, false, 'course_start',
            'retail', 'counsellor', 'none', 'no', '[]', 'none', '2026-06-01', '{}', 0, :draft,
            '2026-06-01 10:00:00+00:00', '2026-06-01 10:00:00+00:00')"""),
        {"id": CASE_ID, "blob": b"sealed", "draft": json.dumps(DRAFT)})
    conn.execute(text("""
        INSERT INTO intake_cases (id, office, counsellor_id, state, revision, candidate_hash, candidate_fnr,
            candidate_name, in_target_group, in_follow_up_measure, entry_point, industry, initiator,
            attachment_before, counsellor_knew_company, reasons, mentor_relation, opened_on, steps, closure_version,
            created_at, updated_at)
        VALUES ('no-draft', 'kristiansand', 'kari-veileder', 'open', 1, 'hash2', :blob, :blob, true, false,
            'course_start', 'retail', 'counsellor', 'none', 'no', '[]', 'none', '2026-06-01', '{}', 0,
            '2026-06-01 10:00:00+00:00', '2026-06-01 10:00:00+00:00')"""), {"blob": b"sealed"})


def _drafts(engine):
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT id, closure_draft FROM intake_cases ORDER BY id")).all())


def test_drafts_stored_in_clear_are_sealed_with_the_office_key_and_opened_on_the_way_down(db_url, tmp_path,
                                                                                            monkeypatch):
    keyring = LocalKeyring({}, source=tmp_path / "keyring.json")
    keyring.ensure_office("kristiansand")
    keyring.save()
    monkeypatch.setenv("KEYRING_FILE", str(tmp_path / "keyring.json"))
    monkeypatch.delenv("KEYRING_JSON_B64", raising=False)
    migrations.upgrade("intake", db_url, BEFORE)
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            _a_case_with_a_draft_in_clear(conn)
        migrations.upgrade("intake", db_url)
        sealed = _drafts(engine)
        assert sealed["no-draft"] is None
        blob = bytes(sealed[CASE_ID])
        assert b"candidate_moved" not in blob
        case = {"id": CASE_ID, "office": "kristiansand", "closure_draft": blob}
        assert store.case_personal(keyring, case, "closure_draft") == {"closure_draft": DRAFT}

        command.downgrade(migrations.alembic_config("intake", db_url), BEFORE)
        back = _drafts(engine)
        assert (json.loads(back[CASE_ID]) if isinstance(back[CASE_ID], str) else back[CASE_ID]) == DRAFT
        assert back["no-draft"] is None
    finally:
        engine.dispose()
