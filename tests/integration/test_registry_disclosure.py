"""Disclosure control that holds (issue #18), on both databases, with 200 synthetic closures entered through the
ingest: an attacker who has every table a filter set publishes (each of the six tables by office, by county and
by period; table 5 with its frequency, intensity and forms for the candidate and the mentor, a form's "not used"
an unknown of its own) solves, for every hidden count below the threshold, the smallest and largest value it can
have: whole numbers >= 0, every shown number an equation, and every table counting the same cases per office and
year. Not one is determined. Attacking all the tables of a filter set at once is stronger than attacking every
pair of them (more equations can only narrow what is possible), so it covers every pair.

The attacker is written here, apart from the service's own search (services.registry.domain.disclosure): its
unknowns are every inner cell, zeros included, and it reads the published tables through the API."""
from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from services.registry import demo, service, tables
from services.registry.app import create_app
from services.registry.domain.reports import BY, DISTRIBUTIONS, PARTIES
from shared import directory
from shared.auth import mint_token
from shared.vocab import VOCABULARIES

SECRET = "disclosure-test-secret-" + "d" * 40
THRESHOLD = 5
FILTER_SETS = [
    {},
    {"period_from": "2023-01", "period_to": "2023-12"},  # the issue's leaks: a county's one office, zero columns
    {"county": "agder"},
    {"period_from": "2022", "period_to": "2023-Q2"},
]


@pytest.fixture
def cohort(platform_factory, db_url, monkeypatch):
    monkeypatch.setenv("REGISTRY_PSEUDONYM_SECRET", SECRET)
    platform = platform_factory("registry", tables.all_tables(), db_url)
    outcomes = demo.seed_cohort(platform, 200)
    assert outcomes == {"granted": 200, "accepted": 200}
    monkeypatch.delenv("REGISTRY_PSEUDONYM_SECRET")
    client = create_app(platform=platform).test_client()
    token = mint_token(platform.settings, subject="rune-forsker", role="researcher", name="Test")
    headers = {"Authorization": f"Bearer {token}"}
    rows = json.loads(client.get("/api/v1/exports/closures.json", headers=headers).get_data(as_text=True))["rows"]
    return platform, client, headers, rows


def _in_filter(row, filters, county_of):
    period = row["closed_period"]  # month coarsening: YYYY-MM
    lowest = {"2023-01": "2023-01", "2022": "2022-01"}.get(filters.get("period_from"), "0000")
    highest = {"2023-12": "2023-12", "2023-Q2": "2023-06"}.get(filters.get("period_to"), "9999")
    return (lowest <= period <= highest and filters.get("county") in (None, county_of[row["office"]])
            and filters.get("office") in (None, row["office"]))


def _variable(group, code, party):
    """Table 5's row and column as a variable and code: a form is a yes/no variable of its own."""
    return (f"forms_{party}__{code}", "yes") if group == "forms" else (f"{group}_{party}", code)


def _variables(published) -> dict:
    variables = {DISTRIBUTIONS[t][0]: [r["code"] for r in published[(t, "office")]["rows"]]
                 for t in DISTRIBUTIONS if t != "5"}
    for party in PARTIES:
        for row in published[("5", "office")]["rows"]:
            name, code = _variable(row["group"], row["code"], party)
            variables.setdefault(name, []).extend([code] if row["group"] != "forms" else ["yes", "no"])
    return variables


def _numbers(table_id, table):
    """(variable or None for n, code, unit or None for the sum, number) of every number a table shows."""
    if table_id != "5":
        variable = DISTRIBUTIONS[table_id][0]
        units = [c["code"] for c in table["columns"]] + [None]
        for row in table["rows"]:
            for unit, number in zip(units, row["cells"] + [row["total"]], strict=True):
                yield variable, row["code"], unit, number
        for unit, number in zip(units, table["totals"]["cells"] + [table["totals"]["total"]], strict=True):
            yield None, None, unit, number
        return
    columns = [(c["code"], c["party"]) for c in table["columns"]] + [(None, p["code"]) for p in table["parties"]]
    for row in table["rows"]:
        for (unit, party), number in zip(columns, row["cells"] + row["party_totals"], strict=True):
            yield (*_variable(row["group"], row["code"], party), unit, number)
    for (unit, _party), number in zip(columns, table["totals"]["cells"] + table["totals"]["party_totals"],
                                      strict=True):
        yield None, None, unit, number


