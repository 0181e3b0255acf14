"""The platform as an OpenID Connect relying party (Authlib), and the provider's tokens checked.

- `Provider`: the discovery document and the JWKS, fetched once and cached; a token whose `kid` the cached JWKS
  lacks makes one refetch (a key rotation needs no restart), at most one per `REFETCH_INTERVAL_SECONDS` so that
  made-up kids cannot turn every request into a fetch; the JWKS is read again after `jwks_max_age_seconds` in any
  case, so a key the provider removed stops verifying.
- `verify_access_token`: iss, aud, exp, nbf (required), the authorised party (`azp` or `client_id`) among the
  accepted clients; RS256/ES256 only (`alg=none` and HS256 never pass).
- `verify_id_token`: the same for the ID token of the code exchange, with aud = azp = our client and the nonce.
- `verify_logout_token`: the back-channel logout token (OpenID Connect Back-Channel Logout 1.0, section 2.6).
- `ServiceTokens`: a service's access token from the provider by client credentials, cached until shortly
  before it expires.
- `EndedSessions`: the deny list of sessions the provider ended (`sid`), in one small database every service reads.

No token or secret is ever logged: failures are logged by kind only.
"""
from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, JsonWebToken
from authlib.jose.errors import JoseError
from sqlalchemy import Column, DateTime, MetaData, String, Table, delete, insert, select

from .config import ConfigError
from .db import make_engine

ALGORITHMS = ["RS256", "ES256"]
LEEWAY_SECONDS = 30
REFETCH_INTERVAL_SECONDS = 10.0
HTTP_TIMEOUT = 10.0
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


class TokenRefused(Exception):
    """The provider's token does not verify; the message says why without quoting it."""


