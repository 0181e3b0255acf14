"""Notify's own settings, from NOTIFY_* variables, parsed strictly (a typo stops start-up and names the variable)."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import time

from shared.config import ConfigError, env_bool, env_choice, env_int, env_str

from .domain.calendar import SendingWindow


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str  # none | starttls | tls
    username: str | None
    password: str | None
    timeout: int
    sender: str
    message_id_domain: str
    ca_file: str | None = None  # a private CA for the SMTP server's certificate (else the system's)


@dataclass(frozen=True)
class NotifyConfig:
    smtp: SmtpConfig
    window: SendingWindow
    max_attempts: int
    backoff_seconds: int
    backoff_max_seconds: int
    claim_seconds: int
    digest_hour: int
    county_digest_weekday: int
    interview_notice_days: int
    intake_url: str | None
    loop_seconds: int
    catch_up_seconds: int  # the queue seen empty this long before the worker acts (domain.catch_up)
    catch_up_max_hours: int  # not caught up this long: the worker acts anyway, with a warning


def _clock_time(env, name, default):
    value = env_str(env, name, default)
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise ConfigError(f"{name}={value!r} must be HH:MM")
    return time(int(value[:2]), int(value[3:]))


def _existing_file(env, name):
    value = env_str(env, name)
    if value is not None and not os.path.isfile(value):
        raise ConfigError(f"{name}={value!r} is not a readable file")
    return value


def load_notify_config(settings) -> NotifyConfig:
    env = settings.extra
    security = env_choice(env, "NOTIFY_SMTP_SECURITY", "none", ("none", "starttls", "tls"))
    username = env_str(env, "NOTIFY_SMTP_USERNAME")
    password = env_str(env, "NOTIFY_SMTP_PASSWORD")
    if (username is None) != (password is None):
        raise ConfigError("NOTIFY_SMTP_USERNAME and NOTIFY_SMTP_PASSWORD must be set together")
    if username and security == "none" and not env_bool(env, "NOTIFY_SMTP_ALLOW_PLAIN_AUTH", False):
        raise ConfigError("NOTIFY_SMTP_USERNAME needs NOTIFY_SMTP_SECURITY=starttls or tls "
                          "(or NOTIFY_SMTP_ALLOW_PLAIN_AUTH=true for a local test server)")
    sender = env_str(env, "NOTIFY_SMTP_FROM", "Hybridmodellen <varsler@hybrid.local>")
    smtp = SmtpConfig(
        host=env_str(env, "NOTIFY_SMTP_HOST", "127.0.0.1"),
        port=env_int(env, "NOTIFY_SMTP_PORT", 8025, minimum=1, maximum=65535),
        security=security, username=username, password=password,
        timeout=env_int(env, "NOTIFY_SMTP_TIMEOUT", 20, minimum=1, maximum=300),
        sender=sender,
        message_id_domain=env_str(env, "NOTIFY_MESSAGE_ID_DOMAIN", "notify.hybrid.local"),
        ca_file=_existing_file(env, "NOTIFY_SMTP_CA_FILE"),
    )
    if env.get("NOTIFY_TIMEZONE") is not None:  # notify's own zone once: two zones made two different todays
        raise ConfigError("NOTIFY_TIMEZONE is replaced by TIMEZONE, the project's day for every service")
    zone = settings.timezone  # office hours in the project's zone, whose day the platform clock gives
    start = _clock_time(env, "NOTIFY_OFFICE_HOURS_START", "08:00")
    end = _clock_time(env, "NOTIFY_OFFICE_HOURS_END", "16:00")
    if end <= start:
        raise ConfigError("NOTIFY_OFFICE_HOURS_END must be after NOTIFY_OFFICE_HOURS_START")
    window = SendingWindow(zone, start, end, env_bool(env, "NOTIFY_WORKING_DAYS_ONLY", True))
    intake_url = env_str(env, "NOTIFY_INTAKE_URL")
    if intake_url and not intake_url.startswith(("http://", "https://")):
        raise ConfigError(f"NOTIFY_INTAKE_URL={intake_url!r} must be an http(s) URL")
    return NotifyConfig(
        smtp=smtp, window=window,
        max_attempts=env_int(env, "NOTIFY_MAX_ATTEMPTS", 8, minimum=1, maximum=100),
        backoff_seconds=env_int(env, "NOTIFY_BACKOFF_SECONDS", 60, minimum=1),
        backoff_max_seconds=env_int(env, "NOTIFY_BACKOFF_MAX_SECONDS", 6 * 3600, minimum=1),
        claim_seconds=env_int(env, "NOTIFY_CLAIM_SECONDS", 300, minimum=1),
        digest_hour=env_int(env, "NOTIFY_DIGEST_HOUR", 8, minimum=0, maximum=23),
        county_digest_weekday=env_int(env, "NOTIFY_COUNTY_DIGEST_WEEKDAY", 0, minimum=0, maximum=6),
        interview_notice_days=env_int(env, "NOTIFY_INTERVIEW_NOTICE_DAYS", 21, minimum=1, maximum=365),
        intake_url=intake_url.rstrip("/") if intake_url else None,
        loop_seconds=env_int(env, "NOTIFY_LOOP_SECONDS", 30, minimum=1, maximum=3600),
        catch_up_seconds=env_int(env, "NOTIFY_CATCH_UP_SECONDS", 90, minimum=0, maximum=3600),
        catch_up_max_hours=env_int(env, "NOTIFY_CATCH_UP_MAX_HOURS", 24, minimum=1, maximum=24 * 14),
    )
