"""The registry service's own database: its tables plus the platform's (directory, outbox, inbox).

Nothing here holds a case id, a candidate's keyed hash, a name or free text: every identifier is the registry's
own pseudonym (HMAC with the project secret), every date is coarsened to the project's period.
"""
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
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

PSEUDONYM = 40
CODE = 40
_ID = BigInteger().with_variant(Integer, "sqlite")

# The current version of every accepted case: one row per case, the unit of table 1 and of the exports.
closures = Table(
    "registry_closures", metadata,
    Column("case_pseudonym", String(PSEUDONYM), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("record_kind", String(20), nullable=False),  # closed | corrected | project_end
    Column("status", String(20), nullable=False),  # active | withdrawn_marked (research exemption)
    Column("change_seq", _ID, nullable=False, index=True),
    Column("office", String(42), nullable=False),
    Column("county", String(42), nullable=False),
    Column("candidate_pseudonym", String(PSEUDONYM), nullable=False, index=True),
    Column("counsellor_pseudonym", String(PSEUDONYM), nullable=False),
    Column("mentor_pseudonym", String(PSEUDONYM), nullable=True),
    Column("employer_pseudonym", String(PSEUDONYM), nullable=True),
    Column("opened_period", String(10), nullable=False),
    Column("closed_period", String(10), nullable=False),
    Column("closure_reason", String(CODE), nullable=False),
    Column("entry_point", String(CODE), nullable=False),
    Column("industry", String(CODE), nullable=False),
    Column("initiator", String(CODE), nullable=False),
    Column("reasons", String(400), nullable=False),  # codes joined by ';'
    Column("counsellor_knew_company", String(CODE), nullable=False),
    Column("attachment_before", String(CODE), nullable=False),
    Column("mentor_relation", String(CODE), nullable=False),
    Column("mentor_measure_used", Boolean, nullable=False),
    Column("measures", String(400), nullable=False),  # code:from_period:to_period joined by ';'
    Column("frequency_candidate", String(CODE), nullable=False),
    Column("frequency_mentor", String(CODE), nullable=False),
    Column("frequency_employer", String(CODE), nullable=False),
    Column("contact_intensity", String(CODE), nullable=True),
    Column("contact_forms", String(200), nullable=False),
    # table 5 per party: a code of the registry's party_intensity ("unknown" for rows from before), and the forms
    # joined by ';' (NULL: unknown, '': none)
    Column("intensity_candidate", String(CODE), nullable=False, server_default="unknown"),
    Column("intensity_mentor", String(CODE), nullable=False, server_default="unknown"),
    Column("forms_candidate", String(200), nullable=True),
    Column("forms_mentor", String(200), nullable=True),
    Column("duration", String(CODE), nullable=False),
    Column("contacts_logged", Integer, nullable=False),
    Column("minutes_total", Integer, nullable=False),
    Column("attachment_after", String(CODE), nullable=False),
    Column("attached_same_company", String(CODE), nullable=False),
    Column("outcome_summary", String(CODE), nullable=False),
    Column("success_list_version", String(40), nullable=False),
    Column("success_assessments", String(1000), nullable=False),  # criterion=code joined by ';'
    Column("feedback_mentor", String(CODE), nullable=False),
    Column("feedback_counsellor", String(CODE), nullable=False),
    Column("accepted_at", UTCDateTime, nullable=False),
)
Index("ix_registry_closures_office_period", closures.c.office, closures.c.closed_period)

# Every accepted version (history of corrections); the natural key (case, version) makes a redelivery a no-op.
versions = Table(
    "registry_closure_versions", metadata,
    Column("case_pseudonym", String(PSEUDONYM), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("record_kind", String(20), nullable=False),
    Column("supersedes_version", Integer, nullable=True),
    Column("record", JSON, nullable=False),  # the pseudonymised row as stored in registry_closures
    Column("accepted_at", UTCDateTime, nullable=False),
)

# The change feed researchers pull incrementally: a monotonically increasing sequence.
changes = Table(
    "registry_changes", metadata,
    Column("seq", _ID, primary_key=True, autoincrement=True),
    Column("case_pseudonym", String(PSEUDONYM), nullable=False, index=True),
    # closed | corrected | project_end | withdrawn_erased | withdrawn_marked
    Column("change", String(30), nullable=False),
    Column("version", Integer, nullable=True),
    Column("at", UTCDateTime, nullable=False),
)

# The research-registration consent as the registry knows it, per case pseudonym.
consents = Table(
    "registry_consents", metadata,
    Column("case_pseudonym", String(PSEUDONYM), primary_key=True),
    Column("state", String(20), nullable=False),  # granted | withdrawn | expired
    Column("data_policy", String(30), nullable=True),
    Column("effective_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Closures from covered offices waiting for consent: already pseudonymised, so they hold no identifier
# beyond keyed hashes; dropped after the project's consent_wait_days.
waiting = Table(
    "registry_waiting", metadata,
    Column("case_pseudonym", String(PSEUDONYM), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("record_kind", String(20), nullable=False),
    Column("supersedes_version", Integer, nullable=True),
    Column("record", JSON, nullable=False),
    Column("received_at", UTCDateTime, nullable=False, index=True),
)

# Why something was refused, dropped or ignored: codes only, no personal data, no identifiers.
log = Table(
    "registry_log", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("message_id", String(36), nullable=True),
    Column("event_type", String(60), nullable=False),
    Column("office", String(42), nullable=True),
    Column("outcome", String(20), nullable=False),  # refused | waiting | dropped | ignored | accepted | duplicate
    Column("reason", String(60), nullable=False),
    Column("detail", Text, nullable=True),
)

# Erasures at a person's request (intake's case.erased) and retention runs (shared.privacy): counts, no pseudonym.
privacy_log = define_log_table(metadata, "registry_privacy_log")

# Releases (issue #18): immutable cuts at a cursor. A release number has versions: an erasure re-cuts it as the next
# version. The files are kept here, not on a disk, so every web replica serves the same bytes and an erasure or
# retention removes them in the same transaction as the rest.
releases = Table(
    "registry_releases", metadata,
    Column("id", String(20), primary_key=True),  # r<number>v<version>
    Column("number", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("cut_at", UTCDateTime, nullable=False),
    Column("cursor", _ID, nullable=False),
    Column("codebook_version", String(40), nullable=False),
    Column("labels", String(2), nullable=False),  # nb | en: the language of the SPSS and Stata labels
    Column("cut_by", String(64), nullable=False),
    Column("status", String(20), nullable=False),  # published | withdrawn (an erasure took files) | superseded
    Column("notes", JSON, nullable=False),
    Column("manifest", JSON, nullable=False),
    UniqueConstraint("number", "version", name="uq_registry_releases_number_version"),
)

# A file in parts of at most store.PART_BYTES, so that neither a cut nor a download holds a whole file.
release_files = Table(
    "registry_release_files", metadata,
    Column("release_id", String(20), primary_key=True),
    Column("name", String(40), primary_key=True),
    Column("part", Integer, primary_key=True),
    Column("content", LargeBinary, nullable=True),  # None once an erasure deleted it
    Column("deleted_at", UTCDateTime, nullable=True),
    Column("compression", String(10), nullable=True),  # "zlib": the part compressed (store.insert_release); None: as is
)

# The rows a release number was cut from (the export row per case), so that a re-cut after an erasure and every
# table of the release come from the release itself, not from today's rows. An erasure empties `row` and names the
# version it withdrew (`erased_from`): the re-cut's erratum lists those pseudonyms.
release_rows = Table(
    "registry_release_rows", metadata,
    Column("number", Integer, primary_key=True),
    Column("case_pseudonym", String(PSEUDONYM), primary_key=True, index=True),
    Column("row", JSON, nullable=True),
    Column("erased_from", String(20), nullable=True),
)

# A release row's pseudonym -> the case's pseudonym today, written by a rebuild under a new secret: releases keep
# the pseudonyms they were cut with (researchers hold them), so an erasure finds the case's rows in them through
# this, without the old secret being kept. Pseudonym to pseudonym: no case id, nothing a person is found by.
release_aliases = Table(
    "registry_release_aliases", metadata,
    Column("release_pseudonym", String(PSEUDONYM), primary_key=True),
    Column("case_pseudonym", String(PSEUDONYM), nullable=False, index=True),
)

# Who downloaded which file of which release: a hash chain (shared.hashchain) with its head.
downloads = Table(
    "registry_downloads", metadata,
    Column("seq", _ID, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("researcher", String(64), nullable=False),
    Column("release_id", String(20), nullable=False, index=True),
    Column("file", String(40), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
download_head = Table(
    "registry_download_head", metadata,
    Column("id", Integer, primary_key=True),  # always 1
    Column("seq", _ID, nullable=False),
    Column("hash", String(64), nullable=False),
)

# A filter set's suppression pattern (domain.disclosure.protect: a search of up to 20 s), kept here so that every web
# worker and a restarted one reuse it. `digest` covers all the search reads (grid, counts, threshold, the algorithm's
# VERSION); `scope` is "live" or the release id; `hidden` is NULL while one worker runs the search (the others wait).
disclosure_patterns = Table(
    "registry_disclosure_patterns", metadata,
    Column("scope", String(20), primary_key=True),
    Column("digest", String(64), primary_key=True),
    Column("cursor", _ID, nullable=False),  # the data version it serves (live: the newest change; older ones go)
    Column("started_at", UTCDateTime, nullable=False),  # wall time of the claim: a claim left by a dead worker expires
    Column("hidden", JSON, nullable=True),
)

OWN = {"closures": closures, "versions": versions, "changes": changes, "consents": consents, "waiting": waiting,
       "log": log, "privacy_log": privacy_log, "releases": releases, "release_files": release_files,
       "release_rows": release_rows, "release_aliases": release_aliases, "downloads": downloads,
       "download_head": download_head, "disclosure_patterns": disclosure_patterns}


def all_tables() -> dict:
    tables = dict(platform)
    tables.update(OWN)
    return tables
