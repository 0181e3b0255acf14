"""The k-anonymity plan counted in numpy (anonymity.plan_columns) gives what the plan as first written gave, a Python
list per row: the same blanks row by row, the same periods and the same report, on cohorts with small groups where
every step acts (periods recoded or not, rows blanked, rare groups filled from larger ones, fewer rows than k)."""
from __future__ import annotations

import random
from collections import Counter

import pytest

from services.registry.domain import anonymity
from services.registry.domain.anonymity import (
    _COLUMN,
    OUTSIDE_KNOWN,
    PERIODS,
    QUASI_IDENTIFIERS,
    RECODE_SHARE,
    SUPPRESSION_ORDER,
)
from services.registry.domain.periods import GRANULARITIES, recode


# ---------------------------------------------------------------- the plan as first written: a list per row
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


def _plan_by_rows(rows, k: int, stored: str) -> anonymity.Plan:
    """`plan` as first written (a Python list per row), the reference."""
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
    return anonymity.Plan(k=k, stored=stored, granularity=granularity, blanks=groups.blanks, report=report)



# ---------------------------------------------------------------- the comparison
def _cohort(rng, size):
    """Offices of every size, periods and values missing now and then, pseudonyms shared by few or many."""
    offices = [(f"o{n}", f"c{n % 4}") for n in range(rng.randint(1, 12))]
    rows = []
    for _ in range(size):
        office, county = rng.choice(offices)
        year = rng.choice([2021, 2022, 2023])
        rows.append((office if rng.random() > 0.05 else None, county,
                     f"{year}-{rng.randint(1, 12):02d}" if rng.random() > 0.1 else None,
                     f"{year + 1}-{rng.randint(1, 12):02d}", rng.choice(["a", "b", "c", None]),
                     f"p{rng.randint(0, rng.choice([3, 30]))}",
                     None if rng.random() < 0.5 else f"m{rng.randint(0, size // 3)}",
                     None if rng.random() < 0.3 else f"e{rng.randint(0, rng.choice([5, size]))}"))
    return rows


@pytest.mark.parametrize("seed", range(60))
def test_the_plan_in_numpy_gives_what_the_rows_gave(seed):
    rng = random.Random(seed)
    rows = _cohort(rng, rng.choice([3, 10, 50, 200, 1000]))
    k = rng.choice([2, 3, 5, 10])
    by_rows, by_columns = _plan_by_rows(rows, k, "month"), anonymity.plan(rows, k, "month")
    assert by_columns.blanks.tolist() == list(by_rows.blanks)
    assert (by_columns.granularity, by_columns.report) == (by_rows.granularity, by_rows.report)


def test_the_cohorts_take_every_step(monkeypatch):
    """The comparison above is worth something only if its cohorts recode, blank and fill rare groups."""
    moved = []
    fill = anonymity._complete_rare

    def counted(codes, blanks, suppressed, k):
        before = sum(suppressed.values())
        fill(codes, blanks, suppressed, k)
        moved.append(sum(suppressed.values()) - before)
    monkeypatch.setattr(anonymity, "_complete_rare", counted)
    recoded = short = 0
    for seed in range(60):
        rng = random.Random(seed)
        rows = _cohort(rng, rng.choice([3, 10, 50, 200, 1000]))
        found = anonymity.plan(rows, rng.choice([2, 3, 5, 10]), "month")
        recoded += found.granularity != "month"
        short += not found.report["reached"]
    assert recoded and short and sum(moved) > 100
