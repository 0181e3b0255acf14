"""The report's tables from the registry: table 1 (one row per case, no counts) and the distributions of
tables 3–7 by office, county or period, always through small-count suppression."""
from __future__ import annotations

from sqlalchemy import func, select

from . import codebook
from .suppression import suppress
from .tables import closures

DISTRIBUTIONS = {
    "3": ("initiator", "initiator", "Tabell 3: Hvem tok initiativ til tiltaket", "Table 3: Who initiated the measure"),
    "4": ("attachment_before", "attachment_before", "Tabell 4: Brukers tilknytning til bedrift før tiltak",
          "Table 4: Attachment to the company before the measure"),
    "5": ("frequency_mentor", "contact_frequency", "Tabell 5: Kontakt mellom veileder og mentor",
          "Table 5: Contact between counsellor and mentor"),
    "6": ("duration", "duration", "Tabell 6: Varighet", "Table 6: Duration"),
    "7": ("attachment_after", "attachment_after", "Tabell 7: Tilknytning ved tiltaksslutt",
          "Table 7: Attachment at the end of the measure"),
    "outcome": ("outcome_summary", "outcome_summary", "Utfall ved tiltaksslutt (oppsummering av tabell 1)",
                "Outcome at the end (summary of table 1)"),
}
BY = ("office", "county", "period")
SUPPRESSED = ":"  # Statistics Norway's mark for a number withheld for confidentiality

TABLE1_COLUMNS = ("case_pseudonym", "office", "industry", "reasons", "counsellor_knew_company", "attachment_before",
                  "frequency_mentor", "frequency_candidate", "frequency_employer", "attached_same_company",
                  "attachment_after", "outcome_summary")


class TableRequestError(ValueError):
    def __init__(self, field, message):
        super().__init__(message)
        self.field = field


def _filters(query, office=None, county=None, period_from=None, period_to=None):
    if office:
        query = query.where(closures.c.office == office)
    if county:
        query = query.where(closures.c.county == county)
    if period_from:
        query = query.where(closures.c.closed_period >= period_from)
    if period_to:
        query = query.where(closures.c.closed_period <= period_to + "\uffff")
    return query


def _unit_column(by):
    if by == "office":
        return closures.c.office
    if by == "county":
        return closures.c.county
    return func.substr(closures.c.closed_period, 1, 4)  # period: calendar year, the report's unit


def distribution(engine, directory, table_id, by="office", threshold=5, **filters):
    if table_id not in DISTRIBUTIONS:
        raise TableRequestError("table", f"unknown table {table_id}; choose one of {', '.join(DISTRIBUTIONS)}")
    if by not in BY:
        raise TableRequestError("by", f"by must be one of {', '.join(BY)}")
    column_name, vocab, title_nb, title_en = DISTRIBUTIONS[table_id]
    variable = closures.c[column_name]
    unit = _unit_column(by).label("unit")
    query = _filters(select(variable.label("code"), unit, func.count().label("n")), **filters).group_by(variable, unit)
    with engine.connect() as conn:
        counts = {(r.code, r.unit): r.n for r in conn.execute(query)}
    if by == "office":
        units = [o["code"] for o in directory.offices() if o["covered_by_research"]]
        units = [u for u in units if not filters.get("office") or u == filters["office"]]
        if filters.get("county"):
            units = [o["code"] for o in directory.offices(filters["county"]) if o["covered_by_research"]]
    elif by == "county":
        units = sorted({o["county_code"] for o in directory.offices() if o["covered_by_research"]})
        units = [u for u in units if not filters.get("county") or u == filters["county"]]
    else:
        units = sorted({u for (_c, u) in counts})
    units += sorted({u for (_c, u) in counts if u not in units})
    codes = list(codebook.vocabulary(vocab) or {})
    codes += sorted({c for (c, _u) in counts if c not in codes})
    unit_labels = codebook.vocabulary(by, directory) if by != "period" else None
    result = {"table": table_id, "variable": column_name, "vocabulary": vocab, "by": by, "threshold": threshold,
              "title": {"nb": title_nb, "en": title_en}, "suppressed_mark": None,
              "columns": [{"code": u, "label": (unit_labels or {}).get(u, {}).get("nb", u)} for u in units],
              "rows": [], "totals": None}
    if not units:
        return result
    cells = [[counts.get((c, u), 0) for u in units] for c in codes]
    shown = suppress(cells, threshold)
    for code, row in zip(codes, shown[:-1]):
        result["rows"].append({"code": code, "label": {"nb": codebook.label(vocab, code, "nb"),
                                                       "en": codebook.label(vocab, code, "en")},
                               "cells": row[:-1], "total": row[-1]})
    result["totals"] = {"cells": shown[-1][:-1], "total": shown[-1][-1]}
    return result


def distribution_csv_lines(table):
    """CSV rows for a distribution table; withheld numbers as ':'."""
    show = lambda v: SUPPRESSED if v is None else str(v)
    yield ["code", "label_nb"] + [c["code"] for c in table["columns"]] + ["total"]
    for row in table["rows"]:
        yield [row["code"], row["label"]["nb"]] + [show(v) for v in row["cells"]] + [show(row["total"])]
    if table["totals"]:
        yield ["total", "Sum"] + [show(v) for v in table["totals"]["cells"]] + [show(table["totals"]["total"])]


def table1(engine, **filters):
    """Table 1: one row per case (row level: no counts, nothing to suppress)."""
    query = _filters(select(*[closures.c[c] for c in TABLE1_COLUMNS]), **filters).order_by(
        closures.c.office, closures.c.case_pseudonym)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]
