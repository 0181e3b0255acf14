"""The ten kinds of caller the access matrix sends to every endpoint, as Authorization headers (built on
tests/fixtures/tokens.py, the tests' one token helper)."""
from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import jwt

from shared.auth import mint_service_token, mint_token
from tests.fixtures.tokens import auth_header

OWNER_OFFICE, OTHER_OFFICE = "kristiansand", "bergen-vest"

PEOPLE = {  # caller -> (subject, role, name, office, county), demo users from deploy/data/directory.json
    "owner_counsellor": ("kari-veileder", "counsellor", "Kari Nordmann", OWNER_OFFICE, None),
    "other_office_counsellor": ("per-veileder", "counsellor", "Per Olsen", OTHER_OFFICE, None),
    "local_contact": ("lise-kontakt", "local_contact", "Lise Dahl", OWNER_OFFICE, None),
    "county_contact": ("tone-fylke", "county_contact", "Tone Bakke", None, "agder"),
    "researcher": ("rune-forsker", "researcher", "Rune Strand", None, None),
    "admin": ("admin", "admin", "Prosjektadministrator", None, None),
}
INVALID = ("no_token", "expired_token", "wrong_key_token", "altered_office_token")
CALLERS = tuple(PEOPLE) + INVALID


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token_for(settings, caller: str) -> str | None:
    if caller == "no_token":
        return None
    if caller in PEOPLE:
        subject, role, name, office, county = PEOPLE[caller]
        return mint_token(settings, subject=subject, role=role, name=name, office=office, county=county)
    subject, role, name, office, county = PEOPLE["owner_counsellor"]
    if caller == "expired_token":
        issued = datetime.now(UTC) - timedelta(hours=2)
        return mint_token(settings, subject=subject, role=role, name=name, office=office, now=issued,
                          lifetime_minutes=5)
    if caller == "wrong_key_token":
        other = replace(settings, auth_signing_key="x" * 48 if settings.auth_signing_key != "x" * 48 else "y" * 48)
        return mint_token(other, subject=subject, role=role, name=name, office=office)
    if caller == "altered_office_token":
        # The owning office's counsellor re-encodes the payload with another office, keeping the signature.
        header, payload, signature = mint_token(settings, subject=subject, role=role, name=name,
                                                office=OTHER_OFFICE).split(".")
        claims = json.loads(_unb64(payload))
        claims["office"] = OWNER_OFFICE if claims["office"] != OWNER_OFFICE else OTHER_OFFICE
        return ".".join([header, _b64(json.dumps(claims, separators=(",", ":")).encode()), signature])
    raise KeyError(caller)


def service_token(settings, scope: str) -> str:
    """A service's token (role service) with one scope, as notify mints it for intake's internal endpoint."""
    return mint_service_token(settings, "matrix", scope)


def admin_token_claiming_scope(settings, scope: str) -> str:
    """The admin's token with a `scope` claim added and signed with the real key (mint_token refuses to do it):
    a scope on a person's token must open nothing."""
    subject, role, name, _office, _county = PEOPLE["admin"]
    claims = jwt.decode(mint_token(settings, subject=subject, role=role, name=name),
                        options={"verify_signature": False})
    claims["scope"] = scope
    return jwt.encode(claims, settings.auth_signing_key, algorithm=settings.auth_algorithm)


def headers_for(settings, caller: str) -> dict:
    token = token_for(settings, caller)
    return auth_header(token) if token else {}
