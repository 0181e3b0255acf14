"""Every SQL statement of the registry, on the caller's connection (functions take `conn` first).

The registry encrypts no field: everything it stores is already pseudonymised (keyed hashes, coarsened dates,
codes), so there is no encryption context to declare here.

The ingest's statements are built once: the hot path then skips SQLAlchemy's per-call construction and cache-key
work; the reads every message makes are also planned once per connection on PostgreSQL (shared.db.prepared).
"""
from __future__ import annotations

import io
import json
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    Integer,
    String,
    Text,
    any_,
    bindparam,
    case,
    cast,
    column,
    delete,
    func,
    insert,
    literal,
    literal_column,
    null,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError

from shared import privacy
from shared.db import UTCDateTime, prepared

from .domain.codebook import EXPORT_COLUMNS
from .tables import (
    changes,
    closures,
    consents,
    disclosure_patterns,
    download_head,
    downloads,
    log,
    platform,
    privacy_log,
    release_aliases,
    release_files,
    release_rows,
    releases,
    versions,
    waiting,
)

FETCH_ROWS = 5000  # a streamed export reads this many rows at a time

_CURRENT = prepared(select(closures.c.version).where(closures.c.case_pseudonym == bindparam("case")))
_VERSION_STORED = select(versions.c.version).where(versions.c.case_pseudonym == bindparam("case"),
                                                   versions.c.version == bindparam("version"))
_CONSENT = prepared(select(consents.c.state).where(consents.c.case_pseudonym == bindparam("case")))
_INSERT_CONSENT = insert(consents)
_UPDATE_CONSENT = update(consents).where(consents.c.case_pseudonym == bindparam("case"))
_INSERT_VERSION = insert(versions)
_INSERT_CHANGE = insert(changes)
_INSERT_CLOSURE = insert(closures)
_UPDATE_CLOSURE = update(closures).where(closures.c.case_pseudonym == bindparam("case"))
_INSERT_LOG = insert(log)
_WAITING_STORED = prepared(select(waiting.c.version).where(waiting.c.case_pseudonym == bindparam("case"),
                                                           waiting.c.version == bindparam("version")))
_INSERT_WAITING = insert(waiting)
_HELD = prepared(select(waiting).where(waiting.c.case_pseudonym == bindparam("case")).order_by(waiting.c.version))
_DELETE_HELD = delete(waiting).where(waiting.c.case_pseudonym == bindparam("case"))


# ---------------------------------------------------------------- ingest
def write_log(conn, *, at, message_id, event_type, office, outcome, reason, detail=None):
    """One row of the log: why something was not stored (codes only, no pseudonym, no id)."""
    conn.execute(_INSERT_LOG, {"at": at, "message_id": message_id, "event_type": event_type, "office": office,
                               "outcome": outcome, "reason": reason, "detail": detail})


def consent_state(conn, case_pseudonym) -> str | None:
    row = conn.execute(_CONSENT, {"case": case_pseudonym}).first()
    return row[0] if row else None


def save_consent(conn, case_pseudonym, values: dict, exists: bool):
    """Insert or update the case's consent state; `exists`: the caller has just read that a row is there."""
    if exists:
        conn.execute(_UPDATE_CONSENT, dict(values, case=case_pseudonym))
    else:
        conn.execute(_INSERT_CONSENT, dict(values, case_pseudonym=case_pseudonym))


def current_version(conn, case_pseudonym) -> int | None:
    row = conn.execute(_CURRENT, {"case": case_pseudonym}).first()
    return row[0] if row else None


def version_stored(conn, case_pseudonym, version) -> bool:
    return conn.execute(_VERSION_STORED, {"case": case_pseudonym, "version": version}).first() is not None


def insert_version(conn, values: dict):
    conn.execute(_INSERT_VERSION, values)


def record_change(conn, case_pseudonym, change, version, at) -> int:
    """One entry of the change feed; returns its sequence number (the researchers' cursor)."""
    result = conn.execute(_INSERT_CHANGE, {"case_pseudonym": case_pseudonym, "change": change, "version": version,
                                           "at": at})
    return result.inserted_primary_key[0]


def insert_closure(conn, values: dict):
    conn.execute(_INSERT_CLOSURE, values)


def update_closure(conn, case_pseudonym, values: dict):
    conn.execute(_UPDATE_CLOSURE, dict(values, case=case_pseudonym))


def waiting_stored(conn, case_pseudonym, version) -> bool:
    return conn.execute(_WAITING_STORED, {"case": case_pseudonym, "version": version}).first() is not None


def hold(conn, values: dict):
    """A closure waiting for consent (already pseudonymised)."""
    conn.execute(_INSERT_WAITING, values)


def held(conn, case_pseudonym) -> list:
    """The case's closures waiting for consent, in version order."""
    return conn.execute(_HELD, {"case": case_pseudonym}).mappings().all()


def drop_held(conn, case_pseudonym):
    conn.execute(_DELETE_HELD, {"case": case_pseudonym})