class Provider:
    def __init__(self, oidc_settings, http=None):
        self.settings = oidc_settings
        self.http = http or requests.Session()
        self._metadata = None
        self._jwks = None
        self._jwks_fetched_at = 0.0
        self._last_refetch = 0.0
        self._lock = threading.Lock()

    # ------------------------------------------------------------ discovery and keys
    @property
    def metadata(self) -> dict:
        if self._metadata is None:
            base = self.settings.internal_url or self.settings.issuer
            response = self.http.get(base + "/.well-known/openid-configuration", timeout=HTTP_TIMEOUT)
            response.raise_for_status()
            metadata = response.json()
            if metadata.get("issuer") != self.settings.issuer:
                raise TokenRefused("the discovery document names another issuer")
            self._metadata = self._addressed(metadata)
        return self._metadata

    def _addressed(self, metadata: dict) -> dict:
        """With an internal address, the endpoints the browser visits (sign-in, sign-out) are the issuer's and those
        the services call (keys, token) the internal ones, whichever address the provider wrote them with."""
        internal = self.settings.internal_url
        if not internal:
            return metadata
        moved = dict(metadata)
        for name, value in metadata.items():
            if not name.endswith(("_endpoint", "_uri")) or not isinstance(value, str):
                continue
            for prefix in (internal, self.settings.issuer):
                if value.startswith(prefix + "/"):
                    path = value[len(prefix):]
                    browser = name in ("authorization_endpoint", "end_session_endpoint")
                    moved[name] = (self.settings.issuer if browser else internal) + path
        return moved

    def _fetch_jwks(self):
        response = self.http.get(self.metadata["jwks_uri"], timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        self._jwks = JsonWebKey.import_key_set(response.json())
        self._jwks_fetched_at = time.monotonic()

    def kids(self) -> set:
        return {key.kid for key in self.key_set().keys}

    def key_set(self):
        with self._lock:
            if self._jwks is None or time.monotonic() - self._jwks_fetched_at > self.settings.jwks_max_age_seconds:
                self._fetch_jwks()
            return self._jwks

    def _key_for(self, header, _payload):
        kid = header.get("kid")
        keys = self.key_set()
        if kid not in {key.kid for key in keys.keys}:
            with self._lock:
                if time.monotonic() - self._last_refetch > REFETCH_INTERVAL_SECONDS:
                    self._last_refetch = time.monotonic()
                    self._fetch_jwks()
                keys = self._jwks
            if kid not in {key.kid for key in keys.keys}:
                raise TokenRefused("signed with a key the provider's JWKS does not have")
        return keys.find_by_kid(kid)

    # ------------------------------------------------------------ tokens
    def _decode(self, token: str, claims_options: dict) -> dict:
        try:
            claims = JsonWebToken(ALGORITHMS).decode(token, self._key_for, claims_options=claims_options)
            claims.validate(now=int(time.time()), leeway=LEEWAY_SECONDS)
        except TokenRefused:
            raise
        except (JoseError, ValueError, TypeError) as error:
            raise TokenRefused(f"invalid token ({type(error).__name__})") from None
        return dict(claims)

    def _common_options(self, audience: str) -> dict:
        return {"iss": {"essential": True, "value": self.settings.issuer},
                "aud": {"essential": True, "value": audience},
                "exp": {"essential": True}, "nbf": {"essential": False}, "iat": {"essential": True}}

    def verify_access_token(self, token: str) -> dict:
        claims = self._decode(token, self._common_options(self.settings.audience))
        party = claims.get("azp") or claims.get("client_id")
        if party not in self.settings.accepted_clients and party not in self.settings.service_clients:
            raise TokenRefused("issued to a client this platform does not accept")
        return claims

    def verify_id_token(self, token: str, nonce: str) -> dict:
        claims = self._decode(token, {**self._common_options(self.settings.client_id),
                                      "nonce": {"essential": True, "value": nonce}})
        if claims.get("azp", self.settings.client_id) != self.settings.client_id:
            raise TokenRefused("the ID token's authorised party is another client")
        return claims

    def verify_logout_token(self, token: str) -> dict:
        claims = self._decode(token, self._common_options(self.settings.client_id))
        if BACKCHANNEL_EVENT not in (claims.get("events") or {}) or "nonce" in claims:
            raise TokenRefused("not a back-channel logout token")
        if not claims.get("sid"):
            raise TokenRefused("the logout token names no session")
        return claims

    # ------------------------------------------------------------ the code flow
    def client(self, redirect_uri: str, **kwargs) -> OAuth2Session:
        return OAuth2Session(self.settings.client_id, self.settings.client_secret, scope="openid profile",
                             redirect_uri=redirect_uri, code_challenge_method="S256", **kwargs)


class ServiceTokens:
    """A service's access token from the provider (client credentials), reused until a minute before it expires."""

    def __init__(self, provider: Provider, client_id: str, client_secret: str, scope: str):
        self.provider = provider
        self.session = OAuth2Session(client_id, client_secret, scope=scope)
        self.scope = scope
        self._token = None
        self._lock = threading.Lock()

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._token["expires_at"] - 60 < time.time():
                self._token = self.session.fetch_token(self.provider.metadata["token_endpoint"],
                                                       grant_type="client_credentials", scope=self.scope,
                                                       timeout=HTTP_TIMEOUT)
            return self._token["access_token"]

    def forget(self):
        """Drop the kept token (the receiver refused it, e.g. after the provider retired its key)."""
        with self._lock:
            self._token = None


def service_tokens_for(settings, scope: str) -> ServiceTokens | None:
    """The service's token source at the provider (`<SVC>_OIDC_CLIENT_ID` / `<SVC>_OIDC_CLIENT_SECRET`), or None
    where no provider is configured (local demo mode, whose local issuer mints it instead)."""
    if settings.oidc is None:
        return None
    prefix = settings.service.upper() + "_OIDC_CLIENT_"
    client_id, secret = settings.extra.get(prefix + "ID"), settings.extra.get(prefix + "SECRET")
    if not client_id or not secret:
        raise ConfigError(f"{prefix}ID and {prefix}SECRET must be set: the service's client at the provider")
    return ServiceTokens(Provider(settings.oidc), client_id, secret, scope)


class EndedSessions:
    """Sessions ended at the provider (back-channel logout), by `sid`, in one database all services read (a file
    on one machine, a small shared PostgreSQL database in a cluster). A lookup is kept `CACHE_SECONDS`, so every
    service refuses an ended session within that time."""

    CACHE_SECONDS = 2.0

    def __init__(self, url: str):
        self.engine = make_engine(url)
        metadata = MetaData()
        self.table = Table("ended_sessions", metadata, Column("sid", String(255), primary_key=True),
                           Column("ended_at", DateTime(timezone=True), nullable=False))
        metadata.create_all(self.engine, checkfirst=True)
        self._seen: dict = {}

    def end(self, sid: str):
        with self.engine.begin() as conn:
            conn.execute(delete(self.table).where(self.table.c.sid == sid))
            conn.execute(insert(self.table).values(sid=sid, ended_at=datetime.now(UTC)))
        self._seen.pop(sid, None)

    def is_ended(self, sid: str) -> bool:
        seen = self._seen.get(sid)
        if seen is not None and time.monotonic() - seen[1] < self.CACHE_SECONDS:
            return seen[0]
        with self.engine.connect() as conn:
            ended = conn.execute(select(self.table.c.sid).where(self.table.c.sid == sid)).first() is not None
        if len(self._seen) > 10000:
            self._seen.clear()
        self._seen[sid] = (ended, time.monotonic())
        return ended
