"""Database engines for SQLite (embedded default) and PostgreSQL (production).

Each service owns one database and one `MetaData`; the platform's own tables (directory, outbox, inbox) are
added to it by `shared.directory.define_tables` and `shared.bus.store.define_tables`.
"""
from __future__ import annotations

import hashlib
import re
import select as io_select
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import bindparam, create_engine, event
from sqlalchemy.engine import Engine, IteratorResult
from sqlalchemy.engine.result import SimpleResultMetaData
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import BindParameter
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
    engine = create_engine(url, **kwargs)
    _drop_connections_closed_by_the_server(engine)
    event.listen(engine, "before_cursor_execute", _execute_prepared, retval=True)
    return engine


def prepared(statement):
    """`statement` marked to be planned once per connection on PostgreSQL (PREPARE, then EXECUTE), for the hottest
    statements of a request, whose parsing and planning cost the server more than running them. Elsewhere, or with a
    server-side pooler that drops session state, it runs as is. Executed with `conn.execute` as any statement; on
    PostgreSQL it is also compiled once and sent as its SQL text (`_DriverStatement`)."""
    return PreparedStatement(statement.execution_options(prepared=True))


class PreparedStatement:
    """A `prepared` statement: `conn.execute(it, parameters)` as for the statement itself, which `statement` holds.

    On psycopg2 a hot statement is compiled once and sent as its SQL text with its parameters, inside a transaction
    on a cursor of its own (`_DriverStatement.read`; outside one through `exec_driver_sql`), with the PREPARE, the
    cursor events and SQLAlchemy's errors as before: SQLAlchemy would otherwise build its cache key by walking the
    statement, run every parameter through its compiled form and build an execution context on every execution,
    together more CPU than a closure's own validation. Anything that needs more of an execution runs as is."""

    def __init__(self, statement):
        self.statement = statement
        self._direct: dict = {}  # dialect -> _DriverStatement, or None where it cannot be used

    def driver_statement(self, dialect):
        """The `_DriverStatement` for `dialect`, or None."""
        direct = self._direct.get(dialect, False)
        if direct is False:
            direct = self._direct[dialect] = _DriverStatement.of(self.statement, dialect)
        return direct

    def _execute_on_connection(self, connection, distilled_params, execution_options):
        if len(distilled_params) == 1 and not execution_options:
            direct = self.driver_statement(connection.dialect)
            if direct is not None and direct.takes(distilled_params[0]):
                if direct.returns_rows and connection.in_transaction():
                    return direct.read(connection, distilled_params[0])
                return direct.execute(connection, distilled_params[0])
        return self.statement._execute_on_connection(connection, distilled_params, execution_options)


_PREPARED_OPTIONS = {"prepared": True}


class _Columns:
    """The column names of a query's rows and the result metadata built from them (once per statement)."""

    def __init__(self, keys: tuple):
        self.keys, self.result_metadata = keys, SimpleResultMetaData(keys)


class _DriverStatement:
    """A statement compiled once for psycopg2: its SQL text, its parameters' names and their type conversions."""

    def __init__(self, sql: str, names: frozenset, processors: dict, returns_rows: bool):
        self.sql, self.names, self.processors, self.returns_rows = sql, names, processors, returns_rows
        self._metadata = None

    @classmethod
    def of(cls, statement, dialect):
        """None unless the compiled statement needs nothing of an execution but its parameters converted: named
        parameters each given by the caller (no defaults computed at execution, no expanding IN, no escaped
        names), and rows that come back as the driver reads them (no result type conversion)."""
        if dialect.name != "postgresql" or dialect.paramstyle != "pyformat":
            return None
        compiled = statement.compile(dialect=dialect)
        if compiled.positional or any(getattr(compiled, name, None) for name in (
                "insert_prefetch", "update_prefetch", "literal_execute_params", "post_compile_params",
                "escaped_bind_names", "schema_translate_map", "implicit_returning", "returning")):
            return None
        if any(entry.type._cached_result_processor(dialect, None) is not None
               for entry in compiled._result_columns or ()):
            return None
        names = frozenset(compiled.bind_names.values())
        if any(bind.value is not None or bind.callable is not None for bind in compiled.binds.values()):
            return None  # a value fixed in the statement: SQLAlchemy supplies it
        processors = {name: processor for name, processor in compiled._bind_processors.items() if name in names}
        return cls(compiled.string, names, processors, bool(compiled._result_columns))

    def takes(self, parameters) -> bool:
        return isinstance(parameters, dict) and parameters.keys() == self.names

    def _converted(self, parameters: dict) -> dict:
        processors = self.processors
        return {name: processors[name](value) if name in processors else value for name, value in parameters.items()}

    def execute(self, connection, parameters: dict):
        return connection.exec_driver_sql(self.sql, self._converted(parameters), _PREPARED_OPTIONS)

    def write(self, connection, parameters: dict) -> None:
        """Run a write that returns no rows inside the connection's transaction, on a cursor of its own: what
        `execute` does (PREPARE once, cursor events, a driver error raised as SQLAlchemy's, a lost connection
        invalidated) without building an execution context and a result for nothing (a tenth of a closure's CPU
        went to SQLAlchemy's execution of its two statements)."""
        self._run(connection, self._converted(parameters), fetch=False)

    def read(self, connection, parameters: dict):
        """A query's rows, as `write` runs a write: a Result of rows by the names the server gave the columns (as
        `exec_driver_sql` gives them)."""
        rows, names = self._run(connection, self._converted(parameters), fetch=True)
        metadata = self._metadata
        if metadata is None or metadata.keys != names:
            metadata = self._metadata = _Columns(names)
        return IteratorResult(metadata.result_metadata, iter(rows))

    def _run(self, connection, values: dict, fetch: bool):
        known = connection.info.setdefault("prepared_statements", {})  # as _execute_prepared keeps them
        statement = known.get(self.sql)
        fresh = statement is None
        if fresh:
            prepare, statement = prepare_and_execute(self.sql)
        dbapi_connection = connection.connection.dbapi_connection
        cursor = dbapi_connection.cursor()
        try:
            if fresh:
                cursor.execute(prepare)
                known[self.sql] = statement
            for listener in connection.dispatch.before_cursor_execute:  # _execute_prepared: no context, no change
                statement, values = listener(connection, cursor, statement, values, None, False)
            cursor.execute(statement, values)
            for listener in connection.dispatch.after_cursor_execute:
                listener(connection, cursor, statement, values, None, False)
            if fetch:
                return cursor.fetchall(), tuple(column[0] for column in cursor.description)
            return None
        except connection.dialect.loaded_dbapi.Error as error:
            lost = connection.dialect.is_disconnect(error, dbapi_connection, cursor)
            if lost:
                connection.invalidate(error)
            raise DBAPIError.instance(statement, values, error, connection.dialect.loaded_dbapi.Error,
                                      connection_invalidated=lost, dialect=connection.dialect) from error
        finally:
            if not cursor.closed:
                cursor.close()