def erase_case(conn, case_pseudonym):
    """The case's current row and its history."""
    conn.execute(delete(closures).where(closures.c.case_pseudonym == case_pseudonym))
    conn.execute(delete(versions).where(versions.c.case_pseudonym == case_pseudonym))


def mark_withdrawn(conn, case_pseudonym, change_seq):
    conn.execute(update(closures).where(closures.c.case_pseudonym == case_pseudonym)
                 .values(status="withdrawn_marked", change_seq=change_seq))


def held_counts(conn, case_pseudonyms) -> dict:
    """How many current rows, versions and waiting closures the cases have (an erasure's receipt)."""
    return {name: conn.execute(select(func.count()).select_from(table)
                               .where(table.c.case_pseudonym.in_(case_pseudonyms))).scalar()
            for name, table in (("closures", closures), ("versions", versions), ("waiting", waiting))}


def waited_since(conn, cutoff) -> list:
    """(case pseudonym, version, record kind) of every closure received before `cutoff` and still waiting."""
    return conn.execute(select(waiting.c.case_pseudonym, waiting.c.version, waiting.c.record_kind)
                        .where(waiting.c.received_at < cutoff)).all()


def drop_waiting_since(conn, cutoff):
    conn.execute(delete(waiting).where(waiting.c.received_at < cutoff))


# ---------------------------------------------------------------- ingest, a batch at a time
# The batch handlers (service.ingest_closures, service.grant_consents) read what a whole batch needs in one
# statement each and write each table with one statement: a few round trips per batch instead of several per
# message. On PostgreSQL a batch's values go as arrays (and the inserts as COPY, below): the server parsed and
# planned lists of 250 parameters (1,000 for the change feed's multi-row INSERT) in more time than it ran them.
def _of_cases(*columns) -> dict:
    """A batch's read by case pseudonym, per dialect: = ANY(an array) on PostgreSQL, an expanding IN elsewhere."""
    case = columns[0].table.c.case_pseudonym
    return {"postgresql": select(*columns).where(case == any_(bindparam("cases", type_=ARRAY(Text)))),
            None: select(*columns).where(case.in_(bindparam("cases", expanding=True)))}


def _read_of_cases(conn, statements: dict, cases):
    return conn.execute(statements.get(conn.dialect.name, statements[None]), {"cases": list(cases)})


_CONSENTS_OF = _of_cases(consents.c.case_pseudonym, consents.c.state)
_CURRENT_OF = _of_cases(closures.c.case_pseudonym, closures.c.version)
_WAITING_OF = _of_cases(waiting.c.case_pseudonym, waiting.c.version)
_INSERT_CHANGES = insert(changes).returning(changes.c.seq, sort_by_parameter_order=True)
_GIVEN_CHANGES = func.unnest(*(bindparam(name, type_=ARRAY(kind)) for name, kind in (
    ("cases", Text), ("changes", Text), ("versions", Integer), ("ats", DateTime(timezone=True))))) \
    .table_valued("case_pseudonym", "change", "version", "at", with_ordinality="n").render_derived("given")
# The sequence numbers of rows inserted in the order of `n` rise in that order: sorted, they are the rows' in order
# (as SQLAlchemy's own sort_by_parameter_order takes them from PostgreSQL).
_INSERT_CHANGES_FROM_ARRAYS = insert(changes).from_select(
    ["case_pseudonym", "change", "version", "at"],
    select(_GIVEN_CHANGES.c.case_pseudonym, _GIVEN_CHANGES.c.change, _GIVEN_CHANGES.c.version, _GIVEN_CHANGES.c.at)
    .order_by(_GIVEN_CHANGES.c.n)).returning(changes.c.seq)


def consent_states(conn, cases) -> dict:
    """case pseudonym -> consent state, for those of `cases` that have one."""
    return dict(_read_of_cases(conn, _CONSENTS_OF, cases).all()) if cases else {}


def current_versions(conn, cases) -> dict:
    """case pseudonym -> the version of its current row, for those of `cases` that have one."""
    return dict(_read_of_cases(conn, _CURRENT_OF, cases).all()) if cases else {}


def waiting_versions(conn, cases) -> set:
    """(case pseudonym, version) of every closure of `cases` waiting for consent."""
    return {tuple(row) for row in _read_of_cases(conn, _WAITING_OF, cases)} if cases else set()


def write_logs(conn, rows: list[dict]):
    if rows:
        conn.execute(_INSERT_LOG, rows)


def record_changes(conn, rows: list[dict]) -> list[int]:
    """Entries of the change feed in the order given; their sequence numbers in the same order."""
    if not rows:
        return []
    if conn.dialect.name == "postgresql":
        return sorted(conn.execute(_INSERT_CHANGES_FROM_ARRAYS, {
            "cases": [row["case_pseudonym"] for row in rows], "changes": [row["change"] for row in rows],
            "versions": [row["version"] for row in rows], "ats": [row["at"] for row in rows]}).scalars())
    return list(conn.execute(_INSERT_CHANGES, rows).scalars())


