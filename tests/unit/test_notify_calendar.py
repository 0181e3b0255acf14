"""Norwegian public holidays (Easter-based ones computed) and the sending window in Oslo time."""
from datetime import UTC, date, datetime

import pytest

from services.notify.domain.calendar import SendingWindow, easter_sunday, is_working_day, public_holidays


@pytest.mark.parametrize("year,easter", [(2024, date(2024, 3, 31)), (2025, date(2025, 4, 20)),
                                         (2026, date(2026, 4, 5)), (2027, date(2027, 3, 28)),
                                         (2038, date(2038, 4, 25)), (2285, date(2285, 3, 22))])
def test_easter_sunday(year, easter):
    assert easter_sunday(year) == easter


def test_the_twelve_holidays_of_2026():
    holidays = public_holidays(2026)
    assert sorted(holidays) == [date(2026, 1, 1), date(2026, 4, 2), date(2026, 4, 3), date(2026, 4, 5),
                                date(2026, 4, 6), date(2026, 5, 1), date(2026, 5, 14), date(2026, 5, 17),
                                date(2026, 5, 24), date(2026, 5, 25), date(2026, 12, 25), date(2026, 12, 26)]
    assert holidays[date(2026, 5, 14)] == "Kristi himmelfartsdag"


def test_working_days():
    assert is_working_day(date(2026, 11, 26))  # Thursday
    assert not is_working_day(date(2026, 11, 28))  # Saturday
    assert not is_working_day(date(2027, 3, 25))  # Maundy Thursday 2027
    assert not is_working_day(date(2027, 5, 17))  # Constitution Day on a Monday
    assert is_working_day(date(2026, 12, 24))  # Christmas Eve is not a public holiday


def test_window_is_office_hours_in_oslo_across_daylight_saving():
    window = SendingWindow()
    assert window.is_open(datetime(2026, 11, 26, 7, 0, tzinfo=UTC))  # 08:00 CET
    assert not window.is_open(datetime(2026, 11, 26, 6, 59, tzinfo=UTC))
    assert window.is_open(datetime(2026, 6, 2, 6, 0, tzinfo=UTC))  # 08:00 CEST
    assert not window.is_open(datetime(2026, 6, 2, 14, 0, tzinfo=UTC))  # 16:00 CEST


def test_next_opening_skips_easter():
    window = SendingWindow()
    opening = window.next_opening(datetime(2027, 3, 24, 16, 0, tzinfo=UTC))  # Wednesday 17:00 before Easter
    assert opening.isoformat() == "2027-03-30T08:00:00+02:00"  # Tuesday after Easter Monday, summer time


def test_window_without_working_day_rule_only_checks_hours():
    window = SendingWindow(working_days_only=False)
    assert window.is_open(datetime(2026, 11, 28, 10, 0, tzinfo=UTC))
