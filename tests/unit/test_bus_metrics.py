"""Where a relay or consumer process serves its metrics: off unless configured, parsed strictly."""
import pytest

from shared.bus.metrics import metrics_address
from shared.config import ConfigError, load_settings


def test_the_endpoint_is_off_unless_configured_and_a_bad_address_names_the_variable():
    assert metrics_address(load_settings("intake", env={}), "relay") is None
    settings = load_settings("intake", env={"INTAKE_RELAY_METRICS_ADDRESS": "9101",
                                            "INTAKE_CONSUMER_METRICS_ADDRESS": "0.0.0.0:9100"})
    assert metrics_address(settings, "relay") == ("127.0.0.1", 9101)
    assert metrics_address(settings, "consumer") == ("0.0.0.0", 9100)
    for bad in ("http://x", "host:", "70000", "9101x"):
        with pytest.raises(ConfigError, match="INTAKE_RELAY_METRICS_ADDRESS"):
            metrics_address(load_settings("intake", env={"INTAKE_RELAY_METRICS_ADDRESS": bad}), "relay")
