"""The one reading of a typed date (shared.dates) and intake's date rule built on it."""
from datetime import date

import pytest

from services.intake.domain import rules
from shared.dates import DATE_FORMAT_MESSAGE, parse_date, shown


@pytest.mark.parametrize("typed, expected", [
    ("03.12.2026", date(2026, 12, 3)), ("3.12.2026", date(2026, 12, 3)), (" 3.1.2026 ", date(2026, 1, 3)),
    ("2026-12-03", date(2026, 12, 3)), ("29.02.2028", date(2028, 2, 29)),
])
def test_a_date_typed_as_people_write_it_is_read(typed, expected):
    assert parse_date(typed) == expected


@pytest.mark.parametrize("typed", [
    "", "   ", "i går", "32.01.2026", "00.01.2026", "15.13.2026", "15.00.2026", "29.02.2027", "31.04.2026",
    "2026-13-45", "03.12.26", "03/12/2026", "12/03/2026", "03.12.2026.", "3 12 2026", None, 20261203,
])
def test_anything_else_is_not_a_date(typed):
    assert parse_date(typed) is None


def test_a_field_shows_a_date_as_dd_mm_yyyy_and_a_refused_text_as_it_was_typed():
    assert shown(date(2026, 12, 3)) == "03.12.2026" and shown("2026-12-03") == "03.12.2026"
    assert shown("2026-13-45") == "2026-13-45" and shown("31.02.2026") == "31.02.2026" and shown(None) == ""


def test_the_rule_names_the_format_refuses_the_future_and_leaves_an_empty_optional_date():
    errors = {}
    assert rules.a_date(errors, "from_date", "3.12.2026") == date(2026, 12, 3) and not errors
    assert rules.a_date(errors, "from_date", "2026-13-45") is None
    assert errors == {"from_date": [DATE_FORMAT_MESSAGE]}
    assert DATE_FORMAT_MESSAGE == "Skriv datoen som dd.mm.åååå, for eksempel 03.12.2026."
    errors = {}
    assert rules.a_date(errors, "contact_date", "04.12.2026", not_after=date(2026, 12, 3)) is None
    assert "etter 03.12.2026" in str(errors["contact_date"][0])
    errors = {}
    assert rules.a_date(errors, "to_date", "", required=False) is None and not errors
    assert rules.a_date(errors, "opened_on", "") is None and errors["opened_on"] == ["Skriv en dato."]
