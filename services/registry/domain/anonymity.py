"""k-anonymity of a release's row-level files: no combination of quasi-identifiers occurs fewer than k times.

The quasi-identifiers are what could single a person out of the cases table: the office and county, the periods,
the industry, and the counsellor's, mentor's and employer's pseudonyms (they only link rows, but a counsellor of a
small office or an employer with one candidate is a group of one). A blank value counts as a value of its own, so
the check is plain counting of whole combinations and a researcher can repeat it on the files.

Reached in two steps, the usual statistical disclosure practice (sdcMicro, τ-ARGUS):
1. global recoding: both periods one step coarser (month → quarter → year) while more than RECODE_SHARE of the rows
   are rare over what an outsider can know (office, county, periods, industry) and the step makes fewer rare;
2. local suppression: one quasi-identifier after the other (SUPPRESSION_ORDER) is blanked in the rows whose
   combination still occurs fewer than k times; a group still short of k is then filled from a group of at least k
   that differs from it only where it is blank (those rows get the same blanks: the fewest that can spare them, or
   the whole group, so that no group falls below k). A group of k or more never shrinks.
The measures of a case take its periods' recoding, and lose their periods where the case's periods were blanked.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .periods import GRANULARITIES, recode

DEFAULT_K = 5
QUASI_IDENTIFIERS = ("office", "county", "opened_period", "closed_period", "industry", "counsellor_pseudonym",
                     "mentor_pseudonym", "employer_pseudonym")
OUTSIDE_KNOWN = ("office", "county", "opened_period", "closed_period", "industry")
PERIODS = ("opened_period", "closed_period")
# Blanked first: what only links rows (employer, mentor, counsellor), then what the research compares least
# (industry, the opening), then the office (the county stays: the county instead of the office), the closing, the
# county last.
SUPPRESSION_ORDER = ("employer_pseudonym", "mentor_pseudonym", "counsellor_pseudonym", "industry", "opened_period",
                     "office", "closed_period", "county")
RECODE_SHARE = 0.05
_COLUMN = {name: QUASI_IDENTIFIERS.index(name) for name in QUASI_IDENTIFIERS}


@dataclass
class Plan:
    """What to do to each row, in the order the rows were given: the periods' granularity in the files and, per
    row, the quasi-identifiers to blank (a bit per name of SUPPRESSION_ORDER)."""

    k: int
    stored: str
    granularity: str
    blanks: list = field(default_factory=list)
    report: dict = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return len(self.blanks)


def _violating(values: list[tuple], k: int) -> int:
    counts = Counter(values)
    return sum(n for n in counts.values() if n < k)


def _encoded(rows) -> tuple[list[list], list[list]]:
    """The rows with each value as a number per column (None stays None), read one at a time: far less memory
    than the texts; and per column the texts of the numbers."""
    codes = [{} for _ in QUASI_IDENTIFIERS]
    values = [[None if value is None else codes[i].setdefault(value, len(codes[i])) for i, value in enumerate(row)]
              for row in rows]
    return values, [list(column) for column in codes]


def _periods_at(texts: list[list], granularity: str, cache: dict) -> dict:
    """Per period column, the number of each stored period's text -> that period at `granularity`."""
    return {_COLUMN[name]: [recode(text, granularity, cache) for text in texts[_COLUMN[name]]] for name in PERIODS}


def _granularity(values: list[list], texts: list[list], k: int, stored: str, cache: dict) -> str:
    """The periods one step coarser while more than RECODE_SHARE of the rows are rare over what an outsider can
    know, and the step makes fewer of them rare (a small office stays rare whatever its periods)."""
    known = [_COLUMN[name] for name in OUTSIDE_KNOWN]

    def rare(granularity):
        periods = _periods_at(texts, granularity, cache)
        return _violating([tuple(row[i] if i not in periods or row[i] is None else periods[i][row[i]]
                                 for i in known) for row in values], k)
    level = GRANULARITIES.index(stored)
    current = rare(stored) if values else 0
    while level < len(GRANULARITIES) - 1 and current > RECODE_SHARE * len(values):
        coarser = rare(GRANULARITIES[level + 1])
        if coarser >= current:
            break
        level, current = level + 1, coarser
    return GRANULARITIES[level]


def _recode(values: list[list], texts: list[list], granularity: str, cache: dict) -> None:
    """Both periods of every row at `granularity` (as new numbers)."""
    for column, coarser in _periods_at(texts, granularity, cache).items():
        numbers = {}
        new = [numbers.setdefault(text, len(numbers)) for text in coarser]
        for row in values:
            if row[column] is not None:
                row[column] = new[row[column]]


