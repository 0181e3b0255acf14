"""Who is calling, and what they may see.

Every API call carries a signed JWT (bearer header, or the sign-in cookie for pages). Issuer, audience,
algorithm and keys are configuration, so an OpenID Connect provider's tokens verify the same way as the
local issuer's. `select_owned` is the one id lookup of an office-owned row (the office in the SQL WHERE), so an id
from another office answers 404, never 403; lists and counts carry the caller's office in their WHERE in each
service's store. `require_role` is the one role check; each service names its roles in its `access.py`.

Services call each other with a token of the role `service` (never a person's role, never in the directory): it
must carry a scope, and only a view marked `service_scope_required(<that scope>)` (shared.web) accepts it; every
other endpoint refuses it. A person's token never holds a scope (a `scope` claim on it is ignored).
"""
from __future__ import annotations

import hashlib
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from .directory import OFFICE_ROLES, ROLES

COOKIE_NAME = "hybrid_session"
SERVICE_ROLE = "service"  # machine callers only: no user has it, no page or person endpoint accepts it


class AuthError(Exception):
    """No valid token: the caller must sign in (401)."""


class Forbidden(Exception):
    """A valid caller whose role may not do this (403)."""


class NotFound(Exception):
    """Absent, or owned by another office: the same answer for both (404)."""


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str
    name: str
    office: str | None = None
    county: str | None = None
    expires_at: datetime | None = None
    auth_time: datetime | None = None
    # Narrow machine permissions (OAuth-style `scope` claim, space-separated in the token): read from service
    # tokens only, so no person holds a scope.
    scopes: tuple = ()
    # The identity provider's session (`sid`) behind a cookie session: back-channel logout ends it.
    session_id: str | None = None

    def has_scope(self, scope: str) -> bool:
        return self.role == SERVICE_ROLE and scope in self.scopes

    @property
    def is_office_member(self) -> bool:
        return self.role in OFFICE_ROLES and self.office is not None


def mint_token(settings, subject, role, name, office=None, county=None, lifetime_minutes=None, now=None,
               auth_time=None, scope=None, session_id=None) -> str:
    """Issue a token as the local issuer does: the session cookie (after the sign-in at the identity provider); in
    local demo mode also `flask auth mint` (an operator's command) and `mint_service_token`."""
    if role not in ROLES and role != SERVICE_ROLE:
        raise ValueError(f"unknown role {role!r}")
    if (role == SERVICE_ROLE) != bool(scope):
        raise ValueError("a service token needs a scope, and only a service token carries one")
    if settings.auth_signing_key is None:
        raise AuthError("this deployment verifies tokens from an external issuer and cannot mint them")
    now = now or datetime.now(UTC)
    lifetime = lifetime_minutes or settings.token_lifetime_minutes
    claims = {
        "iss": settings.auth_issuer, "aud": settings.auth_audience, "sub": subject, "role": role,
        "name": name, "iat": int(now.timestamp()), "exp": int((now + timedelta(minutes=lifetime)).timestamp()),
        "jti": str(uuid.uuid4()), "auth_time": int((auth_time or now).timestamp()),
    }
    if office:
        claims["office"] = office
    if county:
        claims["county"] = county
    if scope:
        claims["scope"] = scope if isinstance(scope, str) else " ".join(scope)
    if session_id:
        claims["sid"] = session_id
    return jwt.encode(claims, settings.auth_signing_key, algorithm=settings.auth_algorithm)


def mint_service_token(settings, service: str, scope: str, lifetime_minutes: int = 5) -> str:
    """A short-lived token for one service calling another's internal endpoint: subject `service-<service>`, role
    `service`, the one scope the call needs. Local demo mode only: elsewhere services get their tokens from the
    identity provider (shared.oidc.ServiceTokens)."""
    if not settings.demo_mode:
        raise AuthError("service tokens come from the identity provider outside local demo mode")
    return mint_token(settings, subject=f"service-{service}", role=SERVICE_ROLE, name=f"service {service}",
                      lifetime_minutes=lifetime_minutes, scope=scope)