_INSERTS = {"closures": _INSERT_CLOSURE, "versions": _INSERT_VERSION, "waiting": _INSERT_WAITING,
            "consents": _INSERT_CONSENT}


def insert_many(conn, kind: str, rows: list[dict]):
    """New rows of closures, versions, waiting closures or consents: one COPY on PostgreSQL, where the multi-row
    INSERT of a batch of closures (250 rows of 45 columns) cost the server ten times the COPY to parse and plan;
    one executemany elsewhere, and for rows the COPY does not take as they are."""
    if rows and not (conn.dialect.name == "postgresql" and _copy(conn, _INSERTS[kind].table, rows)):
        conn.execute(_INSERTS[kind], rows)


# COPY's text format: a tab between columns, \N for NULL, and these escaped in a text.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})
_COPY_PLANS: dict = {}


class _NotCopied(Exception):
    """A value the COPY does not write as the INSERT would: the batch goes to the INSERT."""


def _copy(conn, table, rows: list[dict]) -> bool:
    """COPY `rows` into `table` on the connection's transaction; False (nothing sent) when a column or value is not
    one it writes exactly as the INSERT would (then the INSERT runs, and raises what it raises)."""
    names = tuple(rows[0])
    plan = _COPY_PLANS.get((table, names), False)
    if plan is False:
        plan = _COPY_PLANS[table, names] = _copy_plan(conn.dialect, table, names)
    if plan is None:
        return False
    statement, encoders = plan
    tabs = len(names) - 1
    lines = []
    for row in rows:
        if len(row) != len(names):
            return False
        try:
            texts = [encode(row[name]) for name, encode in encoders]
        except (KeyError, TypeError, ValueError, _NotCopied):  # the INSERT raises its own error
            return False
        nulls = texts.count(None)
        line = "\t".join([r"\N" if text is None else text for text in texts] if nulls else texts)
        # Escaped only when the row holds something to escape (one backslash per NULL is the NULL's own).
        if line.count("\\") != nulls or line.count("\t") != tabs or "\n" in line or "\r" in line:
            line = "\t".join([r"\N" if text is None else text.translate(_COPY_ESCAPES) for text in texts])
        lines.append(line)
    lines.append("")
    _run_copy(conn, statement, "\n".join(lines))
    return True


def _run_copy(conn, statement: str, data: str) -> None:
    """As shared.db's statements on a cursor of their own: the cursor events, a driver error raised as
    SQLAlchemy's (a lost connection invalidated, so the consumer retries the batch)."""
    dbapi_connection = conn.connection.dbapi_connection
    cursor = dbapi_connection.cursor()
    try:
        for listener in conn.dispatch.before_cursor_execute:
            statement, _ = listener(conn, cursor, statement, None, None, False)
        cursor.copy_expert(statement, io.StringIO(data), size=1 << 20)
        for listener in conn.dispatch.after_cursor_execute:
            listener(conn, cursor, statement, None, None, False)
    except conn.dialect.loaded_dbapi.Error as error:
        lost = conn.dialect.is_disconnect(error, dbapi_connection, cursor)
        if lost:
            conn.invalidate(error)
        raise DBAPIError.instance(statement, None, error, conn.dialect.loaded_dbapi.Error,
                                  connection_invalidated=lost, dialect=conn.dialect) from error
    finally:
        if not cursor.closed:
            cursor.close()


def _copy_plan(dialect, table, names):
    """(the COPY statement, per column: name, its encoder), or None when a column is not the table's, a column left
    out has a default computed in Python, or a column's type is not one of those written here."""
    if not set(names) <= set(table.c.keys()) or any(
            column.default is not None for column in table.c if column.key not in names):
        return None
    encoders = []
    for name in names:
        encode = _copy_encoder(dialect, table.c[name].type)
        if encode is None:
            return None
        encoders.append((name, encode))
    quote = dialect.identifier_preparer.quote
    statement = f"COPY {quote(table.name)} ({', '.join(quote(table.c[name].name) for name in names)}) FROM STDIN"
    return statement, encoders


def _copy_encoder(dialect, column_type):
    """A function giving the text COPY reads (before escaping) for a value of `column_type` as the INSERT would
    store it, None for NULL; it raises _NotCopied for a value of another type. None for another column type."""
    if isinstance(column_type, JSON):
        serialise = dialect._json_serializer or json.dumps
        if column_type.none_as_null:
            return lambda value: None if value is None else serialise(value)
        return serialise  # None too: the INSERT stores JSON null
    kind = (UTCDateTime if isinstance(column_type, UTCDateTime) else Boolean if isinstance(column_type, Boolean)
            else Integer if isinstance(column_type, Integer)
            else String if isinstance(column_type, String) and not isinstance(column_type, Enum) else None)
    return {UTCDateTime: _copy_time, Boolean: _copy_boolean, Integer: _copy_integer, String: _copy_text}.get(kind)