def _attack(published: dict, truth: Counter, offices_of_county: dict) -> list:
    """Hidden counts below the threshold that the published tables determine: [(table, by, code, unit, value)]."""
    offices = [c["code"] for c in published[("3", "office")]["columns"]]
    years = [c["code"] for c in published[("3", "period")]["columns"]]
    pairs = [(o, y) for o in offices for y in years]
    variables = _variables(published)
    unknowns = [(v, c, p) for v, codes in variables.items() for c in codes for p in pairs]
    index = {u: k for k, u in enumerate(unknowns)}

    def members(by, unit):
        if unit is None:
            return pairs
        if by == "office":
            return [(unit, y) for y in years]
        if by == "county":
            return [(o, y) for o in offices_of_county[unit] if o in offices for y in years]
        return [(o, unit) for o in offices]

    def vector(variable, code, by, unit):
        row = np.zeros(len(unknowns))
        codes = variables[variable] if code is None else [code]
        for p in members(by, unit):
            for c in codes:
                row[index[(variable, c, p)]] = 1
        return row

    equations, rhs, hidden = [], [], []
    anchor = next(iter(variables))
    for (table_id, by), table in published.items():
        for variable, code, unit, number in _numbers(table_id, table):
            variable = variable or anchor  # n: every variable counts the same cases
            if number is None:
                hidden.append((table_id, by, variable, code, unit, vector(variable, code, by, unit)))
            else:
                equations.append(vector(variable, code, by, unit))
                rhs.append(number)
    for variable in variables:  # every table counts the same cases per office and year
        for p in pairs:
            if variable != anchor:
                equations.append(_pair_vector(index, variables, variable, anchor, p))
                rhs.append(0)
    constraint = LinearConstraint(np.array(equations), rhs, rhs)
    determined = []
    for table_id, by, variable, code, unit, target in hidden:
        value = sum(truth[(variable, c, p)] for c in ([code] if code else variables[variable])
                    for p in members(by, unit))
        if value >= THRESHOLD:
            continue
        low, high = (milp(sign * target, constraints=constraint, integrality=np.ones(len(unknowns)),
                          bounds=Bounds(0, np.inf)) for sign in (1, -1))
        assert low.status == 0 and high.status in (0, 3, 4)  # 3, 4: no maximum, so not determined
        if high.status != 0:
            continue
        assert round(low.fun) <= value <= round(-high.fun)
        if round(low.fun) == round(-high.fun):
            determined.append((table_id, by, variable, code, unit, value))
    return determined


def _pair_vector(index, variables, variable, anchor, pair):
    row = np.zeros(len(index))
    for c in variables[variable]:
        row[index[(variable, c, pair)]] += 1
    for c in variables[anchor]:
        row[index[(anchor, c, pair)]] -= 1
    return row


