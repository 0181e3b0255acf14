"""Small-count suppression of one table (one variable by one grouping): every count below the threshold is hidden,
zeros are shown, and no hidden count below the threshold can be worked out from the shown cells and totals, also
using that counts are whole numbers >= 0 (checked here by an integer program written apart from the service's)."""
import random

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from services.registry.domain.disclosure import TOTAL, Grid, protect


def _suppress(cells, threshold):
    """The matrix with its totals (last column, last row) as protect() publishes it, hidden numbers as None."""
    codes = [f"c{i}" for i in range(len(cells))]
    units = {f"u{j}": frozenset({(f"u{j}", "y")}) for j in range(len(cells[0]))}
    grid = Grid({"v": tuple(codes)}, tuple((u, "y") for u in units), {"office": units})
    counts = {("v", codes[i], (f"u{j}", "y")): n for i, row in enumerate(cells) for j, n in enumerate(row)}
    cases = {(f"u{j}", "y"): sum(row[j] for row in cells) for j in range(len(cells[0]))}
    values, hidden = protect(grid, counts, cases, threshold)
    shown = []
    for code in codes + [TOTAL]:
        shown.append([None if grid.key("v", code, pairs) in hidden else values[grid.key("v", code, pairs)]
                      for pairs in grid.unit_sets("office")])
    return shown


def _values(cells):
    rows = [list(r) + [sum(r)] for r in cells]
    totals = [sum(r[j] for r in cells) for j in range(len(cells[0]))]
    return rows + [totals + [sum(totals)]]


def _determined(values, shown, threshold):
    """Hidden entries below the threshold whose smallest and largest whole value agree, given the shown ones."""
    n, m = len(values) - 1, len(values[0]) - 1

    def vector(i, j):
        row = np.zeros(n * m)
        for a in (range(n) if i == n else [i]):
            for b in (range(m) if j == m else [j]):
                row[a * m + b] = 1
        return row
    shown_at = [(i, j) for i in range(n + 1) for j in range(m + 1) if shown[i][j] is not None]
    constraint = LinearConstraint(np.array([vector(i, j) for i, j in shown_at]),
                                  [values[i][j] for i, j in shown_at], [values[i][j] for i, j in shown_at])
    found = set()
    for i in range(n + 1):
        for j in range(m + 1):
            if shown[i][j] is None and values[i][j] < threshold:
                low, high = (milp(sign * vector(i, j), constraints=constraint, integrality=np.ones(n * m),
                                  bounds=Bounds(0, np.inf)) for sign in (1, -1))
                assert low.status == 0 and high.status in (0, 3, 4)  # 3, 4: no maximum, so not determined
                if high.status == 0 and round(low.fun) == round(-high.fun):
                    found.add((i, j))
    return found


def _hidden(shown):
    return {(i, j) for i, row in enumerate(shown) for j, v in enumerate(row) if v is None}


def _check(cells, threshold):
    shown = _suppress(cells, threshold)
    values = _values(cells)
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            if 0 < v < threshold:
                assert shown[i][j] is None, f"small count {v} at {i},{j} shown"
            if shown[i][j] is not None:
                assert shown[i][j] == v
            if v == 0:
                assert shown[i][j] == 0, "zeros are shown"
    assert not _determined(values, shown, threshold), "a hidden count can be derived from the totals"
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
    assert _hidden(_suppress([[10, 20], [30, 40]], 5)) == set()


def test_zeros_are_shown():
    shown = _check([[0, 12], [7, 0]], 5)
    assert shown[0][0] == 0 and shown[1][1] == 0


def test_a_zero_column_hides_nothing_and_gives_nothing_away():
    # The first leak: two cells hidden in a column whose total is 0 were both 0, and the row totals then
    # gave another column's hidden 3 away. Zeros are never hidden now, and the 3 is protected otherwise.
    shown = _check([[0, 3, 9], [0, 8, 2], [0, 7, 12]], 5)
    assert [shown[i][0] for i in range(4)] == [0, 0, 0, 0]


def test_non_negativity_is_used_by_the_attack():
    # Row 0: hidden 1 and 2 with total 3 shown would allow (0,3),(3,0): but the columns pin them; the search hides
    # until a whole-number solution with another value exists.
    _check([[1, 2, 40], [6, 7, 8], [30, 30, 30]], 5)


@pytest.mark.parametrize("seed", range(40))
def test_random_tables_leak_nothing(seed):
    rng = random.Random(seed)
    rows, cols = rng.randint(1, 9), rng.randint(1, 6)
    cells = [[rng.choice([0, 0, 1, 2, 3, 4, 5, 6, 9, 15, 30]) for _ in range(cols)] for _ in range(rows)]
    _check(cells, rng.choice([3, 5, 10]))