class _Groups:
    """The rows grouped by their whole combination; blanking moves a row from one group to another."""

    def __init__(self, values, k):
        self.values, self.k = values, k
        self.blanks = [0] * len(values)
        self.suppressed = dict.fromkeys(SUPPRESSION_ORDER, 0)
        self.regroup()

    def regroup(self):
        self.members = {}
        for position, row in enumerate(self.values):
            self.members.setdefault(tuple(row), []).append(position)

    def blank(self, position, columns):
        row = self.values[position]
        for bit, name in enumerate(SUPPRESSION_ORDER):
            column = _COLUMN[name]
            if column in columns and row[column] is not None:
                row[column] = None
                self.blanks[position] |= 1 << bit
                self.suppressed[name] += 1

    def rare(self) -> list[tuple]:
        return sorted((key for key, rows in self.members.items() if 0 < len(rows) < self.k),
                      key=lambda key: -len(self.members[key]))

    def complete_rare(self) -> None:
        """Fill each rare group from groups of at least k that differ from it only where it is blank: a group that
        can spare the rows gives its last ones, one that cannot goes whole (so none falls below k)."""
        index = {}
        for key in self.rare():
            blank = frozenset(i for i, value in enumerate(key) if value is None)
            kept = [i for i in range(len(key)) if i not in blank]
            if blank not in index:
                index[blank] = {}
                for other, rows in self.members.items():
                    if len(rows) >= self.k:
                        index[blank].setdefault(tuple(other[i] for i in kept), []).append(other)
            for other in sorted(index[blank].get(tuple(key[i] for i in kept), ()),
                                key=lambda other: -len(self.members[other])):
                need = self.k - len(self.members[key])
                rows = self.members[other]
                if need <= 0:
                    break
                if other == key or len(rows) < self.k:
                    continue
                taken = rows[-need:] if len(rows) - need >= self.k else list(rows)
                del rows[len(rows) - len(taken):]
                for position in taken:
                    self.blank(position, blank)
                    self.members[key].append(position)


def plan(rows, k: int, stored: str) -> Plan:
    """The recoding and suppression that make `rows` (an iterable of tuples of QUASI_IDENTIFIERS' values, periods
    stored in the project's granularity `stored`) k-anonymous, with the report for the release notes."""
    cache = {}
    values, texts = _encoded(rows)
    granularity = _granularity(values, texts, k, stored, cache)
    if granularity != stored:
        _recode(values, texts, granularity, cache)
    groups = _Groups(values, k)
    for name in SUPPRESSION_ORDER:
        column = _COLUMN[name]
        for key in groups.rare():
            for position in groups.members[key]:
                groups.blank(position, {column})
        groups.regroup()
        groups.complete_rare()
        groups.members = {key: rows for key, rows in groups.members.items() if rows}
    # Every period is written coarser once the step is taken: those still there at the end are the recoded ones.
    recoded = {name: 0 if granularity == stored else sum(row[_COLUMN[name]] is not None for row in values)
               for name in PERIODS}
    counts = [len(rows) for rows in groups.members.values()]
    smallest = min(counts) if counts else 0
    report = {"k": k, "quasi_identifiers": list(QUASI_IDENTIFIERS), "stored_periods": stored,
              "periods": granularity, "recoded": recoded, "suppressed": groups.suppressed,
              "measure_periods_suppressed": 0, "smallest_group": smallest, "reached": not counts or smallest >= k}
    return Plan(k=k, stored=stored, granularity=granularity, blanks=groups.blanks, report=report)


_BLANK_PERIODS = sum(1 << SUPPRESSION_ORDER.index(name) for name in PERIODS)


def apply(found: Plan, position: int, row: dict, cache: dict) -> dict:
    """The export row of the `position`th case as the files carry it: periods recoded, the plan's values blanked,
    its measures' periods recoded (blank where the case's periods were blanked)."""
    blanks = found.blanks[position]
    if not blanks and found.granularity == found.stored:
        return row
    row = dict(row)
    if found.granularity != found.stored:
        for name in PERIODS:
            row[name] = recode(row[name], found.granularity, cache)
    for bit, name in enumerate(SUPPRESSION_ORDER):
        if blanks & (1 << bit):
            row[name] = None
    if row.get("measures"):
        row["measures"] = _measures(found, row["measures"], blanks, cache)
    return row


def apply_columns(found: Plan, start: int, data: dict, cache: dict) -> dict:
    """`apply` over a chunk of rows held column by column ({name: [value per row]}, the `start`th case first):
    the same values, a column at a time (a release of 100,000 cases made a dict per row here)."""
    blanks = found.blanks[start:start + len(next(iter(data.values()), ()))]
    recoding = found.granularity != found.stored
    if not recoding and not any(blanks):
        return data
    data = dict(data)
    if recoding:
        for name in PERIODS:
            data[name] = [recode(value, found.granularity, cache) for value in data[name]]
    for bit, name in enumerate(SUPPRESSION_ORDER):
        mask = 1 << bit
        if any(b & mask for b in blanks):
            data[name] = [None if b & mask else value for value, b in zip(data[name], blanks, strict=True)]
    if "measures" in data:
        data["measures"] = [_measures(found, text, b, cache) if text else text
                            for text, b in zip(data["measures"], blanks, strict=True)]
    return data


def _measures(found: Plan, text: str, blanks: int, cache: dict) -> str:
    """A case's packed measures with its periods' recoding, blank where the case's periods were blanked."""
    if not blanks & _BLANK_PERIODS and found.granularity == found.stored:
        return text
    parts = []
    for part in text.split(";"):
        if not part:
            continue
        code, from_period, to_period = part.split(":")
        if blanks & _BLANK_PERIODS:
            from_period = to_period = ""
            found.report["measure_periods_suppressed"] += 1
        else:
            from_period = recode(from_period or None, found.granularity, cache) or ""
            to_period = recode(to_period or None, found.granularity, cache) or ""
        parts.append(f"{code}:{from_period}:{to_period}")
    return ";".join(parts)


def check(rows: list[tuple], k: int) -> dict:
    """The combinations of quasi-identifier values that occur fewer than k times (empty: k-anonymous)."""
    return {combination: n for combination, n in Counter(rows).items() if n < k}