def _copy_text(value):
    if type(value) is str or value is None:
        return value
    raise _NotCopied


def _copy_integer(value):
    if type(value) is int:  # not a bool
        return str(value)
    if value is None:
        return None
    raise _NotCopied


def _copy_boolean(value):
    if type(value) is bool:
        return "t" if value else "f"
    if value is None:
        return None
    raise _NotCopied


def _copy_time(value):
    if type(value) is datetime and value.tzinfo is not None:  # a naive one the column type refuses
        return value.isoformat()
    if value is None:
        return None
    raise _NotCopied


def update_consents(conn, rows: list[dict]):
    """Consent states of cases that have one: each row {case, state, data_policy, effective_at, updated_at}."""
    if rows:
        conn.execute(_UPDATE_CONSENT, rows)


# ---------------------------------------------------------------- rebuild (handlers.rebuild)
_REBUILT = (closures, versions, waiting, consents, changes)


def lock_ingest(conn):
    """PostgreSQL: no other writer (a consumer left running) until the rebuild commits; researchers still read the
    old rows meanwhile. SQLite's write lock already does this."""
    if conn.dialect.name == "postgresql":
        names = ", ".join(table.name for table in _REBUILT)
        conn.exec_driver_sql(f"LOCK TABLE {names} IN EXCLUSIVE MODE")


def erasures_noticed(conn) -> set:
    """Case pseudonyms the change feed reports as erased."""
    return set(conn.execute(select(changes.c.case_pseudonym).where(changes.c.change == "withdrawn_erased"))
               .scalars())


def erased_cases(conn) -> set:
    """Case pseudonyms the registry erased (a withdrawal or an erasure under the `erase` policy): they must stay
    gone."""
    erased = erasures_noticed(conn)
    erased.update(conn.execute(select(consents.c.case_pseudonym).where(consents.c.state == "withdrawn",
                                                                        consents.c.data_policy == "erase")).scalars())
    return erased


def clear_ingest(conn, keep_sequence_above: int, at):
    """Empty the tables the ingest fills. A placeholder change keeps the change feed's numbers above every earlier
    one (SQLite reuses the highest free rowid); `drop_placeholder` removes it before the commit."""
    for table in _REBUILT:
        conn.execute(delete(table))
    if keep_sequence_above:
        conn.execute(insert(changes), {"seq": keep_sequence_above, "case_pseudonym": "", "change": "rebuild",
                                       "version": None, "at": at})


def drop_placeholder(conn, seq: int):
    conn.execute(delete(changes).where(changes.c.seq == seq, changes.c.change == "rebuild"))


def cases_holding_data(conn, cases) -> set:
    """Those of `cases` with a current row, a version or a waiting closure."""
    found = set()
    cases = list(cases)
    for start in range(0, len(cases), 1000):
        part = cases[start:start + 1000]
        for table in (closures, versions, waiting):
            found.update(conn.execute(select(table.c.case_pseudonym).where(table.c.case_pseudonym.in_(part)))
                         .scalars())
    return found


def log_mark(conn) -> tuple:
    """Where the logs stand: (the log's highest id, the privacy log's ids), so that what a replay writes there can
    be taken out again (the logs record what happened when, once)."""
    return (conn.execute(select(func.coalesce(func.max(log.c.id), 0))).scalar_one(),
            set(conn.execute(select(privacy_log.c.id)).scalars()))


def drop_logs_after(conn, mark: tuple):
    highest, privacy_ids = mark
    conn.execute(delete(log).where(log.c.id > highest))
    added = set(conn.execute(select(privacy_log.c.id)).scalars()) - privacy_ids
    if added:
        conn.execute(delete(privacy_log).where(privacy_log.c.id.in_(sorted(added))))


def release_state(conn):
    """Every release, file part and release row as stored, one at a time (a rebuild must leave them exactly so)."""
    for table in (releases, release_files, release_rows):
        query = select(table).order_by(*table.primary_key.columns).execution_options(yield_per=100)
        for row in conn.execute(query):
            yield tuple(row)


def count_rows(conn, name: str) -> int:
    table = {"closures": closures, "versions": versions, "waiting": waiting, "consents": consents,
             "changes": changes}[name]
    return conn.execute(select(func.count()).select_from(table)).scalar_one()


def mark_processed(conn, consumer: str, seen: list[tuple], at):
    """Inbox rows for replayed messages the inbox lacks (message_id, event_type): a delivery of one of them still
    in a queue is then a no-op."""
    inbox = platform["inbox"]
    have = set(conn.execute(select(inbox.c.message_id).where(inbox.c.consumer == consumer)).scalars())
    rows = [{"consumer": consumer, "message_id": message_id, "event_type": event_type, "processed_at": at}
            for message_id, event_type in seen if message_id not in have]
    if rows:
        conn.execute(insert(inbox), rows)
    return len(rows)


# ---------------------------------------------------------------- privacy
def record_privacy(conn, **entry) -> dict:
    """One row of the registry's privacy log (shared.privacy.record's fields)."""
    return privacy.record(conn, privacy_log, **entry)


