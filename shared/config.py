"""Configuration from environment variables, parsed strictly.

A typo must stop start-up with a message that names the variable, never fall back to a silent default.
Each service builds one `Settings` at start-up (in its app factory or CLI) and passes it down.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("intake", "consent", "registry", "notify")


class ConfigError(RuntimeError):
    """A configuration value is missing or malformed; the message names the variable."""


def _raw(env, name, default):
    value = env.get(name)
    return default if value is None or value == "" else value


def env_str(env, name, default=None, required=False):
    value = _raw(env, name, default)
    if required and value is None:
        raise ConfigError(f"{name} must be set")
    return value


def env_bool(env, name, default):
    value = _raw(env, name, None)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={value!r} is not a boolean (use true/false, yes/no, on/off or 1/0)")


def env_int(env, name, default, minimum=None, maximum=None):
    value = _raw(env, name, None)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not an integer") from None
    if minimum is not None and number < minimum:
        raise ConfigError(f"{name}={number} is below the minimum {minimum}")
    if maximum is not None and number > maximum:
        raise ConfigError(f"{name}={number} is above the maximum {maximum}")
    return number


def env_choice(env, name, default, choices):
    value = _raw(env, name, default)
    if value not in choices:
        raise ConfigError(f"{name}={value!r} must be one of {', '.join(choices)}")
    return value


def env_list(env, name, default):
    value = _raw(env, name, None)
    if value is None:
        return list(default)
    items = [item.strip() for item in value.split(",")]
    if any(not item for item in items):
        raise ConfigError(f"{name}={value!r} has an empty item in its comma-separated list")
    return items


def _database_url(env, service, data_dir):
    url = env_str(env, f"{service.upper()}_DATABASE_URL", f"sqlite:///{data_dir}/{service}.db")
    if not (url.startswith("sqlite:///") or url.startswith("postgresql")):
        raise ConfigError(f"{service.upper()}_DATABASE_URL={url!r} must be a sqlite:/// or postgresql:// URL")
    return url


@dataclass(frozen=True)
class Settings:
    service: str
    data_dir: Path
    database_url: str
    amqp_urls: list[str]
    exchange: str
    keyring_file: Path
    auth_issuer: str
    auth_audience: str
    auth_algorithm: str
    auth_signing_key: str | None
    auth_verify_key: str | None
    token_lifetime_minutes: int
    session_idle_minutes: int
    clock: str
    log_level: str
    public_url: str
    secure_cookies: bool
    demo_signin: bool
    extra: dict = field(default_factory=dict)
    # Producers check each event against its schema before it enters the outbox (consumers always check on receipt).
    validate_events_on_emit: bool = True

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")


def load_settings(service: str, env=None) -> Settings:
    """Parse every variable a service needs; raise ConfigError naming the first bad one."""
    if service not in SERVICES:
        raise ConfigError(f"unknown service {service!r}")
    env = os.environ if env is None else env
    data_dir = Path(env_str(env, "DATA_DIR", str(REPO_ROOT / "data"))).resolve()
    svc = service.upper()
    default_amqp = f"amqp://{service}:{service}-dev@127.0.0.1:5672/hybrid"
    algorithm = env_choice(env, "AUTH_ALGORITHM", "HS256", ("HS256", "RS256", "ES256"))
    dev_signing_key = "dev-only-signing-key-change-me-in-production" if algorithm == "HS256" else None
    signing_key = env_str(env, "AUTH_SIGNING_KEY", dev_signing_key)
    verify_key = env_str(env, "AUTH_VERIFY_KEY", signing_key if algorithm == "HS256" else None)
    if verify_key is None:
        raise ConfigError(f"AUTH_VERIFY_KEY must be set when AUTH_ALGORITHM={algorithm}")
    if algorithm == "HS256" and len(verify_key) < 32:
        raise ConfigError("AUTH_SIGNING_KEY must be at least 32 characters for HS256")
    clock = env_str(env, "CLOCK", "system")
    if clock != "system" and not clock.startswith("file:"):
        raise ConfigError(f"CLOCK={clock!r} must be 'system' or 'file:<path>'")
    from .national_ids import synthetic_allowed  # here: national_ids parses with this module's helpers
    synthetic_allowed(env)  # a malformed NATIONAL_ID_SYNTHETIC stops start-up, not the first check of a number
    return Settings(
        service=service,
        data_dir=data_dir,
        database_url=_database_url(env, service, data_dir),
        amqp_urls=env_list(env, f"{svc}_AMQP_URLS", [default_amqp]),
        exchange=env_str(env, "BUS_EXCHANGE", "hybrid.events"),
        keyring_file=Path(env_str(env, "KEYRING_FILE", str(data_dir / "keyring.json"))),
        auth_issuer=env_str(env, "AUTH_ISSUER", "hybrid-local"),
        auth_audience=env_str(env, "AUTH_AUDIENCE", "hybrid-platform"),
        auth_algorithm=algorithm,
        auth_signing_key=signing_key,
        auth_verify_key=verify_key,
        token_lifetime_minutes=env_int(env, "TOKEN_LIFETIME_MINUTES", 480, minimum=1, maximum=24 * 60),
        session_idle_minutes=env_int(env, "SESSION_IDLE_MINUTES", 30, minimum=1, maximum=24 * 60),
        clock=clock,
        log_level=env_choice(env, "LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
        public_url=env_str(env, "PUBLIC_URL", "http://127.0.0.1:8080").rstrip("/"),
        secure_cookies=env_bool(env, "SECURE_COOKIES", False),
        demo_signin=env_bool(env, "DEMO_SIGNIN", True),
        extra={k: v for k, v in env.items() if k.startswith(svc + "_")},
        validate_events_on_emit=env_bool(env, "BUS_VALIDATE_ON_EMIT", True),
    )
