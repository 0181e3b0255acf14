"""Tokens and office scoping: what a forged, stale or foreign token gets, and what another office's id answers."""
from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import Column, MetaData, String, Table, create_engine, select

from shared.auth import (
    AuthError,
    Forbidden,
    NotFound,
    mint_token,
    require_role,
    select_owned,
    verify_token,
)
from shared.config import load_settings

KEY = "a-test-signing-key-of-at-least-32-chars"


@pytest.fixture
def settings():
    # Local demo mode: the local issuer's tokens (service tokens included) are made and checked here.
    return load_settings("intake", env={"DATA_DIR": "/tmp/hybrid-auth-test", "AUTH_SIGNING_KEY": KEY,
                                        "DEMO_MODE": "true"})


def counsellor_token(settings, **kwargs):
    return mint_token(settings, subject="kari-veileder", role="counsellor", name="Kari", office="kristiansand",
                      **kwargs)


def test_valid_token_gives_principal(settings):
    principal = verify_token(settings, counsellor_token(settings))
    assert (principal.subject, principal.role, principal.office) == ("kari-veileder", "counsellor", "kristiansand")
    assert principal.is_office_member and principal.county is None


def test_expired_token_is_refused(settings):
    token = counsellor_token(settings, now=datetime.now(UTC) - timedelta(hours=2), lifetime_minutes=60)
    with pytest.raises(AuthError, match="expired"):
        verify_token(settings, token)


def test_wrong_signing_key_is_refused(settings):
    other = load_settings("intake", env={"DATA_DIR": "/tmp/x", "AUTH_SIGNING_KEY": "another-key-" + "z" * 30})
    with pytest.raises(AuthError, match="invalid token"):
        verify_token(settings, counsellor_token(other))


def test_other_issuer_or_audience_is_refused(settings):
    for extra in ({"AUTH_ISSUER": "someone-else"}, {"AUTH_AUDIENCE": "other-app"}):
        other = load_settings("intake", env={"DATA_DIR": "/tmp/x", "AUTH_SIGNING_KEY": KEY, **extra})
        with pytest.raises(AuthError):
            verify_token(settings, counsellor_token(other))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_altered_office_claim_with_original_signature_is_refused(settings):
    header, payload, signature = counsellor_token(settings).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["office"] = "bergen-vest"
    forged = ".".join([header, _b64url(json.dumps(claims).encode()), signature])
    with pytest.raises(AuthError, match="invalid token"):
        verify_token(settings, forged)


def test_unsigned_token_is_refused(settings):
    claims = jwt.decode(counsellor_token(settings), options={"verify_signature": False})
    with pytest.raises(AuthError):
        verify_token(settings, jwt.encode(claims, None, algorithm="none"))


def test_office_role_without_office_is_refused(settings):
    for role in ("counsellor", "local_contact"):
        token = jwt.encode({"iss": settings.auth_issuer, "aud": settings.auth_audience, "sub": "x", "role": role,
                            "iat": int(datetime.now(UTC).timestamp()),
                            "exp": int((datetime.now(UTC) + timedelta(minutes=5)).timestamp())},
                           KEY, algorithm="HS256")
        with pytest.raises(AuthError, match="must carry its office"):
            verify_token(settings, token)
    token = mint_token(settings, subject="tone", role="county_contact", name="Tone")
    with pytest.raises(AuthError, match="county"):
        verify_token(settings, token)


def test_unknown_role_cannot_be_minted_or_verified(settings):
    with pytest.raises(ValueError):
        mint_token(settings, subject="x", role="superuser", name="X")
    now = int(datetime.now(UTC).timestamp())
    token = jwt.encode({"iss": settings.auth_issuer, "aud": settings.auth_audience, "sub": "x", "role": "superuser",
                        "iat": now, "exp": now + 60}, KEY, algorithm="HS256")
    with pytest.raises(AuthError, match="no known role"):
        verify_token(settings, token)


def test_office_claim_on_non_office_role_is_dropped(settings):
    """A researcher's token that happens to carry an office still sees no office's data."""
    principal = verify_token(settings, mint_token(settings, subject="rune", role="researcher", name="R",
                                                  office="kristiansand"))
    assert principal.office is None and not principal.is_office_member


@pytest.fixture
def cases_table():
    return Table("cases", MetaData(), Column("id", String), Column("office", String))


def test_select_owned_answers_not_found_for_other_office_and_missing(settings, cases_table):
    engine = create_engine("sqlite://")
    cases_table.metadata.create_all(engine)
    with engine.begin() as conn:
        own, other = {"id": "c1", "office": "kristiansand"}, {"id": "c2", "office": "bergen-vest"}
        conn.execute(cases_table.insert(), [own, other])

        def by_id(case_id):
            return select(cases_table).where(cases_table.c.id == case_id)

        assert dict(select_owned(conn, by_id("c1"), cases_table.c.office, "kristiansand")) == own
        with pytest.raises(NotFound):
            select_owned(conn, by_id("c2"), cases_table.c.office, "kristiansand")
        with pytest.raises(NotFound):
            select_owned(conn, by_id("nope"), cases_table.c.office, "kristiansand")
        with pytest.raises(NotFound):  # a role without an office (admin, researcher) owns nothing
            select_owned(conn, by_id("c1"), cases_table.c.office, None)