def retention_steps() -> list:
    """Everything the research holds (the log, codes only, stays): shared.privacy's deletion steps."""
    return [(name, table, true()) for name, table in (("closures", closures), ("versions", versions),
                                                      ("waiting", waiting), ("consents", consents),
                                                      ("changes", changes), ("release_rows", release_rows),
                                                      ("release_aliases", release_aliases),
                                                      ("release_files", release_files), ("releases", releases))]


# ---------------------------------------------------------------- researchers
def newest_change(conn) -> int:
    return conn.execute(select(func.coalesce(func.max(changes.c.seq), 0))).scalar_one()


def export_query(after: int, upto: int):
    """The export's SELECT: fixed columns from the codebook, booleans as true/false on both databases."""
    columns = []
    for name in EXPORT_COLUMNS:
        column = closures.c[name]
        if name == "mentor_measure_used":
            column = case((column.is_(True), "true"), else_="false").label(name)
        columns.append(column)
    return (select(*columns).where(closures.c.change_seq > after, closures.c.change_seq <= upto)
            .order_by(closures.c.change_seq))


def export_copy_sql(dialect, after, upto) -> str:
    """PostgreSQL: the export as one `COPY ... TO STDOUT` (CSV with a header), its bounds inlined as integers."""
    compiled = export_query(int(after), int(upto)).compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    return f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv, HEADER true)"


def export_rows(conn, after, upto):
    """The export's rows through a streaming cursor, FETCH_ROWS at a time (constant memory)."""
    # Options on the statement, not the connection: a caller's later statements on it stay ordinary.
    result = conn.execute(export_query(after, upto).execution_options(stream_results=True, yield_per=FETCH_ROWS))
    for partition in result.partitions(FETCH_ROWS):
        yield from partition


def changes_since(conn, after: int, limit: int) -> list[dict]:
    query = (select(changes.c.seq, changes.c.case_pseudonym, changes.c.change, changes.c.version)
             .where(changes.c.seq > after).order_by(changes.c.seq).limit(limit))
    return [dict(r) for r in conn.execute(query).mappings()]


def _filtered(query, office=None, county=None, lowest=None, highest=None):
    """The rows of a filter set: `lowest`/`highest` are stored periods (domain.periods.filter_bounds)."""
    if office:
        query = query.where(closures.c.office == office)
    if county:
        query = query.where(closures.c.county == county)
    if lowest:
        query = query.where(closures.c.closed_period >= lowest)
    if highest:
        query = query.where(closures.c.closed_period <= highest)
    return query


def _year():
    return func.substr(closures.c.closed_period, 1, 4)  # the calendar year of closure, whatever the coarsening


def _counted(name, source):
    """A counted variable as SQL (domain.reports.counted_variables): a column, or yes/no for a code in a packed
    list (NULL, unknown, counts as no)."""
    if source is None:
        return closures.c[name]
    column_name, code = source
    # Literals, not parameters, so that the same expression in SELECT and GROUP BY is one to PostgreSQL; the code is
    # a vocabulary's (shared.vocab), never input.
    packed = literal_column("';'") + closures.c[column_name] + literal_column("';'")
    return case((packed.like(literal_column(f"'%;{code};%'")), literal_column("'yes'")), else_=literal_column("'no'"))


def inner_counts(conn, variables: dict, filters: dict) -> tuple[dict, dict, dict]:
    """The inner cells of a filter set: {(variable, code, (office, year)): n} for each variable ({name: source},
    domain.reports.counted_variables), and {(office, year): number of cases}; plus {office: county} of the
    offices counted."""
    counts, counties_of = {}, {}
    year = _year().label("year")
    for name, source in variables.items():
        variable = _counted(name, source)
        query = _filtered(select(variable.label("code"), closures.c.office, closures.c.county, year,
                                 func.count().label("n")), **filters)
        for r in conn.execute(query.group_by(variable, closures.c.office, closures.c.county, year)):
            counts[(name, r.code, (r.office, r.year))] = r.n
            counties_of[r.office] = r.county
    cases = {}
    query = _filtered(select(closures.c.office, year, func.count().label("n")), **filters)
    for r in conn.execute(query.group_by(closures.c.office, year)):
        cases[(r.office, r.year)] = r.n
    return counts, cases, counties_of


def table1_rows(conn, columns, filters: dict) -> list[dict]:
    query = _filtered(select(*[closures.c[c] for c in columns]), **filters)
    query = query.order_by(closures.c.office, closures.c.case_pseudonym)
    return [dict(r) for r in conn.execute(query).mappings()]


def counties(conn) -> list[dict]:
    """The directory's counties (shared.directory.Directory has offices and users, not counties)."""
    return [dict(r) for r in conn.execute(select(platform["counties"])).mappings()]


# ---------------------------------------------------------------- releases
def newest_release(conn) -> dict | None:
    """The newest version of the newest release number."""
    row = conn.execute(select(releases).order_by(releases.c.number.desc(), releases.c.version.desc())
                       .limit(1)).mappings().first()
    return dict(row) if row else None


