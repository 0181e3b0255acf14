"""Small-count suppression: every count below the threshold is hidden, and no hidden count can be worked out
from the shown cells and totals (checked by solving the table's linear system exactly)."""
import random

import pytest

from services.registry.domain.suppression import determined_entries, suppress


def _hidden(shown):
    return {(i, j) for i, row in enumerate(shown) for j, v in enumerate(row) if v is None}


def _values(cells):
    rows = [list(r) + [sum(r)] for r in cells]
    totals = [sum(r[j] for r in cells) for j in range(len(cells[0]))]
    return rows + [totals + [sum(totals)]]


def _check(cells, threshold):
    shown = suppress(cells, threshold)
    values = _values(cells)
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            if 0 < v < threshold:
                assert shown[i][j] is None, f"small count {v} at {i},{j} shown"
            if shown[i][j] is not None:
                assert shown[i][j] == v
    hidden = _hidden(shown)
    assert not determined_entries(values, hidden), "a hidden count can be derived from the totals"
    # No line has exactly one hidden entry (the simplest attack: subtraction).
    n, m = len(values), len(values[0])
    for i in range(n):
        assert sum((i, j) in hidden for j in range(m)) != 1
    for j in range(m):
        assert sum((i, j) in hidden for i in range(n)) != 1
    return shown


def test_single_small_cell_gets_a_complement_in_row_and_column():
    shown = _check([[12, 3, 20], [15, 9, 30], [10, 11, 7]], 5)
    assert shown[0][1] is None
    assert sum(v is None for v in shown[0]) >= 2
    assert sum(shown[i][1] is None for i in range(4)) >= 2


def test_small_total_is_hidden_and_cannot_be_recovered():
    shown = _check([[1, 2, 0], [20, 30, 25]], 5)
    assert shown[0][3] is None  # row total 3


def test_nothing_small_nothing_hidden():
    assert _hidden(suppress([[10, 20], [30, 40]], 5)) == set()


def test_zeros_are_shown():
    shown = _check([[0, 12], [7, 0]], 5)
    assert shown[0][0] == 0 and shown[1][1] == 0


def test_the_audit_finds_what_subtraction_misses():
    # Two hidden cells in every line, yet the pair (a, b) in a 2x2 block with known sums can be solved
    # only if constraints are independent: determined_entries must agree with brute reasoning here.
    values = _values([[3, 4], [6, 8]])
    hidden = {(0, 0), (0, 1), (0, 2)}  # a whole row incl. its total, but the column totals are shown
    assert determined_entries(values, hidden) == {(0, 0), (0, 1), (0, 2)}


@pytest.mark.parametrize("seed", range(40))
def test_random_tables_leak_nothing(seed):
    rng = random.Random(seed)
    rows, cols = rng.randint(1, 9), rng.randint(1, 6)
    cells = [[rng.choice([0, 0, 1, 2, 3, 4, 5, 6, 9, 15, 30]) for _ in range(cols)] for _ in range(rows)]
    _check(cells, rng.choice([3, 5, 10]))
