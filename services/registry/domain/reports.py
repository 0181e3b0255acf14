"""The report's tables: table 1 (one row per case, no counts) and the distributions of tables 3–7 by office,
county or period, built from counts and always through small-count suppression."""
from __future__ import annotations

from . import codebook
from .errors import TableRequestError
from .suppression import suppress

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


def check_request(table_id: str, by: str):
    """Refuse a table or a breakdown the registry does not have."""
    if table_id not in DISTRIBUTIONS:
        raise TableRequestError("table", f"unknown table {table_id}; choose one of {', '.join(DISTRIBUTIONS)}")
    if by not in BY:
        raise TableRequestError("by", f"by must be one of {', '.join(BY)}")


def column(table_id: str) -> str:
    """The column a distribution counts."""
    return DISTRIBUTIONS[table_id][0]


def _units(by, counts, offices, filters):
    """The table's columns: the covered offices (or their counties) within the filters, or the years counted; any
    unit counted but not listed is added at the end."""
    covered = [o for o in offices if o["covered_by_research"]]
    if by == "office":
        units = [o["code"] for o in covered]
        units = [u for u in units if not filters.get("office") or u == filters["office"]]
        if filters.get("county"):
            units = [o["code"] for o in covered if o["county_code"] == filters["county"]]
    elif by == "county":
        units = sorted({o["county_code"] for o in covered})
        units = [u for u in units if not filters.get("county") or u == filters["county"]]
    else:
        units = sorted({u for (_c, u) in counts})
    return units + sorted({u for (_c, u) in counts if u not in units})


def distribution(table_id: str, by: str, threshold: int, counts: dict, offices: list[dict], places: dict,
                 filters: dict) -> dict:
    """The suppressed table from `counts` ({(code, unit): n}); `offices`: the directory's, ordered by name;
    `places`: the office and county vocabularies (codebook.place_vocabularies)."""
    column_name, vocab, title_nb, title_en = DISTRIBUTIONS[table_id]
    units = _units(by, counts, offices, filters)
    codes = list(codebook.vocabulary(vocab) or {})
    codes += sorted({c for (c, _u) in counts if c not in codes})
    unit_labels = codebook.vocabulary(by, places) if by != "period" else None
    result = {"table": table_id, "variable": column_name, "vocabulary": vocab, "by": by, "threshold": threshold,
              "title": {"nb": title_nb, "en": title_en}, "suppressed_mark": None,
              "columns": [{"code": u, "label": (unit_labels or {}).get(u, {}).get("nb", u)} for u in units],
              "rows": [], "totals": None}
    if not units:
        return result
    cells = [[counts.get((c, u), 0) for u in units] for c in codes]
    shown = suppress(cells, threshold)
    for code, row in zip(codes, shown[:-1], strict=True):
        result["rows"].append({"code": code, "label": {"nb": codebook.label(vocab, code, "nb"),
                                                       "en": codebook.label(vocab, code, "en")},
                               "cells": row[:-1], "total": row[-1]})
    result["totals"] = {"cells": shown[-1][:-1], "total": shown[-1][-1]}
    return result


def _shown(value):
    return SUPPRESSED if value is None else str(value)


def distribution_csv_lines(table):
    """CSV rows for a distribution table; withheld numbers as ':'."""
    yield ["code", "label_nb"] + [c["code"] for c in table["columns"]] + ["total"]
    for row in table["rows"]:
        yield [row["code"], row["label"]["nb"]] + [_shown(v) for v in row["cells"]] + [_shown(row["total"])]
    if table["totals"]:
        yield ["total", "Sum"] + [_shown(v) for v in table["totals"]["cells"]] + [_shown(table["totals"]["total"])]


def table1(rows: list[dict]) -> dict:
    """Table 1: one row per case (row level: no counts, nothing to suppress)."""
    return {"table": "1", "columns": list(TABLE1_COLUMNS), "rows": rows}


def table1_csv_lines(table):
    yield list(TABLE1_COLUMNS)
    for row in table["rows"]:
        yield [row[c] for c in TABLE1_COLUMNS]
