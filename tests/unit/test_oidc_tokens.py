"""The provider's tokens as the platform checks them (shared.oidc), against a JWKS served from memory: every refusal
of issue #17's list that lies in the token itself, the one refetch for an unknown key and a removed key refused."""
from __future__ import annotations

import time
from dataclasses import replace

import pytest
from authlib.jose import JsonWebKey, JsonWebToken

from shared.config import ConfigError, load_settings
from shared.oidc import BACKCHANNEL_EVENT, Provider, TokenRefused
from shared.web import refuse_unsafe_web_settings

ISSUER = "https://login.example.test"
AUDIENCE = "api://hybrid-platform"
CLIENT = "hybrid-platform"


class FakeProviderHttp:
    """The provider's discovery document and JWKS, counting JWKS fetches."""

    def __init__(self):
        self.keys = [JsonWebKey.generate_key("RSA", 2048, is_private=True, options={"kid": "key-1"})]
        self.jwks_fetches = 0

    def get(self, url, timeout):
        if url.endswith("/.well-known/openid-configuration"):
            return Answer({"issuer": ISSUER, "jwks_uri": ISSUER + "/jwks", "token_endpoint": ISSUER + "/token"})
        self.jwks_fetches += 1
        return Answer({"keys": [key.as_dict(is_private=False) for key in self.keys]})


class Answer:
    def __init__(self, body):
        self.body = body

    def raise_for_status(self):
        pass

    def json(self):
        return self.body


@pytest.fixture
def oidc_settings():
    settings = load_settings("intake", env={"DATA_DIR": "/tmp/hybrid-oidc-test", "OIDC_ISSUER": ISSUER,
                                            "OIDC_CLIENT_SECRET": "s" * 40, "AUTH_SIGNING_KEY": "k" * 40,
                                            "OIDC_SERVICE_CLIENTS": "hybrid-notify=notify"})
    return settings.oidc


@pytest.fixture
def http():
    return FakeProviderHttp()


@pytest.fixture
def provider(oidc_settings, http):
    return Provider(oidc_settings, http=http)


def claims(**changes):
    now = int(time.time())
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "oid-1", "NAVident": "B100001", "client_id": CLIENT,
            "iat": now, "nbf": now, "exp": now + 600, "scope": "api"}
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


def sign(http, payload, key=None, alg="RS256"):
    key = key or http.keys[0]
    return JsonWebToken([alg]).encode({"alg": alg, "kid": key.kid}, payload, key).decode()


def test_a_good_access_token_passes(provider, http):
    assert provider.verify_access_token(sign(http, claims()))["NAVident"] == "B100001"


# Times are offsets from the moment the test runs, not from collection: a full suite collects minutes earlier.
@pytest.mark.parametrize("change, reason", [
    (lambda now: {"iss": "https://evil.example.test"}, "wrong issuer"),
    (lambda now: {"aud": "api://another-api"}, "wrong audience"),
    (lambda now: {"exp": now - 120, "iat": now - 900, "nbf": now - 900}, "expired"),
    (lambda now: {"nbf": now + 600}, "not yet valid"),
    (lambda now: {"exp": None}, "no expiry"),
    (lambda now: {"client_id": "another-application"}, "a token of another client"),
])
def test_refused_claims(provider, http, change, reason):
    with pytest.raises(TokenRefused):
        provider.verify_access_token(sign(http, claims(**change(int(time.time())))))


def test_a_tampered_token_is_refused(provider, http):
    header, payload, signature = sign(http, claims()).split(".")
    other_payload = sign(http, claims(NAVident="A100000")).split(".")[1]
    with pytest.raises(TokenRefused):
        provider.verify_access_token(".".join([header, other_payload, signature]))
    assert payload != other_payload


