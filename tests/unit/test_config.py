"""Strict configuration: a bad value stops start-up with a message that names the variable."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from shared.config import REPO_ROOT, ConfigError, load_settings


def settings(**env):
    return load_settings("intake", env={"DATA_DIR": "/tmp/hybrid-config-test", **env})


def test_defaults_are_the_local_run():
    s = settings()
    assert s.database_url == "sqlite:////tmp/hybrid-config-test/intake.db"
    assert s.amqp_urls == ["amqp://intake:intake-dev@127.0.0.1:5672/hybrid"]
    assert s.secure_cookies is False and s.demo_signin is True
    assert s.session_idle_minutes == 30


def test_values_are_parsed():
    s = settings(SECURE_COOKIES="yes", SESSION_IDLE_MINUTES="15", INTAKE_AMQP_URLS="amqp://a/x, amqp://b/x",
                 INTAKE_DATABASE_URL="postgresql://u@h/db", LOG_LEVEL="DEBUG")
    assert s.secure_cookies is True and s.session_idle_minutes == 15
    assert s.amqp_urls == ["amqp://a/x", "amqp://b/x"] and s.is_postgres and s.log_level == "DEBUG"


@pytest.mark.parametrize("env, named", [
    ({"SECURE_COOKIES": "jepp"}, "SECURE_COOKIES"),
    ({"DEMO_SIGNIN": "2"}, "DEMO_SIGNIN"),
    ({"SESSION_IDLE_MINUTES": "ten"}, "SESSION_IDLE_MINUTES"),
    ({"SESSION_IDLE_MINUTES": "0"}, "SESSION_IDLE_MINUTES"),
    ({"TOKEN_LIFETIME_MINUTES": "100000"}, "TOKEN_LIFETIME_MINUTES"),
    ({"INTAKE_DATABASE_URL": "mysql://x/y"}, "INTAKE_DATABASE_URL"),
    ({"INTAKE_DATABASE_URL": "sqlite:/relative.db"}, "INTAKE_DATABASE_URL"),
    ({"INTAKE_AMQP_URLS": "amqp://a,,amqp://b"}, "INTAKE_AMQP_URLS"),
    ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
    ({"AUTH_ALGORITHM": "none"}, "AUTH_ALGORITHM"),
    ({"AUTH_SIGNING_KEY": "short"}, "AUTH_SIGNING_KEY"),
    ({"AUTH_ALGORITHM": "RS256"}, "AUTH_VERIFY_KEY"),
    ({"CLOCK": "tomorrow"}, "CLOCK"),
])
def test_a_bad_value_names_the_variable(env, named):
    with pytest.raises(ConfigError) as error:
        settings(**env)
    assert named in str(error.value)


def test_an_unknown_service_is_refused():
    with pytest.raises(ConfigError, match="unknown service"):
        load_settings("payroll", env={})


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_DATABASE_URL", "_AMQP_URLS"))}
    env.update(extra)
    return env


def test_flask_start_up_stops_with_the_message(tmp_path):
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "services.intake.wsgi", "db", "upgrade"],
                            cwd=REPO_ROOT, env=_env(DATA_DIR=str(tmp_path), SESSION_IDLE_MINUTES="half an hour"),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "SESSION_IDLE_MINUTES='half an hour' is not an integer" in result.stderr
    assert not (tmp_path / "intake.db").exists()  # nothing was done


def test_gunicorn_start_up_stops_with_the_message(tmp_path):
    result = subprocess.run([sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", "127.0.0.1:0",
                             "services.consent.wsgi:app"],
                            cwd=REPO_ROOT, env=_env(DATA_DIR=str(tmp_path), SECURE_COOKIES="maybe"),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "SECURE_COOKIES='maybe' is not a boolean" in result.stderr