@pytest.mark.parametrize("filters", FILTER_SETS, ids=lambda f: "&".join(f"{k}={v}" for k, v in f.items()) or "all")
def test_no_hidden_count_below_the_threshold_is_determined_by_the_filter_sets_tables(cohort, filters):
    platform, client, headers, rows = cohort
    data = directory.read_directory_file()
    county_of = {o["code"]: o["county_code"] for o in data["offices"]}
    offices_of_county = {}
    for office, county in county_of.items():
        offices_of_county.setdefault(county, []).append(office)
    truth = Counter()
    for row in rows:
        if _in_filter(row, filters, county_of):
            pair = (row["office"], row["closed_period"][:4])
            for column, _vocab, _nb, _en in DISTRIBUTIONS.values():
                if column:
                    truth[(column, row[column], pair)] += 1
            for party in PARTIES:
                for name in (f"frequency_{party}", f"intensity_{party}"):
                    truth[(name, row[name], pair)] += 1
                used = (row[f"forms_{party}"] or "").split(";")
                for form in VOCABULARIES["contact_form"]:
                    truth[(f"forms_{party}__{form}", "yes" if form in used else "no", pair)] += 1
    published = {}
    for table_id in DISTRIBUTIONS:
        for by in BY:
            response = client.get(f"/api/v1/tables/{table_id}", query_string={"by": by, **filters}, headers=headers)
            assert response.status_code == 200, response.get_json()
            published[(table_id, by)] = table = response.get_json()
            numbers = [number for _v, _c, _u, number in _numbers(table_id, table)]
            assert all(v is None or v == 0 or v >= THRESHOLD for v in numbers), (table_id, by)
            for j, n in enumerate(table["totals"]["cells"]):
                if n == 0:  # a zero column: every cell in it is shown as 0, nothing hidden to give away
                    assert [r["cells"][j] for r in table["rows"]] == [0] * len(table["rows"])
    assert published[("3", "office")]["totals"]["total"] == sum(1 for r in rows if _in_filter(r, filters, county_of))
    hidden_small = sum(v is None for t in published.values() for r in t["rows"] for v in r["cells"])
    assert hidden_small > 0, "the cohort must have small counts for the attack to mean anything"
    assert _attack(published, truth, offices_of_county) == []


def test_the_issues_leaks_are_closed(cohort):
    platform, client, headers, rows = cohort
    period = {"period_from": "2023-01", "period_to": "2023-12"}
    by_office = client.get("/api/v1/tables/4", query_string={"by": "office", **period}, headers=headers).get_json()
    by_county = client.get("/api/v1/tables/4", query_string={"by": "county", **period}, headers=headers).get_json()
    # Offices without a case in 2023 show a column of zeros under an n of 0, nothing hidden.
    empty = [j for j, n in enumerate(by_office["totals"]["cells"]) if n == 0]
    assert empty and all(r["cells"][j] == 0 for r in by_office["rows"] for j in empty)
    # Each county had one office with cases in 2023: its column is that office's, with the same cells hidden.
    office_column = {c["code"]: j for j, c in enumerate(by_office["columns"])}
    for j, county in enumerate(by_county["columns"]):
        only = {"agder": "kristiansand", "trondelag": "midtre-gauldal", "vestland": "bergen-vest"}[county["code"]]
        county_cells = [r["cells"][j] for r in by_county["rows"]]
        assert county_cells == [r["cells"][office_column[only]] for r in by_office["rows"]]
    # Percentages of the column's n, hidden with the count they would give away.
    for row in by_office["rows"]:
        for count, percent, n in zip(row["cells"], row["percents"], by_office["totals"]["cells"], strict=True):
            assert (percent is None) == (count is None or not n)
            if percent is not None:
                assert percent == round(100 * count / n, 1)


def test_period_filters_compare_quarters_and_refuse_what_they_cannot(cohort):
    platform, client, headers, rows = cohort
    first_half = sum(1 for r in rows if "2023-01" <= r["closed_period"] <= "2023-06")
    answer = client.get("/api/v1/tables/outcome", headers=headers,
                        query_string={"by": "period", "period_from": "2023-Q1", "period_to": "2023-Q2"}).get_json()
    assert answer["totals"]["total"] == first_half
    year = client.get("/api/v1/tables/outcome", headers=headers, query_string={"by": "period", "period_from": "2023",
                                                                             "period_to": "2023"}).get_json()
    assert year["totals"]["total"] == sum(1 for r in rows if r["closed_period"].startswith("2023"))
    for query, field in (({"period_from": "2023-12-01"}, "period_from"), ({"period_to": "2023-06-30"}, "period_to"),
                         ({"period_from": "2023-07", "period_to": "2023-Q2"}, "period_to"),
                         ({"period_from": "2023-13"}, "period_from"), ({"period_to": "0000"}, "period_to"),
                         ({"period_from": "0000-Q1"}, "period_from")):
        refused = client.get("/api/v1/tables/4", query_string=query, headers=headers)
        assert refused.status_code == 422 and set(refused.get_json()["errors"]) == {field}, query
        assert client.get("/api/v1/tables/1", query_string=query, headers=headers).status_code == 422
    assert service.newest_change(platform) >= 200
