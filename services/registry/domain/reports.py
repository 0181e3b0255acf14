"""The report's tables: table 1 (one row per case, no counts) and the distributions of tables 3–7 by office,
county or period, built from inner counts and always through the filter set's one suppression pattern
(domain.disclosure)."""
from __future__ import annotations

from . import codebook
from .disclosure import TOTAL, Grid
from .errors import TableRequestError

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
BY = ("office", "county", "period")  # period: calendar year of closure, the report's unit
SUPPRESSED = ":"  # Statistics Norway's mark for a number withheld for confidentiality

TABLE1_COLUMNS = ("case_pseudonym", "office", "industry", "reasons", "counsellor_knew_company", "attachment_before",
                  "frequency_mentor", "frequency_candidate", "frequency_employer", "attached_same_company",
                  "attachment_after", "outcome_summary")


# The tables' titles in nynorsk (DISTRIBUTIONS has bokmål and English; the CSV files keep bokmål).
TITLES_NN = {"3": "Tabell 3: Kven tok initiativ til tiltaket",
             "4": "Tabell 4: Tilknytinga brukaren hadde til bedrifta før tiltak",
             "5": "Tabell 5: Samarbeidskvalitet fordelt på kontakt med brukar og mentor",
             "6": "Tabell 6: Varigheit", "7": "Tabell 7: Tilknyting ved tiltaksslutt",
             "outcome": "Utfall ved tiltaksslutt (oppsummering av tabell 1)"}


def title(table_id: str) -> dict:
    """A table's title in each language."""
    _column, _vocab, title_nb, title_en = DISTRIBUTIONS[table_id]
    return {"nb": title_nb, "nn": TITLES_NN[table_id], "en": title_en}


def check_request(table_id: str, by: str):
    """Refuse a table or a breakdown the registry does not have."""
    if table_id not in DISTRIBUTIONS:
        raise TableRequestError("table", f"unknown table {table_id}; choose one of {', '.join(DISTRIBUTIONS)}")
    if by not in BY:
        raise TableRequestError("by", f"by must be one of {', '.join(BY)}")


def column(table_id: str) -> str:
    """The column a distribution counts."""
    return DISTRIBUTIONS[table_id][0]


def filter_set_grid(offices: list[dict], counts: dict, counties_of: dict, filters: dict) -> Grid:
    """What a filter set publishes (disclosure.Grid): the covered offices within the filters (ordered as the
    directory orders them) and any other office counted, their counties, the years counted, and every table's
    variable with its vocabulary's codes (and any other code counted)."""
    office_county = {o["code"]: o["county_code"] for o in offices if o["covered_by_research"]}
    office_county = {code: county for code, county in office_county.items()
                     if filters.get("office") in (None, code) and filters.get("county") in (None, county)}
    for office, county in counties_of.items():
        office_county.setdefault(office, county)
    years = sorted({pair[1] for (_v, _c, pair) in counts})
    variables = {}
    for column_name, vocab, _nb, _en in DISTRIBUTIONS.values():
        codes = list(codebook.vocabulary(vocab) or {})
        codes += sorted({c for (v, c, _p) in counts if v == column_name and c not in codes})
        variables[column_name] = tuple(codes)
    units = {"office": {o: frozenset((o, y) for y in years) for o in office_county},
             "county": {c: frozenset((o, y) for o in office_county if office_county[o] == c for y in years)
                        for c in sorted(set(office_county.values()))},
             "period": {y: frozenset((o, y) for o in office_county) for y in years}}
    counted = frozenset(pair for (_v, _c, pair) in counts)
    return Grid(variables, tuple((o, y) for o in office_county for y in years), units, counted)


def _percent(part, whole):
    return None if part is None or not whole else round(100 * part / whole, 1)


def distribution(table_id: str, by: str, grid: Grid, values: dict, hidden: frozenset, threshold: int,
                 places: dict | None) -> dict:
    """One table of a filter set from its one suppression pattern (disclosure.protect): counts, each count's
    percentage of its column's n (the column total), hidden numbers as None and the percentages they would give
    away with them; `places`: the office and county vocabularies (codebook.place_vocabularies)."""
    column_name, vocab, _nb, _en = DISTRIBUTIONS[table_id]
    unit_labels = codebook.vocabulary(by, places) if by != "period" else None
    units = list(grid.units[by]) if grid.pairs else []
    result = {"table": table_id, "variable": column_name, "vocabulary": vocab, "by": by, "threshold": threshold,
              "title": title(table_id), "suppressed_mark": None,
              "columns": [{"code": u, "label": (unit_labels or {}).get(u, {}).get("nb", u)} for u in units],
              "rows": [], "totals": None}
    if not units:
        return result

    def shown(code, pairs):
        key = grid.key(column_name, code, pairs)
        return None if key in hidden else values[key]

    column_sets = grid.unit_sets(by)
    n = [shown(TOTAL, pairs) for pairs in column_sets]
    for code in grid.variables[column_name]:
        cells = [shown(code, pairs) for pairs in column_sets]
        result["rows"].append({"code": code, "label": codebook.labels(vocab, code),
                               "cells": cells[:-1], "total": cells[-1],
                               "percents": [_percent(c, w) for c, w in zip(cells[:-1], n[:-1], strict=True)],
                               "total_percent": _percent(cells[-1], n[-1])})
    result["totals"] = {"cells": n[:-1], "total": n[-1]}
    if any(v is None for row in result["rows"] for v in row["cells"] + [row["total"]]) or None in n:
        result["suppressed_mark"] = SUPPRESSED
    return result


def _shown(value):
    return SUPPRESSED if value is None else str(value)


def _percent_text(value):
    return SUPPRESSED if value is None else f"{value:.1f}"


def distribution_csv_lines(table):
    """CSV rows for a distribution table: per column its count and its percentage of the column's n; withheld
    numbers as ':'; the last line is n."""
    units = [c["code"] for c in table["columns"]] + ["total"]
    yield ["code", "label_nb"] + [name for unit in units for name in (unit, f"{unit}_percent")]
    for row in table["rows"]:
        counts = row["cells"] + [row["total"]]
        percents = row["percents"] + [row["total_percent"]]
        yield [row["code"], row["label"]["nb"]] + [text for count, percent in zip(counts, percents, strict=True)
                                                   for text in (_shown(count), _percent_text(percent))]
    if table["totals"]:
        n = table["totals"]["cells"] + [table["totals"]["total"]]
        yield ["n", "Antall (n)"] + [text for count in n for text in (_shown(count), _percent_text(
            None if count is None else 100.0))]


def table1(rows: list[dict]) -> dict:
    """Table 1: one row per case (row level: no counts, nothing to suppress)."""
    return {"table": "1", "columns": list(TABLE1_COLUMNS), "rows": rows}


def table1_csv_lines(table):
    yield list(TABLE1_COLUMNS)
    for row in table["rows"]:
        yield [row[c] for c in TABLE1_COLUMNS]
