"""Database engines for SQLite (embedded default) and PostgreSQL (production).

Each service owns one database and one `MetaData`; the platform's own tables (directory, outbox, inbox) are
added to it by `shared.directory.define_tables` and `shared.bus.store.define_tables`.
"""
from __future__ import annotations

import uuid
from pathlib import Path
from datetime import datetime, timezone

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.types import DateTime, TypeDecorator


def make_engine(url: str, **kwargs) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        _make_sqlite_transactional(engine)
        return engine
    if "poolclass" not in kwargs:  # NullPool (migrations) takes no pool sizes
        kwargs.setdefault("pool_size", 5)
        kwargs.setdefault("max_overflow", 5)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _make_sqlite_transactional(engine: Engine) -> None:
    """pysqlite's own transaction handling breaks SAVEPOINT and delays locks; take BEGIN into our hands.

    WAL lets the web workers read while the relay or a consumer writes; busy_timeout waits for the lock
    instead of failing at once when two processes write.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # IMMEDIATE takes the write lock up front, so two writers queue instead of deadlocking on upgrade.
        # A connection marked read-only (`read_only(conn)`) begins deferred and reads beside a writer (WAL).
        if connection.get_execution_options().get("sqlite_read_only"):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def read_only(connection):
    """Mark a connection that only reads, so on SQLite it does not queue behind a writer's lock."""
    return connection.execution_options(sqlite_read_only=True)


def is_transient(error: BaseException) -> bool:
    """A failure worth retrying later (database down, connection lost, lock timeout), not a bad message."""
    if isinstance(error, OperationalError):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return False


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both SQLite (which stores naive text) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        return value.astimezone(timezone.utc).replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
