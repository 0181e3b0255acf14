"""Fixtures of the integration tests that several modules share (the shared tiers' fixtures: tests/fixtures/)."""
from tests.integration.test_consent_helpers import consent_fixture  # noqa: F401  (the consent fixture, registered once)