_PYFORMAT_PARAMETER = re.compile(r"%\(([^)]+)\)s")


def _execute_prepared(conn, cursor, statement, parameters, context, executemany):
    if executemany or context is None or not context.execution_options.get("prepared"):
        return statement, parameters
    known = conn.info.setdefault("prepared_statements", {})  # per DBAPI connection; cleared when it reconnects
    execute = known.get(statement)
    if execute is None:
        prepare, execute = prepare_and_execute(statement)
        cursor.execute(prepare)
        known[statement] = execute
    return execute, parameters


def prepare_and_execute(statement: str, prefix: str = "p_") -> tuple[str, str]:
    """For a psycopg2 statement with named parameters: (its PREPARE, the EXECUTE that runs it with the same
    parameters). The name is the statement's hash, so every connection prepares it under the same name."""
    names = []

    def positional(match):
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"
    name = prefix + hashlib.sha256(statement.encode()).hexdigest()[:24]
    prepare = f"PREPARE {name} AS " + _PYFORMAT_PARAMETER.sub(positional, statement).replace("%%", "%")
    return prepare, f"EXECUTE {name}(" + ", ".join(f"%({n})s" for n in names) + ")"


def _drop_connections_closed_by_the_server(engine: Engine) -> None:
    """A pre-ping without a round trip on every checkout (pool_pre_ping's SELECT 1 is one per request).

    An idle PostgreSQL connection has nothing to read; one the server has closed (restart, terminated backend, idle
    timeout) has its termination message or EOF waiting. Only then is the connection pinged for real, and a failed
    ping makes the pool open a fresh one, so a restarted database costs no request an error.
    """

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, _record, _proxy):
        if not dbapi_connection.closed and not io_select.select([dbapi_connection], [], [], 0)[0]:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # noqa: BLE001  (whatever the driver raises: the connection is unusable)
            raise DisconnectionError(f"connection closed by the server: {type(error).__name__}") from None


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


def execute_together(conn, *writes) -> None:
    """Run INSERT/UPDATE statements, each `(statement, parameters)`, that return nothing and touch different rows:
    in one round trip on PostgreSQL (data-modifying CTEs of one statement), one after the other elsewhere.

    The statements are the caller's prebuilt ones (an UPDATE's WHERE may hold named bind parameters, which must
    differ between the writes); the combined statement is built once per shape and then reused.
    """
    if conn.dialect.name != "postgresql" or len(writes) == 1:
        for statement, parameters in writes:
            conn.execute(statement, parameters)
        return
    shape = tuple((statement, frozenset(parameters)) for statement, parameters in writes)
    combined = _COMBINED_WRITES.get(shape)
    if combined is None:
        combined = _COMBINED_WRITES[shape] = _combine_writes(shape)
    statement, renames = combined
    parameters = {renames[i].get(name, name): value for i, (_statement, parameters) in enumerate(writes)
                  for name, value in parameters.items()}
    direct = statement.driver_statement(conn.dialect)
    if direct is not None and direct.takes(parameters) and conn.in_transaction():
        direct.write(conn, parameters)
    else:
        conn.execute(statement, parameters)


_COMBINED_WRITES: dict = {}


def _combine_writes(shape):
    """(one statement: the last write with the others as CTEs, per write {parameter: name in that statement})."""
    parts, renames, where_names = [], [], set()
    for i, (statement, names) in enumerate(shape):
        in_where = {element.key for element in visitors.iterate(statement) if isinstance(element, BindParameter)}
        if in_where & where_names:
            raise ValueError(f"writes share the WHERE parameters {sorted(in_where & where_names)}")
        where_names |= in_where
        rename = {name: f"w{i}_{name}" for name in names - in_where}
        parts.append(statement.values({name: bindparam(alias) for name, alias in rename.items()}))
        renames.append(rename)
    statement = parts[-1].add_cte(*(part.cte(f"write_{i}") for i, part in enumerate(parts[:-1])))
    return prepared(statement), renames


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
        return value.astimezone(UTC).replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)
