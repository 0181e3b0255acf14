"""The layout of a release's files, from the one codebook: which variables, of which kind, with which labels.

A release has two tables. `cases`: one row per case, the export's columns except the packed lists; each
multi-select answer becomes one 0/1 variable per code (`reasons__extra_follow_up`), and the mentor measure a 0/1
variable. `measures`: one row per case and measure, keyed by the case pseudonym (`success_assessments` the same way
in `assessments`). Coded variables carry a number per code (its place in the vocabulary, from 1) so that SPSS and
Stata can label them; Parquet, CSV and JSON carry the codes themselves. Periods stay the project's coarsened text.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import repeat

from .codebook import COLUMNS, vocabulary

# pyreadstat names a .dta value label set after its variable with a running number, and that name must stay
# within Stata's limit: 28 characters leave room for up to 100 labelled variables (the cases table has about 50).
STATA_NAME_MAX = 28
PACKED = {"reasons": "code_list", "contact_forms": "code_list", "forms_candidate": "code_list",
          "forms_mentor": "code_list", "measures": "measure_list", "success_assessments": "assessment_list"}
# A packed list that is missing (None: table 5's forms of a closure from before they were kept per party) is
# unknown: its 0/1 variables are missing too, never 0.
YES_NO = {"0": {"nb": "Nei", "en": "No"}, "1": {"nb": "Ja", "en": "Yes"}}


@dataclass
class Variable:
    """One variable of a release table: kind `string`, `integer`, `code` (labelled) or `flag` (0/1, labelled)."""

    name: str
    kind: str
    label: dict
    codes: dict = field(default_factory=dict)  # code -> {"nb", "en"}; flags: "0"/"1"
    source: str | None = None  # the export column it comes from
    member: str | None = None  # for a flag: the code of the packed list it stands for

    def number(self, code):
        """The number SPSS and Stata store for a code (place in the vocabulary, from 1); None stays missing."""
        if code is None:
            return None
        if self.kind == "flag":
            return int(code)
        return list(self.codes).index(code) + 1

    @property
    def stata_name(self) -> str:
        """The name in a .dta file: cut to STATA_NAME_MAX characters (the codebook says which is which)."""
        return self.name[:STATA_NAME_MAX]


def _codes(vocab, places):
    # The release files label in bokmål or English (the codebook's nynorsk is for the pages).
    return {code: {lang: labels[lang] for lang in ("nb", "en")}
            for code, labels in (vocabulary(vocab, places) or {}).items()}


def layout(places: dict) -> dict:
    """{table name: [Variable]} for a release, the office and county vocabularies given by the caller."""
    cases, by_name = [], {}
    for name, kind, vocab, nb, en in COLUMNS:
        label = {"nb": nb, "en": en}
        by_name[name] = (kind, vocab, label)
        if name in PACKED:
            if kind == "code_list":
                for code, code_label in _codes(vocab, places).items():
                    cases.append(Variable(f"{name}__{code}", "flag", {lang: f"{label[lang]}: {code_label[lang]}"
                                                                       for lang in ("nb", "en")},
                                          dict(YES_NO), source=name, member=code))
            continue
        if kind == "boolean":
            cases.append(Variable(name, "flag", label, dict(YES_NO), source=name))
        elif kind == "code":
            cases.append(Variable(name, "code", label, _codes(vocab, places), source=name))
        elif kind == "integer":
            cases.append(Variable(name, "integer", label, source=name))
        else:
            cases.append(Variable(name, "string", label, source=name))
    case_key = Variable("case_pseudonym", "string", by_name["case_pseudonym"][2])
    measures = [case_key,
                Variable("measure", "code", {"nb": "Tiltak eller tilskudd", "en": "Measure or subsidy"},
                         _codes("measure", places)),
                Variable("from_period", "string", {"nb": "Fra (grovkornet dato; tom hvis skjult for k-anonymitet)",
                                                   "en": "From (coarsened date; empty if hidden for k-anonymity)"}),
                Variable("to_period", "string", {"nb": "Til (grovkornet dato; tom hvis pågående eller skjult)",
                                                 "en": "To (coarsened date; empty if ongoing or hidden)"})]
    assessments = [case_key,
                   Variable("criterion", "string", {"nb": "Suksesskriterium (kode)", "en": "Success criterion (code)"}),
                   Variable("assessment", "code", {"nb": "Vurdering", "en": "Assessment"},
                            _codes("success_assessment", places))]
    return {"cases": cases, "measures": measures, "assessments": assessments}


def _split(text):
    return [part for part in (text or "").split(";") if part]


def columns(export_rows, tables: dict) -> dict:
    """The export rows (the live export's columns, codes as text) as the release tables, column by column:
    {table: {variable: [value per row]}}. Equal texts are kept once (a release of 100,000 cases repeats a few
    codes millions of times)."""
    result = {table: {v.name: [] for v in variables} for table, variables in tables.items()}
    cases, measures, assessments = result["cases"], result["measures"], result["assessments"]
    kept = {}
    for row in export_rows:
        members = {}
        for variable in tables["cases"]:
            value = row[variable.source]
            if variable.member is not None:
                if variable.source not in members:
                    members[variable.source] = set(_split(value))
                value = None if value is None else "1" if variable.member in members[variable.source] else "0"
            elif variable.kind == "flag":
                value = "1" if value in (True, "true", 1) else "0"
            elif variable.kind == "integer":
                value = None if value is None else int(value)
            elif variable.kind == "code":
                value = kept.setdefault(value, value)
            cases[variable.name].append(value)
        pseudonym = row["case_pseudonym"]
        for part in _split(row["measures"]):
            code, from_period, to_period = part.split(":")
            for name, value in (("case_pseudonym", pseudonym), ("measure", code), ("from_period", from_period or None),
                                ("to_period", to_period or None)):
                measures[name].append(kept.setdefault(value, value))
        for part in _split(row["success_assessments"]):
            criterion, assessment = part.split("=")
            for name, value in (("case_pseudonym", pseudonym), ("criterion", criterion),
                                ("assessment", assessment)):
                assessments[name].append(kept.setdefault(value, value))
    return result


_FLAG_TEXT = {True: "1", "true": "1"}  # True == 1: a 1 (or 1.0) is found as True; anything else is "0"


def chunk_columns(data: dict, tables: dict) -> dict:
    """`columns` of a chunk of export rows held column by column ({export column: [value per row]}): the same
    tables, a variable at a time instead of a row at a time (a release of 100,000 cases spent seconds here)."""
    result = {table: {} for table in tables}
    members = {}
    for variable in tables["cases"]:
        values = data[variable.source]
        # Each distinct value worked out once, then looked up for every row (map with a dict's method stays in C):
        # a release of 100,000 cases repeats a few codes and lists millions of times.
        if variable.member is not None:
            if variable.source not in members:
                members[variable.source] = {text: None if text is None else set(_split(text)) for text in set(values)}
            lookup = {text: None if found is None else "1" if variable.member in found else "0"
                      for text, found in members[variable.source].items()}
            column = list(map(lookup.__getitem__, values))
        elif variable.kind == "flag":
            column = list(map(_FLAG_TEXT.get, values, repeat("0")))
        elif variable.kind == "integer":
            lookup = {value: None if value is None else int(value) for value in set(values)}
            column = list(map(lookup.__getitem__, values))
        else:
            column = list(values)
        result["cases"][variable.name] = column
    measures = result["measures"] = {v.name: [] for v in tables["measures"]}
    for pseudonym, text in zip(data["case_pseudonym"], data["measures"], strict=True):
        for part in _split(text):
            code, from_period, to_period = part.split(":")
            measures["case_pseudonym"].append(pseudonym)
            measures["measure"].append(code)
            measures["from_period"].append(from_period or None)
            measures["to_period"].append(to_period or None)
    assessments = result["assessments"] = {v.name: [] for v in tables["assessments"]}
    for pseudonym, text in zip(data["case_pseudonym"], data["success_assessments"], strict=True):
        for part in _split(text):
            criterion, assessment = part.split("=")
            assessments["case_pseudonym"].append(pseudonym)
            assessments["criterion"].append(criterion)
            assessments["assessment"].append(assessment)
    return result


def row_count(table_columns: dict) -> int:
    return len(next(iter(table_columns.values())))


def codebook_entries(tables: dict, lang_names=("nb", "en")) -> dict:
    """The release codebook: per table its variables with kind, labels, Stata name and the number of each code."""
    result = {}
    for table, variables in tables.items():
        entries = []
        if len({v.stata_name for v in variables}) != len(variables):
            raise ValueError(f"two variables of {table} share a Stata name")
        for variable in variables:
            entry = {"name": variable.name, "kind": variable.kind, "stata_name": variable.stata_name,
                     "label": {lang: variable.label[lang] for lang in lang_names}}
            if variable.codes:
                entry["codes"] = [{"code": code, "value": variable.number(code), **labels}
                                  for code, labels in variable.codes.items()]
            entries.append(entry)
        result[table] = entries
    return result
