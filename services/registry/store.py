"""Every SQL statement of the registry, on the caller's connection (functions take `conn` first).

The registry encrypts no field: everything it stores is already pseudonymised (keyed hashes, coarsened dates,
codes), so there is no encryption context to declare here.

The ingest's statements are built once: the hot path then skips SQLAlchemy's per-call construction and cache-key
work; the reads every message makes are also planned once per connection on PostgreSQL (shared.db.prepared).
"""
from __future__ import annotations

from sqlalchemy import bindparam, case, delete, func, insert, select, true, update

from shared import privacy
from shared.db import prepared

from .domain.codebook import EXPORT_COLUMNS
from .tables import changes, closures, consents, log, platform, privacy_log, versions, waiting

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


# ---------------------------------------------------------------- privacy
def record_privacy(conn, **entry) -> dict:
    """One row of the registry's privacy log (shared.privacy.record's fields)."""
    return privacy.record(conn, privacy_log, **entry)


def retention_steps() -> list:
    """Everything the research holds (the log, codes only, stays): shared.privacy's deletion steps."""
    return [(name, table, true()) for name, table in (("closures", closures), ("versions", versions),
                                                      ("waiting", waiting), ("consents", consents),
                                                      ("changes", changes))]


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
    result = conn.execution_options(stream_results=True, yield_per=FETCH_ROWS).execute(export_query(after, upto))
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


def inner_counts(conn, column_names, filters: dict) -> tuple[dict, dict, dict]:
    """The inner cells of a filter set: {(column, code, (office, year)): n} for each column, and
    {(office, year): number of cases}; plus {office: county} of the offices counted."""
    counts, counties_of = {}, {}
    year = _year().label("year")
    for name in column_names:
        variable = closures.c[name]
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