def release(conn, release_id) -> dict | None:
    row = conn.execute(select(releases).where(releases.c.id == release_id)).mappings().first()
    return dict(row) if row else None


def all_releases(conn, offset: int = 0, limit: int | None = None) -> list[dict]:
    """Newest first; a page of them with offset and limit."""
    query = (select(releases).order_by(releases.c.number.desc(), releases.c.version.desc())
             .offset(offset).limit(limit))
    return [dict(r) for r in conn.execute(query).mappings()]


def count_releases(conn) -> int:
    return conn.execute(select(func.count()).select_from(releases)).scalar()


PART_BYTES = 1 << 20  # a release file is stored (and served) in parts of this size: psycopg2 sends a part as
# hex text, so a cut holds a few copies of one part


def _packed(content: bytes) -> tuple[bytes, str | None]:
    """A part as stored: zlib's fastest level where that makes it smaller (the JSON and CSV to a tenth: sending,
    logging and keeping half a gigabyte of parts was a third of a 100,000-case cut), else as it is (Parquet)."""
    packed = zlib.compress(content, 1)
    return (packed, "zlib") if len(packed) < len(content) else (content, None)


def _parts(path):
    """A file's parts (at least one, empty for an empty file)."""
    with open(path, "rb") as handle:
        content = handle.read(PART_BYTES)
        yield content
        while len(content) == PART_BYTES:
            content = handle.read(PART_BYTES)
            if not content:
                return
            yield content


def insert_release(conn, values: dict, files: dict):
    """The release's record and its files ({name: path}, read and stored part by part). The next part is
    compressed in a thread while the database stores the one before (zlib lets go of the GIL)."""
    conn.execute(insert(releases), values)
    parts = ((name, number, content) for name, path in files.items() for number, content in enumerate(_parts(path)))
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = None
        for name, number, content in parts:
            packing = pool.submit(_packed, content)
            if pending:
                _store_part(conn, values["id"], *pending[:2], *pending[2].result())
            pending = (name, number, packing)
        if pending:
            _store_part(conn, values["id"], *pending[:2], *pending[2].result())


def _store_part(conn, release_id, name, part, stored, compression):
    conn.execute(insert(release_files), {"release_id": release_id, "name": name, "part": part, "content": stored,
                                         "deleted_at": None, "compression": compression})


def _export_object(dialect_name: str):
    """The export row as one JSON object built by the database (json_build_object / json_object: 2 arguments a
    column, within both databases' limit of 100 while the export has fewer than 50 columns)."""
    arguments = []
    for name in EXPORT_COLUMNS:
        column = closures.c[name]
        if name == "mentor_measure_used":
            column = case((column.is_(True), "true"), else_="false")
        arguments += [cast(literal_column(f"'{name}'"), Text), column]
    build = func.json_build_object if dialect_name == "postgresql" else func.json_object
    return build(*arguments)


def insert_release_rows(conn, number: int, upto: int) -> None:
    """The rows a new release number is cut from: every current row at the cursor, as the export has it, copied
    by one INSERT ... SELECT (no row passes through Python)."""
    query = select(literal(number, Integer), closures.c.case_pseudonym, _export_object(conn.dialect.name),
                   null()).where(closures.c.change_seq <= upto)
    conn.execute(insert(release_rows).from_select(["number", "case_pseudonym", "row", "erased_from"], query))
    if conn.dialect.name == "postgresql":
        # Counted at once (inside the cut's transaction): without statistics the planner reads the new 100,000 rows
        # in one process, with them in parallel workers, which halves the COPY that reads them back for the files.
        conn.exec_driver_sql(f"ANALYZE {release_rows.name}")


def _kept_rows(query, number):
    return (query.where(release_rows.c.number == number, release_rows.c.erased_from.is_(None))
            .order_by(release_rows.c.case_pseudonym))


def release_row_batches(conn, number, size: int = FETCH_ROWS):
    """The rows of a release number that no erasure took, in pseudonym order, `size` at a time (lists of dicts)."""
    query = _kept_rows(select(release_rows.c.row), number).execution_options(stream_results=True, yield_per=size)
    for partition in conn.execute(query).partitions(size):
        yield [r[0] for r in partition]


def release_column_batches(conn, number, names, size: int = FETCH_ROWS):
    """The same rows in the same order, `size` at a time, column by column: {name: [text per row]}, None where a
    row lacks the name or the value is null (numbers as text too). A cut on PostgreSQL reads them with
    `release_rows_copy_sql` instead."""
    for batch in release_row_batches(conn, number, size):
        yield {name: [None if row.get(name) is None else str(row[name]) for row in batch] for name in names}


