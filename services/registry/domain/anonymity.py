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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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
    row, the quasi-identifiers to blank (a bit per name of SUPPRESSION_ORDER, a byte per row)."""

    k: int
    stored: str
    granularity: str
    blanks: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint8))
    report: dict = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return len(self.blanks)


def plan(rows, k: int, stored: str) -> Plan:
    """The recoding and suppression that make `rows` (an iterable of tuples of QUASI_IDENTIFIERS' values, periods
    stored in the project's granularity `stored`) k-anonymous, with the report for the release notes."""
    return plan_columns(list(zip(*rows, strict=True)), k, stored)


def plan_columns(columns, k: int, stored: str) -> Plan:
    """`plan` of the quasi-identifiers given column by column (QUASI_IDENTIFIERS' order; each a sequence of texts
    or None, e.g. a pyarrow string array): counted in numpy, a number per value, instead of a Python list per row
    (1.8 s and ~60 MB at 100,000 cases that glibc did not give back)."""
    codes, texts = _encoded_columns(columns)
    cache = {}
    granularity = _granularity_of(codes, texts, k, stored, cache)
    if granularity != stored:
        for name in PERIODS:
            column = _COLUMN[name]
            numbers = {}
            new = np.array([numbers.setdefault(recode(text, granularity, cache), len(numbers))
                            for text in texts[column]] + [-1], dtype=np.int32)
            codes[:, column] = new[codes[:, column]]  # -1 (blank) is the last entry: stays -1
    blanks = np.zeros(len(codes), dtype=np.uint8)
    suppressed = dict.fromkeys(SUPPRESSION_ORDER, 0)
    for bit, name in enumerate(SUPPRESSION_ORDER):
        column = _COLUMN[name]
        groups, sizes = _grouped(codes)
        rare = (sizes[groups] < k) & (codes[:, column] >= 0)
        codes[rare, column] = -1
        blanks[rare] |= 1 << bit
        suppressed[name] += int(rare.sum())
        _complete_rare(codes, blanks, suppressed, k)
    # Every period is written coarser once the step is taken: those still there at the end are the recoded ones.
    recoded = {name: 0 if granularity == stored else int((codes[:, _COLUMN[name]] >= 0).sum()) for name in PERIODS}
    sizes = _grouped(codes)[1]
    smallest = int(sizes.min()) if len(sizes) else 0
    report = {"k": k, "quasi_identifiers": list(QUASI_IDENTIFIERS), "stored_periods": stored,
              "periods": granularity, "recoded": recoded, "suppressed": suppressed,
              "measure_periods_suppressed": 0, "smallest_group": smallest, "reached": not len(sizes) or smallest >= k}
    return Plan(k=k, stored=stored, granularity=granularity, blanks=blanks, report=report)


def _encoded_columns(columns) -> tuple[np.ndarray, list[list]]:
    """The values as a number per row and column (-1 for None) and, per period column, the text of each number."""
    arrays = [column.combine_chunks() if isinstance(column, pa.ChunkedArray) else
              column if isinstance(column, pa.Array) else pa.array(column, pa.string()) for column in columns]
    if not arrays:
        return np.zeros((0, len(QUASI_IDENTIFIERS)), dtype=np.int32), [[] for _ in QUASI_IDENTIFIERS]
    codes = np.empty((len(arrays[0]), len(arrays)), dtype=np.int32)
    texts = []
    for position, array in enumerate(arrays):
        encoded = pc.dictionary_encode(array)
        codes[:, position] = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
        # Only the periods' texts are needed (to recode them): a pseudonym's would be 100,000 strings.
        texts.append(encoded.dictionary.to_pylist() if QUASI_IDENTIFIERS[position] in PERIODS else None)
        del encoded
        # Arrow's pool keeps what the hash table of 100,000 pseudonyms took (~10 MB a column) unless told.
        pa.default_memory_pool().release_unused()
    return codes, texts


def _grouped(codes: np.ndarray, columns=None) -> tuple[np.ndarray, np.ndarray]:
    """Each row's group (numbered in the order of the group's first row) and each group's size, a group being the
    rows equal in `columns` (all of them by default)."""
    columns = range(codes.shape[1]) if columns is None else columns
    key = np.zeros(len(codes), dtype=np.int64)
    span = 1
    for column in columns:
        values = codes[:, column].astype(np.int64) + 1  # -1 (blank) is 0
        width = int(values.max()) + 1 if len(values) else 1
        if span * width >= 1 << 62:  # renumber what is packed so far before it overflows
            key = np.unique(key, return_inverse=True)[1].reshape(-1).astype(np.int64)
            span = int(key.max()) + 1
        key = key * width + values
        span *= width
    _unique, first, inverse, sizes = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[inverse.reshape(-1)], sizes[order]


def _granularity_of(codes: np.ndarray, texts: list[list], k: int, stored: str, cache: dict) -> str:
    """The periods one step coarser while more than RECODE_SHARE of the rows are rare over what an outsider can
    know, and the step makes fewer of them rare (a small office stays rare whatever its periods)."""
    known = [_COLUMN[name] for name in OUTSIDE_KNOWN]

    def rare(granularity):
        view = codes[:, known].copy()
        for name in PERIODS:
            column = known.index(_COLUMN[name])
            numbers = {None: -1}
            lookup = np.array([numbers.setdefault(recode(text, granularity, cache), len(numbers) - 1)
                               for text in texts[_COLUMN[name]]] + [-1], dtype=np.int32)
            view[:, column] = lookup[view[:, column]]
        groups, sizes = _grouped(view)
        counts = sizes[groups]
        return int(counts[counts < k].size)
    level = GRANULARITIES.index(stored)
    current = rare(stored) if len(codes) else 0
    while level < len(GRANULARITIES) - 1 and current > RECODE_SHARE * len(codes):
        coarser = rare(GRANULARITIES[level + 1])
        if coarser >= current:
            break
        level, current = level + 1, coarser
    return GRANULARITIES[level]


def _complete_rare(codes: np.ndarray, blanks: np.ndarray, suppressed: dict, k: int) -> None:
    """Fill each group still short of k (largest first, then in the order of their first rows) from groups of at
    least k that differ from it only where it is blank: a group that can spare the rows gives its last ones, one
    that cannot goes whole (so none falls below k). The groups that could take from another are found in numpy;
    those, and the few rows that move, are then handled one at a time."""
    groups, sizes = _grouped(codes)
    rare = np.flatnonzero(sizes < k)
    if not len(rare):
        return
    rare = rare[np.argsort(-sizes[rare], kind="stable")]
    order = np.argsort(groups, kind="stable")  # the rows of each group, in position order
    starts = np.concatenate(([0], np.cumsum(sizes)))
    keys = codes[order[starts[:-1]]]
    # A group's blank columns as bits; per such pattern, the groups alike outside it: a rare group alone there has
    # nothing to take from.
    patterns = ((keys < 0) << np.arange(keys.shape[1])).sum(axis=1)
    rare_patterns = patterns[rare]
    alike, possible = {}, np.zeros(len(rare), dtype=bool)
    for pattern in np.unique(rare_patterns).tolist():
        same, counts = _grouped(keys, [c for c in range(keys.shape[1]) if not pattern >> c & 1])
        by_same = np.argsort(same, kind="stable")
        alike[pattern] = (same, by_same, np.concatenate(([0], np.cumsum(counts))))
        chosen = rare_patterns == pattern
        possible[chosen] = counts[same[rare[chosen]]] > 1
    # The groups a pattern may take from are those of at least k when its first rare group comes (as before).
    first_of_pattern = np.unique(rare_patterns, return_index=True)[1]
    steps = np.union1d(np.flatnonzero(possible), first_of_pattern)
    members, eligible = {}, {}

    def rows_of(group):
        if group not in members:
            members[group] = order[starts[group]:starts[group + 1]].tolist()
        return members[group]
    for step in steps.tolist():
        key, pattern = int(rare[step]), int(rare_patterns[step])
        if pattern not in eligible:
            eligible[pattern] = sizes >= k
        if not possible[step]:
            continue
        same, by_same, bounds = alike[pattern]
        others = by_same[bounds[same[key]]:bounds[same[key] + 1]]
        others = others[eligible[pattern][others]].tolist()
        blank = [(bit, _COLUMN[name]) for bit, name in enumerate(SUPPRESSION_ORDER) if pattern >> _COLUMN[name] & 1]
        for other in sorted(others, key=lambda group: -sizes[group]):
            need = k - sizes[key]
            if need <= 0:
                break
            if other == key or sizes[other] < k:
                continue
            rows = rows_of(other)
            taken = rows[-need:] if len(rows) - need >= k else list(rows)
            del rows[len(rows) - len(taken):]
            sizes[other] -= len(taken)
            for position in taken:
                for bit, column in blank:
                    if codes[position, column] >= 0:
                        codes[position, column] = -1
                        blanks[position] |= 1 << bit
                        suppressed[SUPPRESSION_ORDER[bit]] += 1
            rows_of(key).extend(taken)
            sizes[key] += len(taken)


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
    if not recoding and not blanks.any():
        return data
    data = dict(data)
    if recoding:
        for name in PERIODS:
            data[name] = [recode(value, found.granularity, cache) for value in data[name]]
    for bit, name in enumerate(SUPPRESSION_ORDER):
        blanked = (blanks & (1 << bit)).astype(bool)
        if blanked.any():
            data[name] = [None if b else value for value, b in zip(data[name], blanked.tolist(), strict=True)]
    if "measures" in data:
        data["measures"] = [_measures(found, text, b, cache) if text else text
                            for text, b in zip(data["measures"], blanks.tolist(), strict=True)]
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
