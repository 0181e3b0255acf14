"""The settable clock, and offices/people as data (validation and upsert)."""
from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest
from marshmallow import ValidationError
from sqlalchemy import create_engine, func, select

from shared import directory
from shared.clock import FileClock, FixedClock, SystemClock, clock_from_setting, set_file_clock
from shared.platform import new_metadata


def test_fixed_clock_stands_still_until_moved():
    clock = FixedClock(datetime(2026, 11, 26, 10, 0))
    assert clock.now() == datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    clock.set(datetime(2027, 1, 2, 8, 0, tzinfo=UTC))
    assert clock.today().isoformat() == "2027-01-02"


def test_file_clock_reads_and_follows_the_file(tmp_path):
    path = tmp_path / "clock"
    clock = clock_from_setting(f"file:{path}")
    assert isinstance(clock, FileClock)
    before = datetime.now(UTC)
    assert before - timedelta(seconds=5) < clock.now() < before + timedelta(seconds=5)  # absent file: wall time
    set_file_clock(path, datetime(2026, 12, 24, 9, 0, tzinfo=UTC))
    assert clock.now() == datetime(2026, 12, 24, 9, 0, tzinfo=UTC)
    # Moved again at once (same length text, same coarse mtime tick): the clock must follow.
    set_file_clock(path, datetime(2026, 12, 25, 9, 0, tzinfo=UTC))
    assert clock.now() == datetime(2026, 12, 25, 9, 0, tzinfo=UTC)
    path.write_text("2027-03-01T12:00:00")  # naive text means UTC
    assert clock.now() == datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
    set_file_clock(path, None)  # empty file: back to wall time
    now = datetime.now(UTC)
    assert now - timedelta(seconds=5) < clock.now() < now + timedelta(seconds=5)


def test_clock_setting_system():
    assert type(clock_from_setting("system")) is SystemClock


@pytest.fixture
def raw_directory():
    with open(directory.DEFAULT_DIRECTORY_FILE, encoding="utf-8") as handle:
        return json.load(handle)


def write(tmp_path, data):
    path = tmp_path / "directory.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_shipped_directory_is_valid():
    data = directory.read_directory_file()
    assert len(data["offices"]) == 10
    assert {o["covered_by_research"] for o in data["offices"]} == {True, False}


def test_office_in_unknown_county_is_rejected(tmp_path, raw_directory):
    raw_directory["offices"].append({"code": "nowhere", "name": "NAV Ingensteds", "county_code": "atlantis",
                                     "covered_by_research": True})
    with pytest.raises(ValidationError) as raised:
        directory.read_directory_file(write(tmp_path, raw_directory))
    assert "unknown county atlantis" in json.dumps(raised.value.messages)


def test_counsellor_without_office_is_rejected(tmp_path, raw_directory):
    user = next(u for u in raw_directory["users"] if u["role"] == "counsellor")
    user.pop("office_code")
    with pytest.raises(ValidationError) as raised:
        directory.read_directory_file(write(tmp_path, raw_directory))
    assert "an office role needs office_code" in json.dumps(raised.value.messages)


def test_user_in_unknown_office_and_bad_project_settings_are_rejected(tmp_path, raw_directory):
    broken = copy.deepcopy(raw_directory)
    broken["users"][0]["office_code"] = "atlantis-kontor"
    with pytest.raises(ValidationError, match="unknown office"):
        directory.read_directory_file(write(tmp_path, broken))
    broken = copy.deepcopy(raw_directory)
    broken["project"]["settings"]["withdrawal_policy"] = "keep-everything"
    with pytest.raises(ValidationError):
        directory.read_directory_file(write(tmp_path, broken))


@pytest.fixture
def engine_and_tables():
    metadata = new_metadata()
    tables = directory.define_tables(metadata)
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    yield engine, tables
    engine.dispose()


def count(engine, table):
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_load_directory_is_an_upsert(tmp_path, raw_directory, engine_and_tables):
    engine, tables = engine_and_tables
    data = directory.read_directory_file(write(tmp_path, raw_directory))
    first = directory.load_directory(engine, tables, data)
    second = directory.load_directory(engine, tables, data)
    assert first == second
    assert [count(engine, tables[name]) for name in ("counties", "offices", "users", "project")] == \
        [first["counties"], first["offices"], first["users"], 1]

    # Adding an office is adding a line to the file; a renamed office is updated in place.
    raw_directory["offices"].append({"code": "arendal", "name": "NAV Arendal", "county_code": "agder",
                                     "covered_by_research": False})
    raw_directory["offices"][0]["name"] = "NAV Kristiansand sentrum"
    directory.load_directory(engine, tables, directory.read_directory_file(write(tmp_path, raw_directory)))
    assert count(engine, tables["offices"]) == first["offices"] + 1
    lookup = directory.Directory(tables)
    with engine.connect() as conn:
        assert lookup.office(conn, "arendal")["covered_by_research"] is False
        assert lookup.office(conn, "kristiansand")["name"] == "NAV Kristiansand sentrum"
        assert "arendal" in [o["code"] for o in lookup.offices(conn, county_code="agder")]
        assert lookup.user(conn, "kari-veileder")["office_code"] == "kristiansand"
        assert lookup.project_settings(conn)["withdrawal_policy"] in ("erase", "research_exemption")