def release_rows_copy_sql(conn, number, names) -> str:
    """PostgreSQL: the same rows in the same order as one `COPY ... TO STDOUT` in the text format (tab-separated,
    \\N for null), the database parsing each row's JSON once into the columns `names` (numbers as text)."""
    fields = func.json_to_record(release_rows.c.row).table_valued(*[column(name, Text) for name in names],
                                                                  joins_implicitly=True).render_derived(
        name="export_row", with_types=True)
    query = _kept_rows(select(*[fields.c[name] for name in names]).select_from(release_rows, fields), int(number))
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    return f"COPY ({compiled}) TO STDOUT"


def release_file_parts(conn, release_id, name) -> list[int] | None:
    """The part numbers of a file, None when there is no such file, [] when an erasure deleted it."""
    rows = conn.execute(select(release_files.c.part, release_files.c.content.is_(None).label("deleted"))
                        .where(release_files.c.release_id == release_id, release_files.c.name == name)
                        .order_by(release_files.c.part)).all()
    if not rows:
        return None
    return [] if any(r.deleted for r in rows) else [r.part for r in rows]


def release_file_part(conn, release_id, name, part) -> bytes:
    content, compression = conn.execute(select(release_files.c.content, release_files.c.compression).where(
        release_files.c.release_id == release_id, release_files.c.name == name,
        release_files.c.part == part)).one()
    return zlib.decompress(content) if compression == "zlib" else bytes(content)


def release_rows_of(conn, number) -> list[dict]:
    """The rows of a release number that no erasure took, in pseudonym order."""
    query = (select(release_rows.c.row).where(release_rows.c.number == number, release_rows.c.erased_from.is_(None))
             .order_by(release_rows.c.case_pseudonym))
    return [r[0] for r in conn.execute(query)]


def erased_from(conn, release_id) -> list[str]:
    """The pseudonyms whose erasure withdrew this release version."""
    query = (select(release_rows.c.case_pseudonym).where(release_rows.c.erased_from == release_id)
             .order_by(release_rows.c.case_pseudonym))
    return list(conn.execute(query).scalars())


def release_cases(conn, number) -> set:
    """Every case a release number had, erased ones included (their pseudonyms are errata)."""
    return set(conn.execute(select(release_rows.c.case_pseudonym).where(release_rows.c.number == number)).scalars())


def changes_between(conn, after: int, upto: int) -> list[dict]:
    query = (select(changes.c.seq, changes.c.case_pseudonym, changes.c.change).where(changes.c.seq > after,
                                                                                     changes.c.seq <= upto)
             .order_by(changes.c.seq))
    return [dict(r) for r in conn.execute(query).mappings()]


def erase_from_releases(conn, case_pseudonym, at) -> list[str]:
    """An erased case leaves every release: its rows go (under today's pseudonym, and under the pseudonyms of
    releases cut before a rebuild with a new secret: release_aliases), and the files of the newest version of each
    release number that had it are deleted (the record and manifest stay); that version becomes `withdrawn` until
    it is re-cut. Returns the ids of those versions."""
    names = [case_pseudonym, *conn.execute(select(release_aliases.c.release_pseudonym).where(
        release_aliases.c.case_pseudonym == case_pseudonym)).scalars()]
    conn.execute(delete(release_aliases).where(release_aliases.c.case_pseudonym == case_pseudonym))
    numbers = list(conn.execute(select(release_rows.c.number).where(
        release_rows.c.case_pseudonym.in_(names), release_rows.c.erased_from.is_(None))).scalars())
    if not numbers:
        return []
    affected = {r.number: r.id for r in conn.execute(select(releases.c.number, releases.c.id).where(
        releases.c.number.in_(numbers), releases.c.status.in_(("published", "withdrawn"))))}
    for number, release_id in affected.items():
        conn.execute(update(release_rows).where(release_rows.c.number == number,
                                                release_rows.c.case_pseudonym.in_(names))
                     .values(row=None, erased_from=release_id))
    affected = list(affected.values())
    conn.execute(update(release_files).where(release_files.c.release_id.in_(affected),
                                             release_files.c.content.is_not(None))
                 .values(content=None, deleted_at=at))
    conn.execute(update(releases).where(releases.c.id.in_(affected)).values(status="withdrawn"))
    return affected


def rekey_release_cases(conn, renamed: dict) -> dict:
    """After a rebuild under a new secret (`renamed`: each replayed case's pseudonym under the previous secret ->
    under the new one): every release row not erased is linked to its case's new pseudonym (release_aliases; an
    alias of an earlier rebuild is carried on), the rows themselves untouched. Returns the counts: cases linked,
    and release cases no replayed event named (an erasure could not find them)."""
    aliases = dict(conn.execute(select(release_aliases.c.release_pseudonym, release_aliases.c.case_pseudonym)).all())
    kept = set(conn.execute(select(release_rows.c.case_pseudonym).where(release_rows.c.erased_from.is_(None))
                            .distinct()).scalars())
    linked, lost = {}, 0
    for name in kept:
        today = aliases.get(name, name)  # its pseudonym under the previous secret
        if today in renamed:
            linked[name] = renamed[today]
        else:
            lost += 1
    conn.execute(delete(release_aliases))
    rows = [{"release_pseudonym": name, "case_pseudonym": now} for name, now in sorted(linked.items())]
    for start in range(0, len(rows), 5000):
        conn.execute(insert(release_aliases), rows[start:start + 5000])
    return {"release_cases_linked": len(linked), "release_cases_not_replayed": lost}


