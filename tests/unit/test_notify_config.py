"""NOTIFY_* settings are parsed strictly: a typo stops start-up and names the variable."""
import pytest

from services.notify.config import load_notify_config
from shared.config import ConfigError, load_settings


def config(**env):
    return load_notify_config(load_settings("notify", env={"DATA_DIR": "/tmp/notify-unit", **env}))


def test_defaults_are_a_local_sink_without_tls():
    c = config()
    assert (c.smtp.host, c.smtp.port, c.smtp.security, c.smtp.username) == ("127.0.0.1", 8025, "none", None)
    assert c.max_attempts == 8 and c.window.start.hour == 8 and c.window.end.hour == 16
    assert (c.catch_up_seconds, c.catch_up_max_hours) == (90, 24)


@pytest.mark.parametrize("env,named", [
    ({"NOTIFY_SMTP_PORT": "25x"}, "NOTIFY_SMTP_PORT"),
    ({"NOTIFY_SMTP_PORT": "70000"}, "NOTIFY_SMTP_PORT"),
    ({"NOTIFY_SMTP_SECURITY": "ssl"}, "NOTIFY_SMTP_SECURITY"),
    ({"NOTIFY_SMTP_USERNAME": "u"}, "NOTIFY_SMTP_PASSWORD"),
    ({"NOTIFY_SMTP_USERNAME": "u", "NOTIFY_SMTP_PASSWORD": "p"}, "NOTIFY_SMTP_SECURITY"),
    ({"NOTIFY_OFFICE_HOURS_START": "8"}, "NOTIFY_OFFICE_HOURS_START"),
    ({"NOTIFY_OFFICE_HOURS_START": "17:00"}, "NOTIFY_OFFICE_HOURS_END"),
    ({"NOTIFY_WORKING_DAYS_ONLY": "maybe"}, "NOTIFY_WORKING_DAYS_ONLY"),
    ({"NOTIFY_TIMEZONE": "Europe/Bergen"}, "NOTIFY_TIMEZONE"),
    ({"NOTIFY_MAX_ATTEMPTS": "0"}, "NOTIFY_MAX_ATTEMPTS"),
    ({"NOTIFY_INTAKE_URL": "intake:8080"}, "NOTIFY_INTAKE_URL"),
    ({"NOTIFY_CATCH_UP_SECONDS": "-1"}, "NOTIFY_CATCH_UP_SECONDS"),
    ({"NOTIFY_CATCH_UP_MAX_HOURS": "0"}, "NOTIFY_CATCH_UP_MAX_HOURS"),
])
def test_bad_values_name_the_variable(env, named):
    with pytest.raises(ConfigError) as raised:
        config(**env)
    assert named in str(raised.value)


def test_auth_with_starttls():
    c = config(NOTIFY_SMTP_USERNAME="varsler", NOTIFY_SMTP_PASSWORD="hemmelig", NOTIFY_SMTP_SECURITY="starttls",
               NOTIFY_SMTP_PORT="587")
    assert (c.smtp.security, c.smtp.port, c.smtp.username) == ("starttls", 587, "varsler")
