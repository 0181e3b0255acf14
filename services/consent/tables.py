"""The consent service's own database: its tables plus the platform's (directory, outbox, inbox).

Queryable facts (case, purpose, decision, dates, key versions) are plain columns; personal fields (signer name,
national ID) and the signed documents are `shared.crypto` blobs bound to office, row id and row version.
"""
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from shared.db import UTCDateTime
from shared.platform import new_metadata, platform_tables
from shared.privacy import define_log_table

metadata = new_metadata()
platform = platform_tables(metadata, consumer=True)

templates = Table(
    "consent_templates", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("purpose", String(40), nullable=False),
    Column("version", Integer, nullable=False),
    Column("subject_kind", String(10), nullable=False),  # "case" or "person"
    Column("signer_roles", JSON, nullable=False),  # list of signer_role codes
    Column("title_nb", String(200), nullable=False),
    Column("title_nn", String(200), nullable=True),  # NULL: the pages show the bokmål title (marked lang="nb")
    Column("title_en", String(200), nullable=True),
    Column("text_nb", Text, nullable=False),
    Column("text_nn", Text, nullable=True),
    Column("text_en", Text, nullable=True),
    Column("valid_from", Date, nullable=False),
    Column("expires_on", Date, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    UniqueConstraint("purpose", "version", name="uq_consent_templates_purpose_version"),
)

cases = Table(
    "consent_cases", metadata,
    Column("case_id", String(36), primary_key=True),
    Column("office", String(42), nullable=False, index=True),
    Column("counsellor_id", String(64), nullable=False),
    Column("mentor_id", String(36), nullable=True),
    Column("mentor_relation", String(20), nullable=False),
    Column("has_employer", Boolean, nullable=False),
    Column("opened_on", Date, nullable=True),
    Column("closed_on", Date, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

records = Table(
    "consent_records", metadata,
    Column("id", String(36), primary_key=True),
    Column("office", String(42), nullable=False, index=True),
    Column("case_id", String(36), nullable=True, index=True),
    Column("subject_ref", String(64), nullable=True, index=True),
    Column("signer_role", String(20), nullable=False),
    Column("signer_name", LargeBinary, nullable=False),  # encrypted
    Column("signer_national_id", LargeBinary, nullable=True),  # encrypted
    Column("signed_on", Date, nullable=False),
    Column("method", String(20), nullable=False),
    Column("version", Integer, nullable=False),  # bound into the associated data
    Column("key_version", Integer, nullable=False, index=True),  # what rewrap looks for
    Column("recorded_by", String(64), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
)

decisions = Table(
    "consent_decisions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_id", String(36), ForeignKey("consent_records.id"), nullable=False, index=True),
    Column("office", String(42), nullable=False),
    Column("subject_key", String(80), nullable=False),  # case id, or "person:<ref>"
    Column("purpose", String(40), nullable=False),
    Column("template_version", Integer, nullable=False),
    Column("decision", String(10), nullable=False),  # granted / refused
    Column("expires_on", Date, nullable=False),
    Column("withdrawal_id", String(36), ForeignKey("consent_withdrawals.id"), nullable=True),
    Column("withdrawn_at", UTCDateTime, nullable=True),
)
Index("ix_consent_decisions_subject", decisions.c.subject_key, decisions.c.purpose)

documents = Table(
    "consent_documents", metadata,
    Column("id", String(36), primary_key=True),
    Column("record_id", String(36), ForeignKey("consent_records.id"), nullable=False, index=True),
    Column("office", String(42), nullable=False),
    Column("content_type", String(40), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("content", LargeBinary, nullable=False),  # encrypted
    Column("version", Integer, nullable=False),
    Column("key_version", Integer, nullable=False, index=True),
    Column("uploaded_at", UTCDateTime, nullable=False),
)

withdrawals = Table(
    "consent_withdrawals", metadata,
    Column("id", String(36), primary_key=True),
    Column("office", String(42), nullable=False, index=True),
    Column("subject_key", String(80), nullable=False, index=True),
    Column("signer_role", String(20), nullable=True),  # None: every signer
    Column("purposes", JSON, nullable=False),
    Column("requested_on", Date, nullable=False),
    Column("data_policy", String(30), nullable=False),
    Column("recorded_by", String(64), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
)

status = Table(
    "consent_status", metadata,
    Column("subject_key", String(80), primary_key=True),
    Column("purpose", String(40), primary_key=True),
    Column("office", String(42), nullable=False, index=True),
    Column("case_id", String(36), nullable=True),
    Column("subject_ref", String(64), nullable=True),
    Column("state", String(20), nullable=False),
    Column("template_version", Integer, nullable=True),
    Column("expires_on", Date, nullable=True),
    Column("expiring_notified_for", Date, nullable=True),
    Column("changed_at", UTCDateTime, nullable=False),
)

audit_log = Table(
    "consent_audit_log", metadata,
    Column("office", String(42), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("actor_role", String(20), nullable=False),
    Column("action", String(40), nullable=False),
    Column("document_id", String(36), nullable=False),
    Column("record_id", String(36), nullable=False),
    Column("reason", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

audit_head = Table(
    "consent_audit_head", metadata,
    Column("office", String(42), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

# Access exports, erasures (intake's case.erased) and retention runs (shared.privacy): who, when, office, counts.
privacy_log = define_log_table(metadata, "consent_privacy_log")

OWN = {
    "templates": templates, "cases": cases, "records": records, "decisions": decisions, "documents": documents,
    "withdrawals": withdrawals, "status": status, "audit_log": audit_log, "audit_head": audit_head,
    "privacy_log": privacy_log,
}


def all_tables() -> dict:
    return {**platform, **OWN}
