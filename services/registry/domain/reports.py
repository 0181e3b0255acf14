"""The report's tables: table 1 (one row per case, no counts), the distributions of tables 3, 4, 6 and 7 by
office, county or period, and table 5 as the report has it (contact frequency, intensity and forms, the candidate
and the mentor side by side), each built from inner counts and always through the filter set's one suppression
pattern (domain.disclosure)."""
from __future__ import annotations

from . import codebook
from .disclosure import TOTAL, Grid
from .errors import TableRequestError

DISTRIBUTIONS = {
    "3": ("initiator", "initiator", "Tabell 3: Hvem tok initiativ til tiltaket", "Table 3: Who initiated the measure"),
    "4": ("attachment_before", "attachment_before", "Tabell 4: Brukers tilknytning til bedrift før tiltak",
          "Table 4: Attachment to the company before the measure"),
    "5": (None, None, "Tabell 5: Samarbeidskvalitet fordelt på kontakt med bruker og mentor",
          "Table 5: Quality of cooperation by contact with the candidate and the mentor"),
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


# Table 5: per party a block of frequency, intensity and contact forms (the forms a multi-select: a row per form,
# its percentage of n, so a block adds up to more than 100). In the suppression pattern each party's frequency
# and intensity is a variable, each form a yes/no variable of which only "yes" is published.
PARTIES = {"candidate": {"nb": "Bruker", "nn": "Brukar", "en": "Candidate"},
           "mentor": {"nb": "Mentor", "nn": "Mentor", "en": "Mentor"}}
PARTY_GROUPS = {"frequency": {"nb": "Kontakthyppighet", "nn": "Kontakthyppigheit", "en": "Contact frequency"},
                "intensity": {"nb": "Kontaktintensitet", "nn": "Kontaktintensitet", "en": "Contact intensity"},
                "forms": {"nb": "Kontaktform", "nn": "Kontaktform", "en": "Contact form"}}
PARTY_TABLE = "5"
FORM_USED, FORM_NOT_USED = "yes", "no"  # "no": not used, or not known (a closure from before the per-party forms)


def _party_variables() -> list[tuple]:
    """(variable, group, party, vocabulary, codes, form code or None) of table 5, in the table's order."""
    found = []
    for party in PARTIES:
        frequency = [c for c in codebook.vocabulary("contact_frequency") if c != "employer_is_mentor"]
        found.append((f"frequency_{party}", "frequency", party, "contact_frequency", tuple(frequency), None))
        found.append((f"intensity_{party}", "intensity", party, "party_intensity",
                      tuple(codebook.vocabulary("party_intensity")), None))
        for form in codebook.vocabulary("contact_form"):
            found.append((f"forms_{party}__{form}", "forms", party, "contact_form", (FORM_USED, FORM_NOT_USED), form))
    return found


def counted_variables() -> dict:
    """Every variable a filter set's tables count: {variable: None (a column's codes) or (column, code) (1 when
    the packed list in that column has the code)}."""
    variables = {column_name: None for column_name, *_rest in DISTRIBUTIONS.values() if column_name}
    for name, _group, party, _vocab, _codes, form in _party_variables():
        variables[name] = (f"forms_{party}", form) if form else None
    return variables


def counted_value(row: dict, variable: str, source) -> str | None:
    """A row's code for a counted variable (counted_variables), as store.inner_counts counts it in SQL."""
    if source is None:
        value = row.get(variable)
        return "unknown" if value is None and variable.startswith("intensity_") else value
    column_name, code = source
    return FORM_USED if code in (row.get(column_name) or "").split(";") else FORM_NOT_USED


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
    declared = [(column_name, tuple(codebook.vocabulary(vocab) or {})) for column_name, vocab, _nb, _en
                in DISTRIBUTIONS.values() if column_name]
    declared += [(name, codes) for name, _group, _party, _vocab, codes, _form in _party_variables()]
    for column_name, known in declared:
        codes = list(known)
        codes += sorted({c for (v, c, _p) in counts if v == column_name and c not in codes and c is not None})
        variables[column_name] = tuple(codes)
    unpublished = frozenset((name, FORM_NOT_USED) for name, *_rest, form in _party_variables() if form)
    units = {"office": {o: frozenset((o, y) for y in years) for o in office_county},
             "county": {c: frozenset((o, y) for o in office_county if office_county[o] == c for y in years)
                        for c in sorted(set(office_county.values()))},
             "period": {y: frozenset((o, y) for o in office_county) for y in years}}
    counted = frozenset(pair for (_v, _c, pair) in counts)
    return Grid(variables, tuple((o, y) for o in office_county for y in years), units, counted, unpublished)


def _percent(part, whole):
    return None if part is None or not whole else round(100 * part / whole, 1)


def distribution(table_id: str, by: str, grid: Grid, values: dict, hidden: frozenset, threshold: int,
                 places: dict | None) -> dict:
    """One table of a filter set from its one suppression pattern (disclosure.protect): counts, each count's
    percentage of its column's n (the column total), hidden numbers as None and the percentages they would give
    away with them; `places`: the office and county vocabularies (codebook.place_vocabularies)."""
    if table_id == PARTY_TABLE:
        return party_distribution(by, grid, values, hidden, threshold, places)
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


def party_distribution(by: str, grid: Grid, values: dict, hidden: frozenset, threshold: int,
                       places: dict | None) -> dict:
    """Table 5 as the report has it: rows the frequency codes, the intensity codes and the contact forms; per unit
    of `by` and for the whole filter set (the report's table) a column per party (candidate, mentor) with its
    count and percentage of n, the cases of the column (the same n for both parties: a case without contact with a
    party is counted under "Aldri" and "Ingen kontakt ført", one from before the per-party answers under
    "Ukjent"). Every number from the filter set's one suppression pattern, hidden numbers as None."""
    unit_labels = codebook.vocabulary(by, places) if by != "period" else None
    units = list(grid.units[by]) if grid.pairs else []
    parties = list(PARTIES)
    result = {"table": PARTY_TABLE, "variable": "contact_per_party", "vocabulary": "contact_per_party", "by": by,
              "threshold": threshold, "title": title(PARTY_TABLE), "suppressed_mark": None,
              "parties": [{"code": p, "label": dict(PARTIES[p])} for p in parties],
              "columns": [{"code": u, "label": (unit_labels or {}).get(u, {}).get("nb", u), "party": p}
                          for u in units for p in parties],
              "rows": [], "totals": None}
    if not units:
        return result

    def shown(variable, code, pairs):
        key = grid.key(variable, code, pairs)
        return None if key in hidden else values[key]

    column_sets = grid.unit_sets(by)  # the units', then the whole filter set's
    n = [shown(None, TOTAL, pairs) for pairs in column_sets]
    by_group = {}
    for name, group, party, vocab, _codes, form in _party_variables():
        for code in ([FORM_USED] if form else grid.variables[name]):
            row_code = form or code
            key = (group, row_code)
            if key not in by_group:
                by_group[key] = {"group": group, "group_label": dict(PARTY_GROUPS[group]), "code": row_code,
                                 "vocabulary": vocab,
                                 "label": codebook.labels(vocab, row_code), "by_party": {}}
            by_group[key]["by_party"][party] = [shown(name, code, pairs) for pairs in column_sets]
    zeros = [0] * len(column_sets)  # a code counted for one party only (an odd old code): the other has none
    for row in sorted(by_group.values(), key=lambda r: list(PARTY_GROUPS).index(r["group"])):  # stable: codes' order
        per_party = {p: row["by_party"].get(p, zeros) for p in parties}
        del row["by_party"]
        cells = [per_party[p][i] for i in range(len(units)) for p in parties]
        whole = [per_party[p][-1] for p in parties]
        row.update(cells=cells, percents=[_percent(c, n[i // len(parties)]) for i, c in enumerate(cells)],
                   total=None, total_percent=None, party_totals=whole,
                   party_percents=[_percent(c, n[-1]) for c in whole])
        result["rows"].append(row)
    result["totals"] = {"cells": [n[i] for i in range(len(units)) for _p in parties], "total": n[-1],
                        "party_totals": [n[-1] for _p in parties]}
    if any(v is None for row in result["rows"] for v in row["cells"] + row["party_totals"]) or None in n:
        result["suppressed_mark"] = SUPPRESSED
    return result


def _shown(value):
    return SUPPRESSED if value is None else str(value)


def _percent_text(value):
    return SUPPRESSED if value is None else f"{value:.1f}"


def distribution_csv_lines(table):
    """CSV rows for a distribution table: per column its count and its percentage of the column's n; withheld
    numbers as ':'; the last line is n."""
    if table["table"] == PARTY_TABLE:
        yield from _party_csv_lines(table)
        return
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


def _party_csv_lines(table):
    """Table 5's CSV: a line per group and code; per unit and party, then per party for the whole filter set,
    the count and its percentage of n."""
    parties = [p["code"] for p in table["parties"]]
    heads = [f"{c['code']}_{c['party']}" for c in table["columns"]] + [f"total_{p}" for p in parties]
    yield ["group", "code", "label_nb"] + [name for head in heads for name in (head, f"{head}_percent")]
    for row in table["rows"]:
        counts = row["cells"] + row["party_totals"]
        percents = row["percents"] + row["party_percents"]
        yield [row["group"], row["code"], row["label"]["nb"]] + [
            text for count, percent in zip(counts, percents, strict=True)
            for text in (_shown(count), _percent_text(percent))]
    if table["totals"]:
        n = table["totals"]["cells"] + table["totals"]["party_totals"]
        yield ["n", "n", "Antall (n)"] + [text for count in n for text in (_shown(count), _percent_text(
            None if count is None else 100.0))]


def table1(rows: list[dict]) -> dict:
    """Table 1: one row per case (row level: no counts, nothing to suppress)."""
    return {"table": "1", "columns": list(TABLE1_COLUMNS), "rows": rows}


def table1_csv_lines(table):
    yield list(TABLE1_COLUMNS)
    for row in table["rows"]:
        yield [row[c] for c in TABLE1_COLUMNS]
