"""Strict configuration: a bad value stops start-up with a message that names the variable."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.config import REPO_ROOT, ConfigError, load_settings

GOOD_KEY = "k" * 32


def settings_with(**env):
    return load_settings("intake", env={"DATA_DIR": "/tmp/hybrid-config-test", **env})


def test_defaults_are_the_local_run():
    settings = settings_with()
    assert settings.database_url == "sqlite:////tmp/hybrid-config-test/intake.db"
    assert settings.amqp_urls == ["amqp://intake:intake-dev@127.0.0.1:5672/hybrid"]
    assert settings.secure_cookies is False and settings.demo_mode is False
    assert settings.session_idle_minutes == 30
    assert settings.clock == "system" and settings.auth_algorithm == "HS256"
    assert settings.validate_events_on_emit is True


def test_values_are_parsed():
    s = settings_with(SECURE_COOKIES="yes", SESSION_IDLE_MINUTES="15", INTAKE_AMQP_URLS="amqp://a/x, amqp://b/x",
                      INTAKE_DATABASE_URL="postgresql://u@h/db", LOG_LEVEL="DEBUG")
    assert s.secure_cookies is True and s.session_idle_minutes == 15
    assert s.amqp_urls == ["amqp://a/x", "amqp://b/x"] and s.is_postgres and s.log_level == "DEBUG"


@pytest.mark.parametrize("variable, value, expected_in_message", [
    ("SECURE_COOKIES", "maybe", "is not a boolean"),
    ("DEMO_MODE", "ja", "is not a boolean"),
    ("TOKEN_LIFETIME_MINUTES", "eight", "is not an integer"),
    ("TOKEN_LIFETIME_MINUTES", "0", "below the minimum"),
    ("SESSION_IDLE_MINUTES", "100000", "above the maximum"),
    ("INTAKE_DATABASE_URL", "mysql://u@h/db", "sqlite:/// or postgresql://"),
    ("INTAKE_DATABASE_URL", "sqlite:relative.db", "sqlite:/// or postgresql://"),
    ("CLOCK", "tomorrow", "'system' or 'file:<path>'"),
    ("LOG_LEVEL", "LOUD", "must be one of"),
    ("AUTH_ALGORITHM", "none", "must be one of"),
    ("INTAKE_AMQP_URLS", "amqp://a,,amqp://b", "empty item"),
    ("BUS_VALIDATE_ON_EMIT", "sometimes", "is not a boolean"),
])
def test_bad_value_names_the_variable(variable, value, expected_in_message):
    with pytest.raises(ConfigError) as raised:
        settings_with(**{variable: value})
    message = str(raised.value)
    assert message.startswith(variable)
    assert expected_in_message in message


@pytest.mark.parametrize("env, named", [
    ({"SECURE_COOKIES": "jepp"}, "SECURE_COOKIES"),
    ({"DEMO_MODE": "2"}, "DEMO_MODE"),
    ({"SESSION_IDLE_MINUTES": "ten"}, "SESSION_IDLE_MINUTES"),
    ({"SESSION_IDLE_MINUTES": "0"}, "SESSION_IDLE_MINUTES"),
    ({"TOKEN_LIFETIME_MINUTES": "100000"}, "TOKEN_LIFETIME_MINUTES"),
    ({"INTAKE_DATABASE_URL": "mysql://x/y"}, "INTAKE_DATABASE_URL"),
    ({"INTAKE_DATABASE_URL": "sqlite:/relative.db"}, "INTAKE_DATABASE_URL"),
    ({"AUTH_SIGNING_KEY": "short"}, "AUTH_SIGNING_KEY"),
])
def test_more_bad_values_name_the_variable(env, named):
    with pytest.raises(ConfigError) as error:
        settings_with(**env)
    assert named in str(error.value)


def test_short_hs256_key_is_refused():
    with pytest.raises(ConfigError, match="AUTH_SIGNING_KEY must be at least 32 characters"):
        settings_with(AUTH_SIGNING_KEY="short-secret")
    assert settings_with(AUTH_SIGNING_KEY=GOOD_KEY).auth_verify_key == GOOD_KEY


def test_asymmetric_algorithm_needs_a_verify_key():
    with pytest.raises(ConfigError, match="AUTH_VERIFY_KEY must be set when AUTH_ALGORITHM=RS256"):
        settings_with(AUTH_ALGORITHM="RS256")


def test_valid_values_are_parsed_not_defaulted():
    settings = settings_with(SECURE_COOKIES="on", DEMO_MODE="1", TOKEN_LIFETIME_MINUTES="60",
                             INTAKE_DATABASE_URL="postgresql://postgres@127.0.0.1/x", CLOCK="file:/tmp/clock",
                             INTAKE_AMQP_URLS="amqp://a, amqp://b", BUS_VALIDATE_ON_EMIT="false")
    assert settings.secure_cookies is True and settings.demo_mode is True and not settings.validate_events_on_emit
    assert settings.token_lifetime_minutes == 60 and settings.is_postgres
    assert settings.clock == "file:/tmp/clock" and settings.amqp_urls == ["amqp://a", "amqp://b"]


def test_unknown_service_is_refused():
    with pytest.raises(ConfigError, match="unknown service"):
        load_settings("payroll", env={})


def test_real_process_start_up_fails_cleanly_naming_the_variable(tmp_path):
    """The operator's view: `flask db upgrade` with a typo exits non-zero with one clear line, no traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INTAKE_", "SECURE_", "CLOCK"))}
    env.update(DATA_DIR=str(tmp_path), SECURE_COOKIES="maybe")
    flask = Path(sys.executable).parent / "flask"
    result = subprocess.run([str(flask), "--app", "services.intake.wsgi", "db", "upgrade"], cwd=REPO_ROOT,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "SECURE_COOKIES" in result.stderr and "is not a boolean" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "intake.db").exists()  # nothing was changed


def start_up_env(**extra):
    """This process's environment without any service's database or broker address, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_DATABASE_URL", "_AMQP_URLS"))}
    env.update(extra)
    return env


def test_flask_start_up_stops_with_the_message(tmp_path):
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "services.intake.wsgi", "db", "upgrade"],
                            cwd=REPO_ROOT,
                            env=start_up_env(DATA_DIR=str(tmp_path), SESSION_IDLE_MINUTES="half an hour"),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "SESSION_IDLE_MINUTES='half an hour' is not an integer" in result.stderr
    assert not (tmp_path / "intake.db").exists()  # nothing was done


def test_gunicorn_start_up_stops_with_the_message(tmp_path):
    result = subprocess.run([sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", "127.0.0.1:0",
                             "services.consent.wsgi:app"],
                            cwd=REPO_ROOT, env=start_up_env(DATA_DIR=str(tmp_path), SECURE_COOKIES="maybe"),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "SECURE_COOKIES='maybe' is not a boolean" in result.stderr