def test_require_role(settings):
    principal = verify_token(settings, counsellor_token(settings))
    assert require_role(principal, "counsellor", "local_contact") is principal
    with pytest.raises(Forbidden):
        require_role(principal, "admin")
    with pytest.raises(AuthError):
        require_role(None, "admin")


def test_verify_only_deployment_cannot_mint(settings):
    external = load_settings("intake", env={"DATA_DIR": "/tmp/x", "AUTH_ALGORITHM": "RS256",
                                            "AUTH_VERIFY_KEY": "-----BEGIN PUBLIC KEY-----..."})
    with pytest.raises(AuthError, match="cannot mint"):
        mint_token(external, subject="x", role="admin", name="X")


def test_a_service_token_carries_its_scope_and_a_person_token_none(settings):
    from shared.auth import SERVICE_ROLE, mint_service_token
    service = verify_token(settings, mint_service_token(settings, "notify", "employer-contact:read"))
    assert (service.subject, service.role, service.office) == ("service-notify", SERVICE_ROLE, None)
    assert service.has_scope("employer-contact:read") and not service.has_scope("other:read")
    assert not service.is_office_member
    with pytest.raises(ValueError):  # a person's token never gets a scope from the issuer
        mint_token(settings, subject="admin", role="admin", name="A", scope="employer-contact:read")
    with pytest.raises(ValueError):  # nor a service token without one
        mint_token(settings, subject="service-x", role=SERVICE_ROLE, name="X")
    # Signed with the real key anyway: the scope claim on a person's token is ignored.
    claims = jwt.decode(mint_token(settings, subject="admin", role="admin", name="A"),
                        options={"verify_signature": False})
    admin = verify_token(settings, jwt.encode({**claims, "scope": "employer-contact:read"}, KEY, algorithm="HS256"))
    assert admin.role == "admin" and not admin.has_scope("employer-contact:read")
    # And a service-role token without a scope claim is no token at all.
    claims = jwt.decode(mint_service_token(settings, "notify", "x:y"), options={"verify_signature": False})
    del claims["scope"]
    with pytest.raises(AuthError, match="scope"):
        verify_token(settings, jwt.encode(claims, KEY, algorithm="HS256"))


def test_a_token_is_verified_once_then_kept_until_it_expires(settings, monkeypatch):
    decoded = []
    real_decode = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *args, **kwargs: decoded.append(1) or real_decode(*args, **kwargs))
    token = counsellor_token(settings, lifetime_minutes=5)
    first = verify_token(settings, token)
    assert verify_token(settings, token) is first and decoded == [1]  # the same token again: no second decode
    with pytest.raises(AuthError, match="expired"):  # kept only while it is valid
        verify_token(settings, token, now=first.expires_at)
    other = load_settings("intake", env={"DATA_DIR": "/tmp/x", "AUTH_SIGNING_KEY": "another-key-" + "z" * 30})
    with pytest.raises(AuthError, match="invalid token"):  # kept per verify key: another deployment checks anew
        verify_token(other, counsellor_token(settings))
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(AuthError, match="invalid token"):  # a failure is never kept, nor mistaken for the original
        verify_token(settings, forged)


def test_the_verified_tokens_kept_are_bounded_oldest_out_first(settings, monkeypatch):
    from shared import auth
    monkeypatch.setattr(auth, "_VERIFIED", {})
    monkeypatch.setattr(auth, "_VERIFIED_MAX", 3)
    tokens = [counsellor_token(settings, lifetime_minutes=5 + i) for i in range(5)]  # distinct exp: distinct tokens
    for token in tokens:
        verify_token(settings, token)
    assert len(auth._VERIFIED) == 3
    decoded = []
    real_decode = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *args, **kwargs: decoded.append(1) or real_decode(*args, **kwargs))
    verify_token(settings, tokens[-1])
    assert decoded == []  # the newest is still kept
    verify_token(settings, tokens[0])
    assert decoded == [1] and len(auth._VERIFIED) == 3  # the oldest was dropped: checked again, still 3 kept


def test_an_rs256_token_verifies_with_the_public_key_parsed_once():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem_private = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
    pem_public = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    rs256 = load_settings("intake", env={"DATA_DIR": "/tmp/x", "AUTH_ALGORITHM": "RS256",
                                         "AUTH_SIGNING_KEY": pem_private, "AUTH_VERIFY_KEY": pem_public})
    principal = verify_token(rs256, counsellor_token(rs256))
    assert principal.subject == "kari-veileder"
    broken = load_settings("intake", env={"DATA_DIR": "/tmp/x", "AUTH_ALGORITHM": "RS256",
                                          "AUTH_VERIFY_KEY": "-----BEGIN PUBLIC KEY-----..."})
    with pytest.raises(AuthError, match="invalid token"):  # an unusable key is a refusal, not a crash
        verify_token(broken, counsellor_token(rs256))
