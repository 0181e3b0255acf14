"""The project's day: the platform clock's `today()` is the date in TIMEZONE (Europe/Oslo), one setting for every
service; notify's office hours follow it and its own NOTIFY_TIMEZONE is refused."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.notify.config import load_notify_config
from shared.clock import FixedClock, clock_from_setting, day_of
from shared.config import ConfigError, load_settings


@pytest.mark.parametrize("instant,day", [
    (datetime(2026, 12, 9, 22, 59, tzinfo=UTC), date(2026, 12, 9)),  # 23:59 in Oslo (UTC+1)
    (datetime(2026, 12, 9, 23, 30, tzinfo=UTC), date(2026, 12, 10)),  # 00:30 in Oslo
    (datetime(2026, 6, 30, 21, 59, tzinfo=UTC), date(2026, 6, 30)),  # 23:59 in Oslo (UTC+2)
    (datetime(2026, 6, 30, 22, 30, tzinfo=UTC), date(2026, 7, 1)),  # 00:30 in Oslo
    (datetime(2026, 6, 30, 23, 30), date(2026, 7, 1)),  # a naive instant is UTC
])
def test_the_day_changes_at_midnight_in_oslo(instant, day):
    assert day_of(instant) == day
    assert FixedClock(instant).today() == day


def test_the_clock_counts_days_in_the_configured_zone(tmp_path):
    at = datetime(2026, 12, 9, 23, 30, tzinfo=UTC)
    assert FixedClock(at, zone="UTC").today() == date(2026, 12, 9)
    path = tmp_path / "clock"
    path.write_text(at.isoformat())
    assert clock_from_setting(f"file:{path}").today() == date(2026, 12, 10)
    assert clock_from_setting(f"file:{path}", "America/New_York").today() == date(2026, 12, 9)


def settings(**env):
    return load_settings("notify", env={"DATA_DIR": "/tmp/notify-unit", **env})


def test_one_timezone_setting_for_the_day_and_notifys_office_hours():
    assert settings().timezone == "Europe/Oslo"
    assert str(load_notify_config(settings()).window.zone) == "Europe/Oslo"
    assert str(load_notify_config(settings(TIMEZONE="Europe/Helsinki")).window.zone) == "Europe/Helsinki"


@pytest.mark.parametrize("env,named", [
    ({"TIMEZONE": "Europe/Bergen"}, "TIMEZONE='Europe/Bergen'"),
    ({"TIMEZONE": "../etc"}, "TIMEZONE"),
])
def test_an_unknown_zone_stops_start_up_naming_the_setting(env, named):
    with pytest.raises(ConfigError) as raised:
        settings(**env)
    assert named in str(raised.value)


def test_notifys_own_zone_is_refused_naming_its_replacement():
    with pytest.raises(ConfigError) as raised:
        load_notify_config(settings(NOTIFY_TIMEZONE="Europe/Oslo"))
    assert "NOTIFY_TIMEZONE" in str(raised.value) and "TIMEZONE" in str(raised.value)