# A client sends the same token with every request until it expires (API clients, the sign-in cookie between its
# refreshes): its verified principal is kept, keyed by a digest of the token and the verification settings, and
# handed out again only while the token has not expired. Failures are never kept. The verify key is parsed once
# (an RS256/ES256 PEM costs more to parse than the signature check itself). Bounded: the sign-in cookie gets a
# new token with every page, so each page view adds an entry; the bound covers the tokens in use at once and keeps
# a worker's memory flat (sizing in deploy/README.md, soak).
_VERIFIED: dict = {}
_VERIFIED_MAX = 1024
_VERIFIED_LOCK = threading.Lock()
_PREPARED_KEYS: dict = {}


def verify_token(settings, token: str, now: datetime | None = None) -> Principal:
    cache_key = (hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest(), settings.auth_verify_key,
                 settings.auth_algorithm, settings.auth_audience, settings.auth_issuer)
    principal = _VERIFIED.get(cache_key)
    if principal is not None:
        if principal.expires_at > (now or datetime.now(UTC)):
            return principal
        with _VERIFIED_LOCK:
            _VERIFIED.pop(cache_key, None)
        raise AuthError("token expired")
    principal = _verify(settings, token)
    with _VERIFIED_LOCK:
        if len(_VERIFIED) >= _VERIFIED_MAX:
            del _VERIFIED[next(iter(_VERIFIED))]  # the oldest entry
        _VERIFIED[cache_key] = principal
    return principal


def _verification_key(settings):
    key = _PREPARED_KEYS.get((settings.auth_algorithm, settings.auth_verify_key))
    if key is None:
        algorithm = jwt.PyJWS().get_algorithm_by_name(settings.auth_algorithm)
        key = _PREPARED_KEYS[(settings.auth_algorithm, settings.auth_verify_key)] = \
            algorithm.prepare_key(settings.auth_verify_key)
    return key


def _verify(settings, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token, _verification_key(settings), algorithms=[settings.auth_algorithm],
            audience=settings.auth_audience, issuer=settings.auth_issuer,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("token expired") from None
    except jwt.PyJWTError as error:
        raise AuthError(f"invalid token: {error}") from None
    role = claims.get("role")
    if role not in ROLES and role != SERVICE_ROLE:
        raise AuthError("token carries no known role")
    scope = claims.get("scope")
    scopes = tuple(scope.split()) if role == SERVICE_ROLE and isinstance(scope, str) else ()
    if role == SERVICE_ROLE and not scopes:
        raise AuthError("a service token must carry its scope")
    if role in OFFICE_ROLES and not claims.get("office"):
        raise AuthError("an office role's token must carry its office")
    if role == "county_contact" and not claims.get("county"):
        raise AuthError("a county contact's token must carry the county")
    return Principal(
        subject=claims["sub"], role=role, name=claims.get("name", claims["sub"]),
        office=claims.get("office") if role in OFFICE_ROLES else None,
        county=claims.get("county") if role == "county_contact" else None,
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        auth_time=datetime.fromtimestamp(claims.get("auth_time", claims["iat"]), UTC),
        scopes=scopes,
        session_id=claims.get("sid") if isinstance(claims.get("sid"), str) else None,
    )


def require_role(principal: Principal | None, *roles: str) -> Principal:
    """The one role check (the `roles_required` decorator of shared.web calls it too). An office role without an
    office is refused as well: it could see nothing, and must not be mistaken for a role that sees everything."""
    if principal is None:
        raise AuthError("sign-in required")
    if principal.role not in roles:
        raise Forbidden(f"role {principal.role} may not do this")
    if principal.role in OFFICE_ROLES and not principal.office:
        raise Forbidden("an office role without an office")
    return principal


def select_owned(conn, query, office_column, office: str | None, *, for_update: bool = False):
    """The one lookup of an office-owned row by id: `query` (a SELECT of that row, joined as needed) runs with
    `office_column == office` added to its WHERE, so a missing row and another office's answer alike (NotFound, 404)
    and ids leak nothing. Returns the row as a mapping."""
    if not office:
        raise NotFound("not found")
    query = query.where(office_column == office)
    if for_update:
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    if row is None:
        raise NotFound("not found")
    return row
