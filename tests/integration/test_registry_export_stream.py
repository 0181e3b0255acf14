"""The export really streams: chunks arrive before the end, and a client that goes away stops the COPY and gives
the database connection back (PostgreSQL's COPY path and the portable path)."""
from __future__ import annotations

import threading

from sqlalchemy import text

from services.registry import service, streaming, tables


def _fill(platform, rows):
    # Every column named: the table's order differs between a migrated database and one created from tables.py.
    columns = [column.name for column in tables.closures.columns]
    values = {
        "case_pseudonym": "'p' || g", "version": "1", "record_kind": "'closed'", "status": "'active'",
        "change_seq": "g", "office": "'kristiansand'", "county": "'agder'", "candidate_pseudonym": "'k' || g",
        "counsellor_pseudonym": "'v'", "mentor_pseudonym": "NULL", "employer_pseudonym": "NULL",
        "opened_period": "'2020-01'", "closed_period": "'2020-06'", "closure_reason": "'measure_completed'",
        "entry_point": "'course_start'", "industry": "'service'", "initiator": "'counsellor'",
        "reasons": "'extra_follow_up'", "counsellor_knew_company": "'yes'", "attachment_before": "'none'",
        "mentor_relation": "'colleague'", "mentor_measure_used": "true", "measures": "''",
        "frequency_candidate": "'monthly'", "frequency_mentor": "'monthly'", "frequency_employer": "'monthly'",
        "contact_intensity": "NULL", "contact_forms": "''", "intensity_candidate": "'even'",
        "intensity_mentor": "'even'", "forms_candidate": "'phone'", "forms_mentor": "'phone'",
        "duration": "'6_12_months'", "contacts_logged": "0", "minutes_total": "0",
        "attachment_after": "'no_attachment'", "attached_same_company": "'no'", "outcome_summary": "'no_attachment'",
        "success_list_version": "'2022-1'", "success_assessments": "''", "feedback_mentor": "'not_given'",
        "feedback_counsellor": "'not_given'", "accepted_at": "CURRENT_TIMESTAMP"}
    assert set(values) == set(columns), set(columns) ^ set(values)
    insert = (f"INSERT INTO registry_closures ({', '.join(columns)}) "
              f"SELECT {', '.join(values[c] for c in columns)} FROM {{source}}")
    source = "generate_series(1, :n) g" if platform.engine.dialect.name == "postgresql" else \
        "(WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < :n) SELECT g FROM s)"
    with platform.engine.begin() as conn:
        conn.execute(text(insert.format(source=source)), {"n": rows})
        conn.execute(text("INSERT INTO registry_changes (seq, case_pseudonym, change, version, at) "
                          "VALUES (:n, 'x', 'closed', 1, CURRENT_TIMESTAMP)"), {"n": rows})


def test_export_streams_in_chunks_and_stops_when_the_client_leaves(platform_factory, db_url):
    platform = platform_factory("registry", tables.all_tables(), db_url)
    rows = 60000
    _fill(platform, rows)
    upto = service.newest_change(platform)
    chunks = list(service.stream_csv(platform, 0, upto))
    assert len(chunks) > 5 and max(len(c) for c in chunks) < 2 * streaming.CHUNK_BYTES
    assert b"".join(chunks).count(b"\n") == rows + 1
    assert all(len(c) > 0 for c in chunks[:-1])

    before = threading.active_count()
    stream = service.stream_csv(platform, 0, upto)
    first = next(stream)
    assert first.startswith(b"case_pseudonym,version")
    stream.close()  # the client went away
    assert threading.active_count() <= before
    pool = platform.engine.pool
    if hasattr(pool, "checkedout"):
        assert pool.checkedout() == 0
    # The database is usable afterwards (no connection left in COPY state).
    assert service.newest_change(platform) == upto
    assert sum(1 for _ in service.stream_json(platform, upto - 10, upto)) >= 1
