"""Fixtures of the integration tests that several modules share (the shared tiers' fixtures: tests/fixtures/)."""
import pytest

from services.intake import tables as intake_tables
from shared.bus import probe
from tests.integration.test_consent_helpers import consent_fixture  # noqa: F401  (the consent fixture, registered once)


@pytest.fixture
def probe_platform(bus_vhost, db_url, platform_factory):
    """The intake service's database and settings, publishing and consuming as the broker's probe user."""
    platform = platform_factory("intake", intake_tables.all_tables(), db_url, env=bus_vhost.env("intake", "probe"))
    probe.install(platform)
    return platform
