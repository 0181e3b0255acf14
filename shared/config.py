"""Configuration from environment variables, parsed strictly.

A typo must stop start-up with a message that names the variable, never fall back to a silent default.
Each service builds one `Settings` at start-up (in its app factory or CLI) and passes it down.
"""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("intake", "consent", "registry", "notify")
# Published in this repository, so accepted only in an explicit local demo mode (DEMO_MODE=true on a loopback
# PUBLIC_URL); everywhere else start-up refuses it.
DEVELOPMENT_SIGNING_KEY = "dev-only-signing-key-change-me-in-production"


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
class OidcSettings:
    """The OpenID Connect provider that signs people and services in (shared.oidc)."""

    issuer: str
    client_id: str                 # the platform's own client (authorization code + PKCE)
    client_secret: str | None      # only the web services exchange codes
    audience: str                  # the `aud` of the provider's access tokens for this platform
    identity_claim: str            # the claim that names the person, looked up in the directory (NAVident)
    accepted_clients: tuple        # clients whose access tokens may act for a person (platform, API clients)
    service_clients: dict          # client id -> service name, for service-to-service tokens
    jwks_max_age_seconds: int
    session_denylist_url: str      # ended sessions (back-channel logout), seen by every service
    # Where the services reach the provider when the issuer's address is the browser's only (compose: the issuer is
    # http://localhost:8090 on the host, the provider http://oidc:8090 inside the network). Tokens keep the issuer.
    internal_url: str | None = None


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
    extra: dict = field(default_factory=dict)
    # The project's day (shared.clock): every date rule of every service counts days in this zone.
    timezone: str = "Europe/Oslo"
    # An explicit local demo (DEMO_MODE=true and a loopback PUBLIC_URL): the development key and the local token
    # issuer (`auth mint`, an operator's command) work only here.
    demo_mode: bool = False
    oidc: OidcSettings | None = None
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
    public_url = env_str(env, "PUBLIC_URL", "http://127.0.0.1:8080").rstrip("/")
    demo_mode = env_bool(env, "DEMO_MODE", False)
    if demo_mode and not _is_loopback(public_url):
        raise ConfigError(f"DEMO_MODE=true needs a loopback PUBLIC_URL (127.0.0.1, ::1, localhost), not {public_url!r}")
    algorithm = env_choice(env, "AUTH_ALGORITHM", "HS256", ("HS256", "RS256", "ES256"))
    dev_signing_key = DEVELOPMENT_SIGNING_KEY if algorithm == "HS256" and demo_mode else None
    signing_key = env_str(env, "AUTH_SIGNING_KEY", dev_signing_key)
    if signing_key == DEVELOPMENT_SIGNING_KEY and not demo_mode:
        raise ConfigError("AUTH_SIGNING_KEY is the published development key: set a random secret of at least 32 "
                          "characters (the development key works only with DEMO_MODE=true on a loopback PUBLIC_URL)")
    verify_key = env_str(env, "AUTH_VERIFY_KEY", signing_key if algorithm == "HS256" else None)
    if verify_key is None and algorithm != "HS256":
        raise ConfigError(f"AUTH_VERIFY_KEY must be set when AUTH_ALGORITHM={algorithm}")
    if algorithm == "HS256" and verify_key is not None and len(verify_key) < 32:
        raise ConfigError("AUTH_SIGNING_KEY must be at least 32 characters for HS256")
    clock = env_str(env, "CLOCK", "system")
    if clock != "system" and not clock.startswith("file:"):
        raise ConfigError(f"CLOCK={clock!r} must be 'system' or 'file:<path>'")
    timezone = _timezone(env)
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
        timezone=timezone,
        log_level=env_choice(env, "LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
        public_url=public_url,
        secure_cookies=env_bool(env, "SECURE_COOKIES", False),
        extra={k: v for k, v in env.items() if k.startswith(svc + "_")},
        validate_events_on_emit=env_bool(env, "BUS_VALIDATE_ON_EMIT", True),
        demo_mode=demo_mode,
        oidc=_oidc_settings(env, data_dir),
    )


def _timezone(env) -> str:
    zone = env_str(env, "TIMEZONE", "Europe/Oslo")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"TIMEZONE={zone!r} is not a known time zone (e.g. Europe/Oslo)") from None
    return zone


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _oidc_settings(env, data_dir: Path) -> OidcSettings | None:
    issuer = env_str(env, "OIDC_ISSUER")
    if issuer is None:
        return None
    if not issuer.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise ConfigError(f"OIDC_ISSUER={issuer!r} must be an https:// URL (http only on loopback)")
    client_id = env_str(env, "OIDC_CLIENT_ID", "hybrid-platform")
    services = {}
    for item in env_list(env, "OIDC_SERVICE_CLIENTS", []):
        client, _, service = item.partition("=")
        if service not in SERVICES:
            raise ConfigError(f"OIDC_SERVICE_CLIENTS item {item!r} must be <client id>=<service>")
        services[client] = service
    return OidcSettings(
        issuer=issuer.rstrip("/"),
        client_id=client_id,
        client_secret=env_str(env, "OIDC_CLIENT_SECRET"),
        audience=env_str(env, "OIDC_AUDIENCE", "api://hybrid-platform"),
        identity_claim=env_str(env, "OIDC_IDENTITY_CLAIM", "NAVident"),
        accepted_clients=tuple(env_list(env, "OIDC_ACCEPTED_CLIENTS", [client_id])),
        service_clients=services,
        jwks_max_age_seconds=env_int(env, "OIDC_JWKS_MAX_AGE_SECONDS", 300, minimum=1, maximum=24 * 3600),
        session_denylist_url=env_str(env, "SESSION_DENYLIST_URL", f"sqlite:///{data_dir}/ended-sessions.db"),
        internal_url=_internal_url(env),
    )


def _internal_url(env) -> str | None:
    url = env_str(env, "OIDC_INTERNAL_URL")
    if url is not None and (not url.startswith(("https://", "http://")) or not urlsplit(url).hostname):
        raise ConfigError(f"OIDC_INTERNAL_URL={url!r} must be an http:// or https:// URL")
    return url.rstrip("/") if url else None
