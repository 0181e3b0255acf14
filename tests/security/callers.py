"""The kinds of caller the access matrix sends to every endpoint.

People sign in at the real OpenID provider (tests/fixtures/oidc.py starts it; tests/fixtures/tokens.py fills in its
login form over HTTP) and call with the access token it issued; the apps under test run as in production (not in
local demo mode), so role and office come from the directory. The refused callers are those of that world:

  no_token               nothing
  expired_token          a person's token from the provider, re-signed by the provider's key with an expiry passed
  other_client_token     the provider's token for the same person, issued to another application
  wrong_key_token        the provider's claims and key id, signed with a key the provider's JWKS does not have
  tampered_token         another office's counsellor's token with the NAV ident re-encoded, signature kept
  development_key_token  the issue's finding: a local-issuer token signed with the published development key
  ended_session          a copy of a session cookie after its session ended (signed out; back-channel logout the same)
  unknown_person         a valid provider token of a person the platform's directory does not know (403, not 401)

`demo_token_for` / `demo_headers_for` / `demo_admin_token_claiming_scope` give the local issuer's tokens for the
suites whose in-process apps still run in local demo mode (tests/security/test_csrf_forms.py, test_fuzz.py, and,
by their older names `token_for` / `headers_for` / `admin_token_claiming_scope`, some integration tests).
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import jwt
from authlib.jose import JsonWebKey, JsonWebToken

from shared.auth import mint_token
from shared.config import DEVELOPMENT_SIGNING_KEY
from tests.fixtures.oidc import SERVICE_CLIENT, UNKNOWN_PERSON, LocalProvider
from tests.fixtures.stack import OTHER_CLIENT
from tests.fixtures.tokens import auth_header, provider_service_token, provider_token

OWNER_OFFICE, OTHER_OFFICE = "kristiansand", "bergen-vest"

PEOPLE = {  # caller -> (user id, role, name, office, county), demo users from deploy/data/directory.json
    "owner_counsellor": ("kari-veileder", "counsellor", "Kari Nordmann", OWNER_OFFICE, None),
    "other_office_counsellor": ("per-veileder", "counsellor", "Per Olsen", OTHER_OFFICE, None),
    "local_contact": ("lise-kontakt", "local_contact", "Lise Dahl", OWNER_OFFICE, None),
    "county_contact": ("tone-fylke", "county_contact", "Tone Bakke", None, "agder"),
    "researcher": ("rune-forsker", "researcher", "Rune Strand", None, None),
    "admin": ("admin", "admin", "Prosjektadministrator", None, None),
}
INVALID = ("no_token", "expired_token", "other_client_token", "wrong_key_token", "tampered_token",
           "development_key_token", "ended_session")
UNKNOWN = "unknown_person"
CALLERS = tuple(PEOPLE) + INVALID + (UNKNOWN,)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Callers:
    provider: LocalProvider
    ended_session_cookie: str  # a session cookie copied before its session was ended
    # A forger's key, made once (an RSA key is slow to make); the tokens are made afresh from the people's current
    # ones, so that each is refused for what it is, not for having expired on a long run.
    _forger: object = field(default_factory=lambda: JsonWebKey.generate_key("RSA", 2048, is_private=True))

    def _person(self, caller: str, client_id: str | None = None) -> str:
        user_id = PEOPLE[caller][0]
        return provider_token(self.provider.issuer, user_id, client_id) if client_id else \
            provider_token(self.provider.issuer, user_id)

    def token(self, caller: str) -> str | None:
        if caller in ("no_token", "ended_session"):
            return None
        if caller in PEOPLE:
            return self._person(caller)
        if caller == UNKNOWN:
            return provider_token(self.provider.issuer, UNKNOWN_PERSON["nav_ident"])
        if caller == "expired_token":
            now = int(datetime.now(UTC).timestamp())
            return self.provider.resign(self._person("owner_counsellor"), iat=now - 3600, nbf=now - 3600,
                                        exp=now - 600)
        if caller == "other_client_token":
            return self._person("owner_counsellor", OTHER_CLIENT)
        if caller == "wrong_key_token":
            real = self._person("owner_counsellor")
            header = {"alg": "RS256", "kid": jwt.get_unverified_header(real)["kid"], "typ": "at+jwt"}
            claims = jwt.decode(real, options={"verify_signature": False})
            return JsonWebToken(["RS256"]).encode(header, claims, self._forger).decode()
        if caller == "tampered_token":
            # The other office's counsellor re-encodes the payload with the owning office's counsellor's NAV ident.
            header, payload, signature = self._person("other_office_counsellor").split(".")
            claims = json.loads(_unb64(payload))
            claims["NAVident"] = "B100001"  # kari-veileder's, of the owning office
            return ".".join([header, _b64(json.dumps(claims, separators=(",", ":")).encode()), signature])
        if caller == "development_key_token":
            now = datetime.now(UTC)
            return jwt.encode({"iss": "hybrid-local", "aud": "hybrid-platform", "sub": "kari-veileder",
                               "role": "counsellor", "office": OWNER_OFFICE, "name": "Kari Nordmann",
                               "iat": now, "exp": now + timedelta(hours=1)}, DEVELOPMENT_SIGNING_KEY,
                              algorithm="HS256")
        raise KeyError(caller)

    def headers(self, caller: str) -> dict:
        token = self.token(caller)
        return auth_header(token) if token else {}

    def cookie(self, caller: str) -> str | None:
        return self.ended_session_cookie if caller == "ended_session" else None

    def service_token(self, scope: str) -> str:
        """A service's token (its own client at the provider, client credentials) with one scope."""
        return provider_service_token(self.provider.issuer, SERVICE_CLIENT, scope)

    def admin_token_claiming_scope(self, scope: str) -> str:
        """The admin's token with a service's scope, signed by the provider itself: a scope on a person's token
        must open nothing."""
        return self.provider.resign(self._person("admin"), scope=scope)


# ---------------------------------------------------------------- local demo mode (the local issuer's tokens)
def demo_token_for(settings, caller: str) -> str | None:
    if caller not in PEOPLE:
        raise KeyError(caller)
    subject, role, name, office, county = PEOPLE[caller]
    return mint_token(settings, subject=subject, role=role, name=name, office=office, county=county)


def demo_headers_for(settings, caller: str) -> dict:
    return auth_header(demo_token_for(settings, caller))


def demo_admin_token_claiming_scope(settings, scope: str) -> str:
    """The admin's local token with a `scope` claim added, signed with the local key (mint_token refuses to)."""
    claims = jwt.decode(demo_token_for(settings, "admin"), options={"verify_signature": False})
    claims["scope"] = scope
    return jwt.encode(claims, settings.auth_signing_key, algorithm=settings.auth_algorithm)


token_for, headers_for, admin_token_claiming_scope = demo_token_for, demo_headers_for, demo_admin_token_claiming_scope
