"""k-anonymity of the release files (issue #18 point 4), the pure rules: periods recoded when many rows are rare,
the rest blanked one quasi-identifier at a time, every combination then at least k times, and the report counts
what was done."""
from __future__ import annotations

from collections import Counter

from services.registry.domain import anonymity
from services.registry.domain.anonymity import QUASI_IDENTIFIERS


def _row(office="kristiansand", county="agder", opened="2022-03", closed="2023-03", industry="retail",
         counsellor="c1", mentor=None, employer=None):
    return (office, county, opened, closed, industry, counsellor, mentor, employer)


def _files(rows, found):
    """The quasi-identifiers as the files carry them, through anonymity.apply like the cut."""
    cache = {}
    result = []
    for position, row in enumerate(rows):
        applied = anonymity.apply(found, position, dict(zip(QUASI_IDENTIFIERS, row, strict=True)), cache)
        result.append(tuple(applied[name] for name in QUASI_IDENTIFIERS))
    return result


def test_a_small_office_is_blanked_and_every_combination_occurs_k_times():
    rows = [_row() for _ in range(20)] + [_row(office="hoyanger", county="vestland") for _ in range(2)]
    found = anonymity.plan(rows, 5, "month")
    files = _files(rows, found)
    assert anonymity.check(files, 5) == {} and min(Counter(files).values()) >= 5
    assert found.granularity == "month"  # coarser periods would not make the small office less rare
    # The two of the small office cannot be told apart from three others: all five are blank, the other 17 whole.
    blank = (None,) * len(QUASI_IDENTIFIERS)
    assert Counter(files) == {rows[0]: 17, blank: 5}
    assert files[20] == files[21] == blank and files[:17] == rows[:17]
    report = found.report
    assert report["suppressed"]["office"] == 5 and report["suppressed"]["county"] == 5
    assert report["suppressed"]["employer_pseudonym"] == 0  # none to blank
    assert report["reached"] and report["smallest_group"] == 5 and report["recoded"]["opened_period"] == 0


def test_periods_are_recoded_when_many_rows_are_rare_and_the_employer_is_blanked_first():
    rows = [_row(opened=f"2022-{month:02d}", closed=f"2023-{month:02d}", employer="e1" if month % 3 == 0 else "e0")
            for month in range(1, 13) for _ in range(4)]
    found = anonymity.plan(rows, 5, "month")
    files = _files(rows, found)
    assert anonymity.check(files, 5) == {}
    assert found.granularity == "quarter"  # each month pair has 4 cases, each quarter 12
    assert {row[2] for row in files} == {"2022-Q1", "2022-Q2", "2022-Q3", "2022-Q4"}
    assert found.report["recoded"] == {"opened_period": 48, "closed_period": 48}  # none blanked
    # A quarter: 8 at employer e0, 4 at e1; the 4 lose their employer and one of the 8 joins them.
    assert found.report["suppressed"] == dict.fromkeys(anonymity.SUPPRESSION_ORDER, 0) | {"employer_pseudonym": 20}
    assert Counter(row[7] for row in files) == {"e0": 28, None: 20}


def test_rows_rare_in_everything_take_in_a_group_that_cannot_spare_rows_whole():
    rows = [_row() for _ in range(6)] + [_row(office="x", county="y", industry="z", counsellor=f"c{n}")
                                         for n in range(3)]
    found = anonymity.plan(rows, 5, "year")
    files = _files(rows, found)
    assert anonymity.check(files, 5) == {}
    assert Counter(files) == {(None,) * len(QUASI_IDENTIFIERS): 9}
    assert found.report["reached"]


def test_fewer_rows_than_k_cannot_be_made_k_anonymous_and_the_report_says_so():
    found = anonymity.plan([_row(), _row()], 5, "month")
    assert not found.report["reached"] and found.report["smallest_group"] == 2


def test_measures_follow_their_cases_periods():
    rows = [_row() for _ in range(10)] + [_row(opened="2021-01")]
    found = anonymity.plan(rows, 5, "month")
    cache = {}
    assert found.granularity == "month"

    def applied(position, measures):
        return anonymity.apply(found, position, dict(zip(QUASI_IDENTIFIERS, rows[position], strict=True),
                                                     measures=measures), cache)
    assert applied(0, "wage_subsidy:2022-03:2023-03")["measures"] == "wage_subsidy:2022-03:2023-03"
    odd = applied(10, "wage_subsidy:2021-01:;work_training:2021-01:2023-03")
    assert odd["opened_period"] is None and odd["measures"] == "wage_subsidy::;work_training::"
    assert found.report["measure_periods_suppressed"] == 2
    assert applied(9, "wage_subsidy:2022-03:")["measures"] == "wage_subsidy::"  # it joined the odd one


def test_coarser_periods_reach_the_measures_too():
    rows = [_row(opened=f"2022-0{month}") for month in (1, 2, 3) for _ in range(2)]
    found = anonymity.plan(rows, 5, "month")
    assert found.granularity == "quarter"
    applied = anonymity.apply(found, 0, dict(zip(QUASI_IDENTIFIERS, rows[0], strict=True),
                                             measures="wage_subsidy:2022-01:"), {})
    assert applied["opened_period"] == "2022-Q1" and applied["measures"] == "wage_subsidy:2022-Q1:"