def withdrawn_releases(conn) -> list[dict]:
    return [dict(r) for r in conn.execute(select(releases).where(releases.c.status == "withdrawn")
                                          .order_by(releases.c.number)).mappings()]


def set_release_status(conn, release_id, status):
    conn.execute(update(releases).where(releases.c.id == release_id).values(status=status))


# ---------------------------------------------------------------- the download log (a hash chain)
def download_head_for_update(conn) -> dict:
    """The chain's head, created if absent and locked: it serialises writers."""
    query = select(download_head.c.seq, download_head.c.hash).where(download_head.c.id == 1)
    row = conn.execute(query.with_for_update()).mappings().first()
    if row is None:
        conn.execute(insert(download_head), {"id": 1, "seq": 0, "hash": "0" * 64})
        row = conn.execute(query.with_for_update()).mappings().first()
    return dict(row)


def download_head_row(conn) -> dict | None:
    row = conn.execute(select(download_head.c.seq, download_head.c.hash)).mappings().first()
    return dict(row) if row else None


def append_download(conn, entry: dict):
    conn.execute(insert(downloads), entry)
    conn.execute(update(download_head).where(download_head.c.id == 1).values(seq=entry["seq"], hash=entry["hash"]))


def download_log(conn) -> list[dict]:
    return [dict(r) for r in conn.execute(select(downloads).order_by(downloads.c.seq)).mappings()]


def downloaders(conn, release_ids) -> list[str]:
    """Who downloaded any file of these releases (the researchers to tell of an erasure)."""
    query = (select(downloads.c.researcher).where(downloads.c.release_id.in_(release_ids)).distinct()
             .order_by(downloads.c.researcher))
    return list(conn.execute(query).scalars())


# ---------------------------------------------------------------- kept suppression patterns
def disclosure_pattern(conn, scope: str, digest: str):
    """The kept pattern's row (cursor, started_at, hidden: None while being searched), or None."""
    return conn.execute(select(disclosure_patterns.c.cursor, disclosure_patterns.c.started_at,
                               disclosure_patterns.c.hidden)
                        .where(disclosure_patterns.c.scope == scope, disclosure_patterns.c.digest == digest)).first()


def claim_disclosure_pattern(conn, scope: str, digest: str, cursor: int, now, stale_before) -> bool:
    """Take the search of a pattern: insert its claim row, or take over a claim started before `stale_before` (its
    worker died). False if another worker holds it; the caller's transaction then has failed (IntegrityError)."""
    taken = conn.execute(update(disclosure_patterns)
                         .where(disclosure_patterns.c.scope == scope, disclosure_patterns.c.digest == digest,
                                disclosure_patterns.c.hidden.is_(None),
                                disclosure_patterns.c.started_at < stale_before)
                         .values(started_at=now, cursor=cursor)).rowcount
    if taken:
        return True
    conn.execute(insert(disclosure_patterns).values(scope=scope, digest=digest, cursor=cursor, started_at=now,
                                                     hidden=null()))
    return True


def keep_disclosure_pattern(conn, scope: str, digest: str, cursor: int, hidden: list) -> None:
    """Store a searched pattern; a live one drops the live patterns of older data versions."""
    conn.execute(update(disclosure_patterns)
                 .where(disclosure_patterns.c.scope == scope, disclosure_patterns.c.digest == digest)
                 .values(hidden=hidden, cursor=cursor))
    if scope == "live":
        conn.execute(delete(disclosure_patterns).where(disclosure_patterns.c.scope == "live",
                                                       disclosure_patterns.c.cursor < cursor))


def touch_disclosure_pattern(conn, scope: str, digest: str, cursor: int) -> None:
    """A kept pattern still right for a newer data version (its filter set's counts unchanged) moves up to it."""
    conn.execute(update(disclosure_patterns)
                 .where(disclosure_patterns.c.scope == scope, disclosure_patterns.c.digest == digest,
                        disclosure_patterns.c.cursor < cursor)
                 .values(cursor=cursor))


def renew_disclosure_claim(conn, scope: str, digest: str, now) -> None:
    """The searching process is still at it: its claim's age starts again (a slow search is not taken over)."""
    conn.execute(update(disclosure_patterns)
                 .where(disclosure_patterns.c.scope == scope, disclosure_patterns.c.digest == digest,
                        disclosure_patterns.c.hidden.is_(None))
                 .values(started_at=now))


def drop_disclosure_claim(conn, scope: str, digest: str) -> None:
    conn.execute(delete(disclosure_patterns).where(disclosure_patterns.c.scope == scope,
                                                   disclosure_patterns.c.digest == digest,
                                                   disclosure_patterns.c.hidden.is_(None)))
