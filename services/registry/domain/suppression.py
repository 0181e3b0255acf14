"""Small-count suppression for distribution tables, with secondary suppression.

A table is a matrix of counts with row totals, column totals and a grand total. Primary: every count (cell or
total) with 0 < n < threshold is hidden. Secondary: a line (a row with its total, a column with its total, the
total row, the total column) with exactly one hidden entry would give it away by subtraction, so another
entry of that line is hidden too (the smallest positive one, a total only when nothing else is left). Then an
audit solves the linear system the published numbers form (exact rational arithmetic): any hidden entry the
totals still determine is found and a further entry is hidden, until none is.

Zeros are shown: a cell known to be empty discloses nothing about a person.
"""
from __future__ import annotations

from fractions import Fraction


def _extended(cells):
    """(n+1)x(m+1) matrix: cells, row totals in the last column, column totals and the grand total in the last row."""
    rows = [list(r) + [sum(r)] for r in cells]
    m = len(cells[0]) if cells else 0
    totals = [sum(r[j] for r in cells) for j in range(m)]
    rows.append(totals + [sum(totals)])
    return rows


def _lines(n, m):
    """Every line of the extended matrix as a list of (i, j): its last entry is the sum of the others."""
    lines = [[(i, j) for j in range(m + 1)] for i in range(n + 1)]
    lines += [[(i, j) for i in range(n + 1)] for j in range(m + 1)]
    return lines


def determined_entries(values, hidden):
    """Hidden entries that the shown numbers determine exactly (by linear algebra over the line equations)."""
    n, m = len(values) - 1, len(values[0]) - 1
    variables = sorted(hidden)
    index = {v: k for k, v in enumerate(variables)}
    if not variables:
        return set()
    equations = []
    for line in _lines(n, m):
        coeffs = [Fraction(0)] * len(variables)
        touched = False
        for position, (i, j) in enumerate(line):
            sign = -1 if position == len(line) - 1 else 1  # sum of the parts minus the total = 0
            if (i, j) in index:
                coeffs[index[(i, j)]] += sign
                touched = True
        if touched:
            equations.append(coeffs)
    basis = _row_reduce(equations, len(variables))
    determined = set()
    for var, k in index.items():
        if _in_span(basis, k, len(variables)):
            determined.add(var)
    return determined


def _row_reduce(rows, width):
    """Reduced row echelon form: list of (pivot column, row)."""
    reduced = []
    for row in rows:
        row = list(row)
        for pivot, base in reduced:
            if row[pivot] != 0:
                factor = row[pivot]
                row = [a - factor * b for a, b in zip(row, base, strict=True)]
        pivot = next((c for c in range(width) if row[c] != 0), None)
        if pivot is None:
            continue
        lead = row[pivot]
        row = [a / lead for a in row]
        updated = []
        for p, base in reduced:
            if base[pivot] != 0:
                factor = base[pivot]
                base = [a - factor * b for a, b in zip(base, row, strict=True)]
            updated.append((p, base))
        reduced = updated + [(pivot, row)]
    return reduced


def _in_span(basis, k, width):
    """Is the unit vector e_k a combination of the reduced rows?"""
    target = [Fraction(0)] * width
    target[k] = Fraction(1)
    for pivot, base in basis:
        if target[pivot] != 0:
            factor = target[pivot]
            target = [a - factor * b for a, b in zip(target, base, strict=True)]
    return all(a == 0 for a in target)


def suppress(cells, threshold):
    """Return the extended matrix with hidden entries as None.

    cells: list of rows of non-negative ints (at least one row and one column)."""
    if not cells or not cells[0]:
        return _extended(cells)
    values = _extended(cells)
    n, m = len(cells), len(cells[0])
    hidden = {(i, j) for i in range(n + 1) for j in range(m + 1) if 0 < values[i][j] < threshold}
    lines = _lines(n, m)

    def hide_one_more(line):
        candidates = [(i, j) for (i, j) in line if (i, j) not in hidden and values[i][j] > 0]
        inner = [c for c in candidates if c[0] < n and c[1] < m]
        pool = inner or candidates
        if not pool:  # only zeros left visible: hiding a zero still leaves two unknowns
            pool = [(i, j) for (i, j) in line if (i, j) not in hidden]
        if not pool:
            return False
        hidden.add(min(pool, key=lambda c: (values[c[0]][c[1]], c)))
        return True

    for _ in range((n + 1) * (m + 1)):
        changed = False
        for line in lines:
            if sum(1 for c in line if c in hidden) == 1:
                changed = hide_one_more(line) or changed
        if not changed:
            leaks = determined_entries(values, hidden)
            if not leaks:
                break
            for (i, j) in sorted(leaks):
                line = next(candidate for candidate in lines if (i, j) in candidate)
                changed = hide_one_more(line) or changed
                break
            if not changed:
                break
    return [[None if (i, j) in hidden else values[i][j] for j in range(m + 1)] for i in range(n + 1)]
