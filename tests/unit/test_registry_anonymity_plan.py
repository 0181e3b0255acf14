"""The k-anonymity plan counted in numpy (anonymity.plan_columns) gives what the plan as first written gave, a Python
list per row: the same blanks row by row, the same periods and the same report, on cohorts with small groups where
every step acts (periods recoded or not, rows blanked, rare groups filled from larger ones, fewer rows than k)."""
from __future__ import annotations

import random

import pytest

from services.registry.domain import anonymity


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
    by_rows, by_columns = anonymity._plan_by_rows(rows, k, "month"), anonymity.plan(rows, k, "month")
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
