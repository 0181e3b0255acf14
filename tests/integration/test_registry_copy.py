"""The registry's batch writes on PostgreSQL (issue #19): inserts as one COPY, whose rows read back exactly as the
same rows stored by the INSERT, whatever their texts hold (COPY's escapes, an empty text beside NULL, JSON null); a
value the COPY does not write as the INSERT would leaves the batch to the INSERT; a duplicate key is SQLAlchemy's
IntegrityError, as the consumer expects of a batch. The change feed's entries from arrays, numbered in order."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError, StatementError

from services.registry import store, tables

TRICKY = ["plain", "", "a\\b", "a\tb", "a\nb", "a\rb", "\\N", "\\.", "æøå ✓", "a;b=c"]  # periods take 10


@pytest.fixture
def registry(platform_factory, pg_url):
    return platform_factory("registry", tables.all_tables(), pg_url)


def _closure(case, text, n):
    """A closure row with `text` in every text column that takes one, and NULL or '' where the row may hold them."""
    row = {}
    for column in tables.closures.c:
        if column.name == "case_pseudonym":
            row[column.name] = case
        elif column.name.endswith("_at"):
            row[column.name] = datetime(2026, 11, 26, 10, n % 60, tzinfo=timezone(timedelta(hours=n % 3)))
        elif column.name in ("version", "change_seq", "contacts_logged", "minutes_total"):
            row[column.name] = n * 1_000_003 + 1
        elif column.name == "mentor_measure_used":
            row[column.name] = n % 2 == 0
        elif column.nullable and n % 3 == 0:
            row[column.name] = None
        elif column.name == "forms_candidate" and n % 3 == 1:
            row[column.name] = ""  # none, which NULL (unknown) is not
        else:
            row[column.name] = text
    return row


def _version(case, text, n):
    return {"case_pseudonym": case, "version": n + 1, "record_kind": "closed",
            "supersedes_version": None if n % 2 else n, "accepted_at": datetime(2026, 11, 26, 10, tzinfo=UTC),
            "record": None if n == 2 else {"text": text, "list": [text, None, 1.5, True], "nested": {text: text}}}
    # (None: JSON null, as the INSERT stores it in a column that takes no NULL)


def _statements(registry, run):
    sent = []

    def keep(_conn, _cursor, statement, *_args):
        sent.append(statement.split()[0])
    event.listen(registry.engine, "before_cursor_execute", keep)
    try:
        run()
    finally:
        event.remove(registry.engine, "before_cursor_execute", keep)
    return sent


@pytest.mark.parametrize("kind, make", [("closures", _closure), ("versions", _version)])
def test_a_copied_row_reads_back_as_the_inserted_one(registry, kind, make):
    table = store._INSERTS[kind].table
    copied = [make(f"copy-{n}", text, n) for n, text in enumerate(TRICKY)]
    inserted = [make(f"insert-{n}", text, n) for n, text in enumerate(TRICKY)]
    with registry.engine.begin() as conn:
        assert _statements(registry, lambda: store.insert_many(conn, kind, copied)) == ["COPY"]
        conn.execute(store._INSERTS[kind], inserted)
    with registry.engine.connect() as conn:
        rows = {row["case_pseudonym"]: dict(row) for row in conn.execute(select(table)).mappings()}
    for n in range(len(TRICKY)):
        got, expected = rows[f"copy-{n}"], rows[f"insert-{n}"]
        got.pop("case_pseudonym"), expected.pop("case_pseudonym")
        assert got == expected, TRICKY[n]
        assert {key: type(value) for key, value in got.items()} == {key: type(value) for key, value in expected.items()}
    if kind == "closures":  # '' is not NULL
        assert rows["copy-1"]["forms_candidate"] == "" and rows["copy-0"]["forms_candidate"] is None
    else:
        assert rows["copy-1"]["record"]["nested"] == {"": ""} and rows["copy-1"]["supersedes_version"] is None


def test_a_value_the_copy_does_not_write_leaves_the_batch_to_the_insert(registry):
    """An integer given for a text column is the INSERT's to convert (or refuse); a naive time is refused by the
    column type, named by SQLAlchemy, as before."""
    odd = _closure("odd", "x", 1)
    odd["office"] = 7
    with registry.engine.begin() as conn:
        assert _statements(registry, lambda: store.insert_many(conn, "closures", [_closure("fine", "x", 1), odd])) \
            == ["INSERT"]
    with registry.engine.connect() as conn:
        assert conn.execute(select(tables.closures.c.office).where(tables.closures.c.case_pseudonym == "odd")) \
            .scalar_one() == "7"
    naive = _closure("naive", "x", 1)
    naive["accepted_at"] = datetime(2026, 11, 26, 10)
    with pytest.raises(StatementError, match="naive datetime"), registry.engine.begin() as conn:
        store.insert_many(conn, "closures", [naive])


def test_a_duplicate_in_a_copy_is_an_integrity_error_and_nothing_is_kept(registry):
    with registry.engine.begin() as conn:
        store.insert_many(conn, "closures", [_closure("twice", "x", 1)])
    with pytest.raises(IntegrityError), registry.engine.begin() as conn:
        store.insert_many(conn, "closures", [_closure("once", "x", 1), _closure("twice", "x", 2)])
    with registry.engine.connect() as conn:
        assert conn.execute(select(tables.closures.c.case_pseudonym)).scalars().all() == ["twice"]


def test_the_change_feed_numbers_a_batch_in_the_order_given(registry):
    """On PostgreSQL the batch's changes go as arrays: each row still gets its own sequence number, rising in the
    order given (a closure's row then names its own change)."""
    at = datetime(2026, 11, 26, 10, tzinfo=UTC)
    rows = [{"case_pseudonym": f"case-{n}", "change": ("closed", "corrected")[n % 2], "version": n % 3 or None,
             "at": at + timedelta(seconds=n)} for n in (5, 3, 9, 0, 7, 1, 8, 2, 6, 4)]
    with registry.engine.begin() as conn:
        first = store.record_changes(conn, rows[:1])
        seqs = store.record_changes(conn, rows)
    assert seqs == sorted(seqs) and len(set(seqs)) == len(rows) and seqs[0] > first[0]
    with registry.engine.connect() as conn:
        kept = {row.seq: row for row in conn.execute(select(tables.changes))}
    for seq, row in zip(seqs, rows, strict=True):
        assert {key: getattr(kept[seq], key) for key in row} == row