def test_alg_none_and_a_shared_secret_are_refused(provider, http):
    import base64
    import json

    def b64(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    unsigned = f"{b64({'alg': 'none', 'kid': 'key-1'})}.{b64(claims())}."
    with pytest.raises(TokenRefused):
        provider.verify_access_token(unsigned)
    hs256 = JsonWebToken(["HS256"]).encode({"alg": "HS256", "kid": "key-1"}, claims(), "x" * 40).decode()
    with pytest.raises(TokenRefused):
        provider.verify_access_token(hs256)


def test_an_unknown_kid_makes_one_refetch_and_a_removed_key_is_refused(provider, http):
    old_token = sign(http, claims())
    provider.verify_access_token(old_token)
    assert http.jwks_fetches == 1
    # The provider rotates: a new signing key, the old one removed from its JWKS.
    http.keys = [JsonWebKey.generate_key("RSA", 2048, is_private=True, options={"kid": "key-2"})]
    provider.verify_access_token(sign(http, claims()))
    assert http.jwks_fetches == 2  # one refetch, no restart
    with pytest.raises(TokenRefused, match="JWKS does not have"):
        provider.verify_access_token(old_token)
    assert http.jwks_fetches == 2  # made-up or removed kids do not turn each request into a fetch


def test_a_removed_key_is_refused_once_the_jwks_is_read_again(oidc_settings, http):
    provider = Provider(replace(oidc_settings, jwks_max_age_seconds=1), http=http)
    old_token = sign(http, claims())
    provider.verify_access_token(old_token)
    http.keys = [JsonWebKey.generate_key("RSA", 2048, is_private=True, options={"kid": "key-2"})]
    provider._jwks_fetched_at -= 2  # the cached JWKS is older than its maximum age
    with pytest.raises(TokenRefused):
        provider.verify_access_token(old_token)


def test_the_id_token_needs_our_client_as_audience_and_party_and_the_nonce(provider, http):
    good = claims(aud=CLIENT, nonce="n-1", azp=CLIENT, client_id=None)
    assert provider.verify_id_token(sign(http, good), "n-1")["NAVident"] == "B100001"
    for bad in (dict(good, nonce="other"), dict(good, azp="another-application"), dict(good, aud=AUDIENCE)):
        with pytest.raises(TokenRefused):
            provider.verify_id_token(sign(http, bad), "n-1")


def test_a_logout_token_names_the_session_and_the_back_channel_event(provider, http):
    logout = claims(aud=CLIENT, sid="sid-1", events={BACKCHANNEL_EVENT: {}}, client_id=None, NAVident=None)
    assert provider.verify_logout_token(sign(http, logout))["sid"] == "sid-1"
    for bad in (dict(logout, events={}), dict(logout, sid=None), dict(logout, nonce="n")):
        with pytest.raises(TokenRefused):
            provider.verify_logout_token(sign(http, {k: v for k, v in bad.items() if v is not None}))


# ---------------------------------------------------------------- no published secret outside local demo mode
def test_the_development_key_is_refused_outside_local_demo_mode():
    from shared.config import DEVELOPMENT_SIGNING_KEY
    with pytest.raises(ConfigError, match="^AUTH_SIGNING_KEY is the published development key"):
        load_settings("intake", env={"DATA_DIR": "/tmp/x", "AUTH_SIGNING_KEY": DEVELOPMENT_SIGNING_KEY})
    with pytest.raises(ConfigError, match="^DEMO_MODE=true needs a loopback PUBLIC_URL"):
        load_settings("intake", env={"DATA_DIR": "/tmp/x", "DEMO_MODE": "true",
                                     "PUBLIC_URL": "https://hybrid.intern.nav.no"})
    demo = load_settings("intake", env={"DATA_DIR": "/tmp/x", "DEMO_MODE": "true"})
    assert demo.demo_mode and demo.auth_signing_key == DEVELOPMENT_SIGNING_KEY


@pytest.mark.parametrize("env, named", [
    ({}, "AUTH_SIGNING_KEY"),
    ({"AUTH_SIGNING_KEY": "k" * 40}, "OIDC_ISSUER"),
    ({"AUTH_SIGNING_KEY": "k" * 40, "OIDC_ISSUER": ISSUER}, "OIDC_CLIENT_SECRET"),
])
def test_a_web_service_outside_demo_mode_refuses_a_missing_secret_naming_it(env, named):
    settings = load_settings("intake", env={"DATA_DIR": "/tmp/x", **env})
    with pytest.raises(ConfigError, match=f"^{named} must be set"):
        refuse_unsafe_web_settings(settings)


def test_a_local_token_is_not_minted_outside_demo_mode():
    from shared.auth import AuthError, mint_service_token
    settings = load_settings("intake", env={"DATA_DIR": "/tmp/x", "AUTH_SIGNING_KEY": "k" * 40})
    with pytest.raises(AuthError, match="identity provider"):
        mint_service_token(settings, "notify", "employer-contact:read")


# ---------------------------------------------------------------- the provider at an internal address (compose)
class InternalHttp(FakeProviderHttp):
    """A provider asked at its internal address (oidc-provider writes each endpoint with the address asked at)."""

    def __init__(self, internal):
        super().__init__()
        self.internal, self.fetched = internal, []

    def get(self, url, timeout):
        self.fetched.append(url)
        if url.endswith("/.well-known/openid-configuration"):
            return Answer({"issuer": ISSUER, **{name: self.internal + path for name, path in (
                ("jwks_uri", "/jwks"), ("token_endpoint", "/token"), ("authorization_endpoint", "/auth"),
                ("end_session_endpoint", "/session/end"))}})
        return Answer({"keys": [key.as_dict(is_private=False) for key in self.keys]})


def test_services_reach_the_provider_internally_and_the_browser_at_the_issuer():
    internal = "http://oidc:8090"
    settings = load_settings("intake", env={"DATA_DIR": "/tmp/x", "OIDC_ISSUER": ISSUER, "OIDC_INTERNAL_URL": internal})
    http = InternalHttp(internal)
    provider = Provider(settings.oidc, http=http)
    assert provider.verify_access_token(sign(http, claims()))["NAVident"] == "B100001"
    assert http.fetched == [internal + "/.well-known/openid-configuration", internal + "/jwks"]
    assert provider.metadata["token_endpoint"] == internal + "/token"  # the code exchange, client credentials
    assert provider.metadata["authorization_endpoint"] == ISSUER + "/auth"  # where the browser is sent
    assert provider.metadata["end_session_endpoint"] == ISSUER + "/session/end"
    with pytest.raises(TokenRefused):  # tokens are still checked against the issuer, not the internal address
        provider.verify_access_token(sign(http, claims(iss=internal)))
    with pytest.raises(ConfigError, match="^OIDC_INTERNAL_URL="):
        load_settings("intake", env={"DATA_DIR": "/tmp/x", "OIDC_ISSUER": ISSUER, "OIDC_INTERNAL_URL": "oidc:8090"})
