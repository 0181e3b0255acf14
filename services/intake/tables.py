"""The intake service's own database: its tables plus the platform's (directory, outbox, inbox).

Queryable facts (office, counsellor, state, codes, dates) are plain columns; everything personal (national ID,
candidate name, employer and its contact person, mentor name, the written plan, contact notes, history snapshots)
is a `shared.crypto` blob bound to office + row id + field, so a blob copied to another row or office fails to open.
The candidate is found again through the office's keyed hash, never through the clear national ID.
"""
from sqlalchemy import JSON, Boolean, Column, Date, ForeignKey, Integer, LargeBinary, String, Table, UniqueConstraint

from shared.db import UTCDateTime
from shared.platform import new_metadata, platform_tables
from shared.privacy import define_log_table

metadata = new_metadata()
platform = platform_tables(metadata)

cases = Table(
    "intake_cases", metadata,
    Column("id", String(36), primary_key=True),
    Column("office", String(42), nullable=False, index=True),
    Column("counsellor_id", String(64), nullable=False, index=True),
    Column("state", String(20), nullable=False, index=True),  # open | project_end | closed
    Column("revision", Integer, nullable=False),  # bumped by every change; the history's sequence number
    Column("candidate_hash", String(64), nullable=False, index=True),
    # candidate_hash while the case is active, NULL once closed: one active case per candidate per office,
    # enforced by the database (NULLs never collide on SQLite or PostgreSQL).
    Column("active_candidate", String(64), nullable=True),
    Column("candidate_fnr", LargeBinary, nullable=False),  # encrypted
    Column("candidate_name", LargeBinary, nullable=False),  # encrypted
    Column("in_target_group", Boolean, nullable=False),
    Column("in_follow_up_measure", Boolean, nullable=False),
    Column("entry_point", String(40), nullable=False),
    Column("industry", String(40), nullable=False),
    Column("initiator", String(40), nullable=False),
    Column("attachment_before", String(40), nullable=False),
    Column("counsellor_knew_company", String(10), nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("employer_hash", String(64), nullable=True, index=True),
    Column("employer", LargeBinary, nullable=True),  # encrypted JSON: orgnr, name, contact person
    Column("mentor_id", String(36), nullable=True),
    Column("mentor_relation", String(20), nullable=False),
    Column("mentor_name", LargeBinary, nullable=True),  # encrypted
    Column("opened_on", Date, nullable=False),
    Column("steps", JSON, nullable=False),  # {"1": "2026-01-10" | null, ... "7": ...}
    Column("start_meeting_on", Date, nullable=True),
    Column("plan", LargeBinary, nullable=True),  # encrypted JSON: tasks, mentor_expectations
    Column("closure_version", Integer, nullable=False),  # 0 = nothing submitted yet
    Column("closed_on", Date, nullable=True),
    # The closure form so far, saved to resume later (dates and codes, each checked; encrypted JSON like the other
    # personal fields). In the case's own row, so that submitting clears it in the same UPDATE that closes the case.
    Column("closure_draft", LargeBinary, nullable=True),
    Column("draft_saved_by", String(64), nullable=True),
    Column("draft_saved_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("office", "active_candidate", name="uq_intake_cases_office_active_candidate"),
)

contacts = Table(
    "intake_contacts", metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("intake_cases.id"), nullable=False, index=True),
    Column("office", String(42), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("contact_date", Date, nullable=False),
    Column("party", String(20), nullable=False),
    Column("form", String(20), nullable=False),
    Column("minutes", Integer, nullable=False),
    Column("note", LargeBinary, nullable=True),  # encrypted; never leaves the office
    Column("deleted", Boolean, nullable=False),
    Column("updated_by", String(64), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

measures = Table(
    "intake_measures", metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("intake_cases.id"), nullable=False, index=True),
    Column("office", String(42), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("measure", String(40), nullable=False),
    Column("from_date", Date, nullable=False),
    Column("to_date", Date, nullable=True),
    Column("deleted", Boolean, nullable=False),
    Column("updated_by", String(64), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

closures = Table(
    "intake_closures", metadata,
    Column("case_id", String(36), ForeignKey("intake_cases.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("office", String(42), nullable=False, index=True),
    # The event type it sent: case.closed | case.corrected | case.project_end_status
    Column("kind", String(30), nullable=False),
    Column("supersedes_version", Integer, nullable=True),
    Column("record", JSON, nullable=False),  # the closure record exactly as sent (codes only, nothing personal)
    Column("submitted_by", String(64), nullable=False),
    Column("submitted_at", UTCDateTime, nullable=False),
)

history = Table(
    "intake_history", metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("intake_cases.id"), nullable=False),
    Column("office", String(42), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(40), nullable=False),
    Column("summary", JSON, nullable=False),  # non-personal: codes, dates, names of changed fields
    Column("snapshot", LargeBinary, nullable=True),  # encrypted JSON: the full before/after incl. personal fields
    UniqueConstraint("case_id", "seq", name="uq_intake_history_case_seq"),
)

# Every disclosure of a case's employer contact out of the office (the employer-survey invitation, issue #6): who
# asked, when, for which case. Not a history row: reading changes nothing in the case, so it bumps no revision.
disclosures = Table(
    "intake_disclosures", metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("intake_cases.id"), nullable=False, index=True),
    Column("office", String(42), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),  # the service token's subject, e.g. service-notify
    Column("what", String(40), nullable=False),  # employer_contact
    Column("purpose", String(40), nullable=False),  # employer_survey
)

# Access requests, erasures and retention runs (shared.privacy): who, when, which office, rows per kind; no person.
privacy_log = define_log_table(metadata, "intake_privacy_log")

OWN = {"cases": cases, "contacts": contacts, "measures": measures, "closures": closures,
       "history": history, "disclosures": disclosures, "privacy_log": privacy_log}


def all_tables() -> dict:
    return {**platform, **OWN}
