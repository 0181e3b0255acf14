"""Tokens and office scoping: every wrong token is 401, a wrong role 403, another office's id 404."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import jwt
import pytest
from sqlalchemy import Column, MetaData, String, Table

from shared.auth import AuthError, Forbidden, NotFound, Principal, mint_token, office_filter, require_owned, \
    require_role, verify_token
from shared.config import load_settings

SETTINGS = load_settings("intake", env={"DATA_DIR": "/tmp/hybrid-auth-test"})
OTHER_KEY = load_settings("intake", env={"DATA_DIR": "/tmp/x", "AUTH_SIGNING_KEY": "another-key-that-is-long-enough-32+"})
KARI = dict(subject="kari-veileder", role="counsellor", name="Kari", office="kristiansand")


def test_a_minted_token_verifies_with_its_claims():
    principal = verify_token(SETTINGS, mint_token(SETTINGS, **KARI))
    assert (principal.subject, principal.role, principal.office, principal.county) == \
        ("kari-veileder", "counsellor", "kristiansand", None)
    county = verify_token(SETTINGS, mint_token(SETTINGS, subject="tone", role="county_contact", name="Tone",
                                               county="agder", office="kristiansand"))
    assert county.county == "agder" and county.office is None  # a county contact has no office's contents


def test_an_expired_token_is_refused():
    old = datetime.now(timezone.utc) - timedelta(hours=10)
    token = mint_token(SETTINGS, lifetime_minutes=60, now=old, **KARI)
    with pytest.raises(AuthError, match="expired"):
        verify_token(SETTINGS, token)


def test_a_token_signed_with_another_key_is_refused():
    with pytest.raises(AuthError, match="invalid"):
        verify_token(SETTINGS, mint_token(OTHER_KEY, **KARI))


def test_an_altered_office_claim_breaks_the_signature():
    header, payload, signature = mint_token(SETTINGS, **KARI).split(".")
    claims = jwt.decode(mint_token(SETTINGS, **KARI), options={"verify_signature": False})
    claims["office"] = "bergen-vest"
    forged_payload = jwt.encode(claims, "x" * 32, algorithm="HS256").split(".")[1]
    with pytest.raises(AuthError):
        verify_token(SETTINGS, ".".join([header, forged_payload, signature]))


@pytest.mark.parametrize("claims, message", [
    ({"aud": "someone-else"}, "invalid"),
    ({"iss": "https://evil.example"}, "invalid"),
    ({"role": "superuser"}, "no known role"),
    ({"office": None}, "must carry its office"),
])
def test_wrong_issuer_audience_role_or_missing_office_is_refused(claims, message):
    now = datetime.now(timezone.utc)
    body = {"iss": SETTINGS.auth_issuer, "aud": SETTINGS.auth_audience, "sub": "x", "role": "counsellor",
            "office": "kristiansand", "iat": int(now.timestamp()), "exp": int((now + timedelta(minutes=5)).timestamp())}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    with pytest.raises(AuthError, match=message):
        verify_token(SETTINGS, jwt.encode(body, SETTINGS.auth_signing_key, algorithm="HS256"))


def test_unsigned_tokens_are_refused():
    now = datetime.now(timezone.utc)
    token = jwt.encode({"iss": SETTINGS.auth_issuer, "aud": SETTINGS.auth_audience, "sub": "x", "role": "admin",
                        "iat": int(now.timestamp()), "exp": int(now.timestamp()) + 60}, None, algorithm="none")
    with pytest.raises(AuthError):
        verify_token(SETTINGS, token)


def test_role_checks():
    principal = Principal(subject="rune", role="researcher", name="Rune")
    assert require_role(principal, "researcher", "admin") is principal
    with pytest.raises(Forbidden):
        require_role(principal, "counsellor")
    with pytest.raises(AuthError):
        require_role(None, "counsellor")
    with pytest.raises(Forbidden):
        office_filter(principal, Column("office", String))  # a researcher sees no office's cases


def test_office_filter_is_the_callers_office():
    table = Table("cases", MetaData(), Column("office", String))
    clause = office_filter(Principal(subject="k", role="counsellor", name="K", office="kristiansand"), table.c.office)
    compiled = clause.compile(compile_kwargs={"literal_binds": True})
    assert str(compiled) == "cases.office = 'kristiansand'"


def test_require_owned_answers_404_for_another_office_and_for_missing():
    kari = Principal(subject="k", role="counsellor", name="K", office="kristiansand")
    row = {"id": "c1", "office": "kristiansand"}
    assert require_owned(kari, row) is row
    with pytest.raises(NotFound):
        require_owned(kari, {"id": "c2", "office": "bergen-vest"})
    with pytest.raises(NotFound):
        require_owned(kari, None)
    with pytest.raises(NotFound):
        require_owned(Principal(subject="a", role="admin", name="A"), row)


def test_mint_refuses_an_unknown_role():
    with pytest.raises(ValueError):
        mint_token(SETTINGS, subject="x", role="root", name="x")
