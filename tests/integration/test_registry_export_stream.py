"""The export really streams: chunks arrive before the end, and a client that goes away stops the COPY and gives
the database connection back (PostgreSQL's COPY path and the portable path)."""
from __future__ import annotations

import threading

from sqlalchemy import text

from services.registry import service, streaming, tables


def _fill(platform, rows):
    insert = """INSERT INTO registry_closures SELECT
      'p' || g, 1, 'closed', 'active', g, 'kristiansand', 'agder', 'k' || g, 'v', NULL, NULL, '2020-01', '2020-06',
      'measure_completed', 'course_start', 'service', 'counsellor', 'extra_follow_up', 'yes', 'none', 'colleague',
      true, '', 'monthly', 'monthly', 'monthly', NULL, '', '6_12_months', 0, 0, 'no_attachment', 'no',
      'no_attachment', '2022-1', '', 'not_given', 'not_given', CURRENT_TIMESTAMP FROM {source}"""
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
