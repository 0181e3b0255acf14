"""Disclosure control of every table a filter set publishes: one suppression pattern shared by all of them.

A filter set (office, county, period range) publishes, for each distribution variable, its table by office, by
county and by period (calendar year of closure), each with row, column and grand totals. Every one of those numbers
is a sum of inner cells, the counts of (variable, code, office, year), so they are all decided together:

- primary: every published number with 0 < n < threshold is hidden;
- zeros are shown and never hidden: a zero tells nothing of a person, and a hidden zero under a total of 0 is given
  away (and with it, through the other totals, the counts beside it);
- one number published in two places (the county of a single office, the column totals every variable shares, the
  grand total) is one cell: hidden everywhere or nowhere;
- the attacker's model: every shown number is an equation over the inner cells, inner cells are whole numbers >= 0,
  and every variable counts the same cases (per office and year, each variable's codes add up to the same number).
  For each hidden number below the threshold an integer program looks for another solution in which it has another
  value; while there is none, a further shown number is hidden: first one that pins it (a dual price in the
  linear relaxation), the same variable's, a total for a total, the narrowest and smallest. Hiding only widens
  what is possible, so a number once protected stays protected and one pass over the hidden numbers suffices.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

# The search's version: part of a kept pattern's digest, so a change of what `protect` hides must raise it (a
# pattern kept by the older search is then never served).
VERSION = 2

TOTAL = None  # the code of a total row; a total's cell has no variable either (every variable counts the same cases)


@dataclass(frozen=True)
class Grid:
    """What a filter set publishes: `variables` {name: codes}, `pairs` the (office, year) pairs of the inner
    cells, `units` {grouping: {unit: frozenset of pairs}} (every grouping's columns; the total column is added)."""

    variables: dict
    pairs: tuple
    units: dict
    counted: frozenset | None = None  # the pairs with cases (None: all); the others are zero and shown so
    # (variable, code) whose numbers are never published but still count the cases: a multi-select's "not used"
    # (its "used" is published; the two add up to the cases, which the attacker knows)
    unpublished: frozenset = frozenset()

    def unit_sets(self, grouping) -> list:
        return list(self.units[grouping].values()) + [frozenset(self.pairs)]

    def key(self, variable, code, pairs: frozenset) -> tuple:
        """The published number's identity: pairs without cases left out, so that a county whose other offices
        had no case is the same number as its one office's."""
        return cell_key(variable, code, pairs if self.counted is None else pairs & self.counted)


def cell_key(variable, code, pairs: frozenset) -> tuple:
    """The one identity of a published number: a total is the same number in every variable's table."""
    return (None if code is TOTAL else variable, code, pairs)


def published_values(grid: Grid, counts: dict, cases: dict) -> dict:
    """{cell key: value} of every number the filter set publishes; `counts` {(variable, code, pair): n},
    `cases` {pair: number of cases}."""
    values = {}
    for grouping in grid.units:
        for pairs in grid.unit_sets(grouping):
            key = grid.key(None, TOTAL, pairs)
            if key not in values:
                values[key] = sum(cases.get(p, 0) for p in pairs)
            for variable, codes in grid.variables.items():
                for code in codes:
                    if (variable, code) in grid.unpublished:
                        continue
                    key = grid.key(variable, code, pairs)
                    if key not in values:
                        values[key] = sum(counts.get((variable, code, p), 0) for p in pairs)
    return values


class _Attack:
    """The attacker's integer program over the inner cells that no shown zero fixes."""

    def __init__(self, grid: Grid, values: dict):
        self.grid = grid
        self.values = values
        self.anchor = next(iter(grid.variables))  # the variable whose codes stand for the shared totals
        known_zero = set()
        for (variable, code, pairs), value in values.items():
            if value == 0:
                known_zero.update(self._inner(variable, code, pairs, every_variable=True))
        inner = [(v, c, p) for v, codes in grid.variables.items() for c in codes for p in grid.pairs]
        self.index = {cell: k for k, cell in enumerate(c for c in inner if c not in known_zero)}
        self.upper = max([values.get(grid.key(None, TOTAL, frozenset(grid.pairs)), 0), 1])
        self.links = self._links()

    def _inner(self, variable, code, pairs, every_variable=False):
        if code is not TOTAL:
            return [(variable, code, p) for p in pairs]
        variables = self.grid.variables if every_variable else [self.anchor]
        return [(v, c, p) for v in variables for c in self.grid.variables[v] for p in pairs]

    def row(self, key) -> dict:
        return {self.index[c]: 1.0 for c in self._inner(*key) if c in self.index}

    def _links(self) -> list:
        """Per (office, year) pair: each variable's codes add up to the anchor's."""
        rows = []
        for variable, codes in self.grid.variables.items():
            if variable == self.anchor:
                continue
            for pair in self.grid.pairs:
                row = {}
                for c in codes:
                    if (variable, c, pair) in self.index:
                        row[self.index[(variable, c, pair)]] = 1.0
                for c in self.grid.variables[self.anchor]:
                    if (self.anchor, c, pair) in self.index:
                        row[self.index[(self.anchor, c, pair)]] = row.get(self.index[(self.anchor, c, pair)], 0) - 1.0
                if any(row.values()):
                    rows.append((row, 0.0))
        return rows

    def _equations(self, hidden):
        shown = [(k, self.row(k), float(v)) for k, v in self.values.items() if k not in hidden and v > 0]
        shown = [(k, r, v) for k, r, v in shown if r]
        return [k for k, _r, _v in shown], [(r, v) for _k, r, v in shown] + self.links

    def range_excludes_others(self, key, hidden: set) -> bool:
        """True when the shown numbers, whole non-negative inner cells and the shared case counts leave `key` no
        other value than its own (it is determined)."""
        target = self.row(key)
        if not target:
            return True  # made of known zeros only
        _keys, equations = self._equations(hidden)
        true_value = self.values[key]
        for sign in (-1.0, 1.0):  # maximise, then minimise
            best = self._optimise(target, equations, sign)
            if best is None or (sign < 0 and best >= true_value + 1) or (sign > 0 and best <= true_value - 1):
                return False
        return True

    def pinning(self, key, hidden: set) -> set:
        """The shown numbers that hold `key` at its value: those whose equations carry a dual price in the linear
        relaxation of its maximum or minimum (hiding one of them is what can free it)."""
        import numpy as np  # see _optimise
        from scipy.optimize import linprog
        keys, equations = self._equations(hidden)
        target = self.row(key)
        matrix = self._sparse(equations)  # sparse, as _optimise's: a dense one cost most of the LP's time
        rhs = [value for _row, value in equations]
        found = set()
        for sign in (-1.0, 1.0):
            objective = np.zeros(len(self.index))
            for k, a in target.items():
                objective[k] = sign * a
            result = linprog(objective, A_eq=matrix if equations else None, b_eq=rhs if equations else None,
                             bounds=(0, self.upper), method="highs")
            if result.status == 0 and equations:
                found.update(k for k, price in zip(keys, result.eqlin.marginals, strict=False) if abs(price) > 1e-9)
        return found

    def _sparse(self, equations):
        from scipy.sparse import coo_matrix  # see _optimise
        rows, cols, data = [], [], []
        for number, (row, _value) in enumerate(equations):
            for k, a in row.items():
                rows.append(number)
                cols.append(k)
                data.append(a)
        return coo_matrix((data, (rows, cols)), shape=(len(equations), len(self.index))).tocsr()

    def _optimise(self, target, equations, sign):
        # numpy and scipy (~45 MB) load with the first table asked for, not in every process that imports the app
        import numpy as np
        from scipy.optimize import Bounds, LinearConstraint, milp
        from scipy.sparse import coo_matrix
        width = len(self.index)
        objective = np.zeros(width)
        for k, a in target.items():
            objective[k] = sign * a
        rows, cols, data, rhs = [], [], [], []
        for number, (row, value) in enumerate(equations):
            for k, a in row.items():
                rows.append(number)
                cols.append(k)
                data.append(a)
            rhs.append(value)
        constraints = []
        if equations:
            matrix = coo_matrix((data, (rows, cols)), shape=(len(equations), width)).tocsr()
            constraints = [LinearConstraint(matrix, rhs, rhs)]
        result = milp(objective, constraints=constraints, integrality=np.ones(width),
                      bounds=Bounds(0, self.upper))
        if result.status != 0:  # pragma: no cover - the true counts are always a solution
            return None
        return round(sign * result.fun)

def _candidates(key, values, hidden, pinning=frozenset()):
    """Shown positive numbers that share inner cells with `key` or pin it, the likeliest to free it first: those
    that pin it, the same variable's, a total for a total and a count for a count, the narrowest (an office's before
    a county's, a year's or a row total), then the smallest; so the margins researchers read most stay shown."""
    variable, code, pairs = key
    found = []
    for other, value in values.items():
        if other in hidden or value <= 0 or not (other in pinning or other[2] & pairs):
            continue
        same_variable = variable is None or other[0] in (variable, None)
        found.append(((other not in pinning, not same_variable, (other[1] is TOTAL) != (code is TOTAL),
                       len(other[2]), value, repr(other)), other))
    if not found:
        found = [((True, True, len(other[2]), value, repr(other)), other) for other, value in values.items()
                 if other not in hidden and value > 0]
    return [other for _rank, other in sorted(found)]


def protect(grid: Grid, counts: dict, cases: dict, threshold: int) -> tuple[dict, frozenset]:
    """The values of every published number and the keys of those hidden, so that no hidden number below the
    threshold is determined by the shown ones (the module's docstring has the model)."""
    values = published_values(grid, counts, cases)
    hidden = {key for key, value in values.items() if 0 < value < threshold}
    attack = _Attack(grid, values)
    for key in sorted(hidden, key=lambda k: (values[k], repr(k))):
        while attack.range_excludes_others(key, hidden):
            candidates = _candidates(key, values, hidden, attack.pinning(key, hidden))
            if not candidates:
                break
            hidden.add(candidates[0])
    return values, frozenset(hidden)


def _canonical(value):
    """A value as JSON the same in every process (sets sorted; string hashing differs between processes)."""
    if isinstance(value, dict):
        return sorted(([_canonical(k), _canonical(v)] for k, v in value.items()), key=json.dumps)
    if isinstance(value, (set, frozenset)):
        return sorted((_canonical(v) for v in value), key=json.dumps)
    if isinstance(value, (tuple, list)):
        return [_canonical(v) for v in value]
    return value


def digest(grid: Grid, counts: dict, cases: dict, threshold: int) -> str:
    """What a pattern depends on, as one key: everything `protect` reads and the search's VERSION."""
    document = [VERSION, threshold, _canonical(asdict(grid)), _canonical(counts), _canonical(cases)]
    return hashlib.sha256(json.dumps(document, separators=(",", ":")).encode()).hexdigest()


def encode_hidden(hidden: frozenset) -> list:
    """The hidden keys as JSON: [variable, code, [[office, year], ...]]."""
    return sorted(([variable, code, sorted([list(pair) for pair in pairs], key=json.dumps)]
                   for variable, code, pairs in hidden), key=json.dumps)


def decode_hidden(stored: list) -> frozenset:
    return frozenset((variable, code, frozenset(tuple(pair) for pair in pairs)) for variable, code, pairs in stored)
