"""shared.db against real SQLite and PostgreSQL: writes sent together, and pooled connections the server has closed."""
import time

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, bindparam, create_engine, event, select, text
from sqlalchemy.exc import IntegrityError

from shared.db import execute_together, make_engine, prepared
from tests.fixtures.db import PG_ADMIN_URL

metadata = MetaData()
items = Table("t_items", metadata, Column("id", String(36), primary_key=True), Column("count", Integer),
              Column("data", JSON))
notes = Table("t_notes", metadata, Column("id", String(36), primary_key=True), Column("item_id", String(36)),
              Column("data", JSON))
ITEM_UPDATE = items.update().where(items.c.id == bindparam("item_key"))
NOTE_INSERT = notes.insert()


def _statements(engine):
    seen = []
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2].split()[0]))
    return seen  # SQLite's BEGIN IMMEDIATE is a statement too (shared.db takes BEGIN into its own hands there)


def test_writes_together_land_in_one_round_trip_on_postgresql(db_url):
    engine = make_engine(db_url)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(items.insert(), {"id": "a", "count": 1, "data": {"v": 1}})
        seen = _statements(engine)
        for n in (2, 3):  # the second time reuses the combined statement built the first time
            with engine.begin() as conn:
                execute_together(conn, (ITEM_UPDATE, {"item_key": "a", "count": n, "data": {"v": n}}),
                                 (NOTE_INSERT, {"id": f"n{n}", "item_id": "a", "data": {"note": "50% ferdig"}}))
        writes = [word for word in seen if word != "BEGIN"]
        # PostgreSQL: one statement (data-modifying CTEs), prepared on the connection the first time.
        assert writes == (["EXECUTE", "EXECUTE"] if db_url.startswith("postgresql") else ["UPDATE", "INSERT"] * 2)
        with engine.connect() as conn:
            assert conn.execute(select(items.c.count, items.c.data)).one() == (3, {"v": 3})
            assert conn.execute(select(notes.c.id, notes.c.data).order_by(notes.c.id)).all() == [
                ("n2", {"note": "50% ferdig"}), ("n3", {"note": "50% ferdig"})]
        # A failing write undoes the others: they are one transaction (and on PostgreSQL one statement).
        with pytest.raises(IntegrityError), engine.begin() as conn:
            execute_together(conn, (ITEM_UPDATE, {"item_key": "a", "count": 9}),
                             (NOTE_INSERT, {"id": "n3", "item_id": "a", "data": None}))
        with engine.connect() as conn:
            assert conn.execute(select(items.c.count)).scalar() == 3
    finally:
        engine.dispose()


def test_writes_sharing_a_where_parameter_are_refused(pg_url):
    engine = make_engine(pg_url)
    try:
        metadata.create_all(engine)
        with pytest.raises(ValueError, match="item_key"), engine.begin() as conn:
            execute_together(conn, (ITEM_UPDATE, {"item_key": "a", "count": 1}),
                             (ITEM_UPDATE, {"item_key": "b", "count": 2}))
    finally:
        engine.dispose()


def test_a_pooled_connection_is_checked_without_a_round_trip_and_replaced_once_the_server_closed_it(pg_url,
                                                                                                   monkeypatch):
    engine = make_engine(pg_url)
    pings = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping",
                        lambda dbapi_connection: pings.append(1) or real_ping(dbapi_connection))
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            first = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        with engine.connect() as conn:  # the same pooled connection, healthy: no ping
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() == first
        assert pings == []
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
            deadline = time.time() + 10
            while conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": first}).scalar():
                assert time.time() < deadline, "the backend did not end"
                time.sleep(0.05)
        with engine.connect() as conn:  # no error for the caller: a fresh connection in its place
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != first
        assert pings == [1]
    finally:
        admin.dispose()
        engine.dispose()


def test_a_prepared_statement_is_planned_once_per_connection_and_again_after_a_reconnect(db_url):
    engine = make_engine(db_url)
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    by_id = prepared(select(items.c.count, items.c.data).where(items.c.id == bindparam("item_id")))
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(items.insert(), [{"id": "a", "count": 1, "data": {"v": "50%"}},
                                          {"id": "b", "count": 2, "data": None}])
        postgres = db_url.startswith("postgresql")
        for _attempt in range(2):
            with engine.connect() as conn:
                assert conn.execute(by_id, {"item_id": "a"}).one() == (1, {"v": "50%"})
                assert conn.execute(by_id, {"item_id": "b"}).one() == (2, None)
                assert conn.execute(by_id, {"item_id": "x"}).first() is None
                if postgres:
                    assert conn.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar() == 1
                    pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
            if postgres:  # the server ends the session (and its prepared statements): the next one prepares anew
                with admin.connect() as conn:
                    conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                    while conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                                       {"pid": pid}).scalar():
                        time.sleep(0.05)
    finally:
        admin.dispose()
        engine.dispose()
