"""Signing in through the real OpenID provider (issue #17), against the whole system (tests/fixtures/stack.py):
every role in Chromium, the provider's tokens at the API, notify's service token, the refusals that need the running
system (another client's token, the published development key, a person unknown to the directory, a session ended
by back-channel logout) and a key rotation at the provider while the services run."""
from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import requests
from authlib.jose import JsonWebKey, JsonWebToken

from shared.config import DEVELOPMENT_SIGNING_KEY, SERVICES, load_settings
from shared.directory import DEFAULT_DIRECTORY_FILE
from shared.oidc import BACKCHANNEL_EVENT, Provider, ServiceTokens
from tests.fixtures.stack import OTHER_CLIENT
from tests.fixtures.system import sign_in
from tests.fixtures.tokens import auth_header, fresh_provider_token, provider_auth_header, provider_token

HOME_PAGES = {"kari-veileder": "/intake/", "lise-kontakt": "/intake/", "tone-fylke": "/notify/fylke",
              "rune-forsker": "/registry/", "admin": "/intake/admin"}
CASES = "/intake/api/v1/cases"


def _provider(stack) -> Provider:
    settings = load_settings("notify", env={"DATA_DIR": str(stack.data_dir), "OIDC_ISSUER": stack.oidc_issuer})
    return Provider(settings.oidc)


@pytest.mark.parametrize("user", HOME_PAGES)
def test_every_role_signs_in_at_the_provider_lands_on_its_home_page_and_signs_out(stack, page, user):
    sign_in(page, stack.base_url, user)
    assert page.url == stack.url(HOME_PAGES[user])
    assert [c for c in page.context.cookies() if c["name"] == "hybrid_session"]
    page.click("form.signout button[type=submit]")
    page.wait_for_url(stack.url("/logget-ut"))
    assert "Du er logget ut" in page.content()
    assert not [c for c in page.context.cookies() if c["name"] == "hybrid_session"]
    # The provider's session ended too (RP-initiated logout): signing in again asks for the password.
    page.goto(stack.url("/intake/"))
    assert page.locator("#login").count() == 1 and page.url.startswith(stack.oidc_issuer)


def test_a_persons_provider_token_opens_the_api_and_other_tokens_do_not(stack):
    assert requests.get(stack.url(CASES), headers=provider_auth_header(stack.oidc_issuer, "kari-veileder"),
                        timeout=10).status_code == 200
    # A token the same provider issued to another application, for the same person.
    other = provider_auth_header(stack.oidc_issuer, "kari-veileder", client_id=OTHER_CLIENT)
    assert requests.get(stack.url(CASES), headers=other, timeout=10).status_code == 401
    # The finding of the issue: a token signed with the development key printed in the source.
    now = datetime.now(UTC)
    forged = jwt.encode({"iss": "hybrid-local", "aud": "hybrid-platform", "sub": "kari-veileder", "role": "counsellor",
                         "office": "kristiansand", "name": "K", "iat": now, "exp": now + timedelta(hours=1)},
                        DEVELOPMENT_SIGNING_KEY, algorithm="HS256")
    assert requests.get(stack.url(CASES), headers=auth_header(forged), timeout=10).status_code == 401


def test_a_researchers_script_gets_its_token_from_the_provider_by_client_credentials(stack):
    client = "hybrid-api-rune-forsker"
    secret = (stack.data_dir / f"oidc-{client}-secret").read_text().strip()
    token = ServiceTokens(_provider(stack), client, secret, "api").token()
    assert requests.get(stack.url("/registry/api/v1/codebook"), headers=auth_header(token),
                        timeout=10).status_code == 200
    assert requests.get(stack.url(CASES), headers=auth_header(token), timeout=10).status_code == 403


def test_notify_gets_its_service_token_from_the_provider_and_intake_checks_it(stack):
    secret = (stack.data_dir / "oidc-notify-secret").read_text().strip()
    token = ServiceTokens(_provider(stack), "hybrid-notify", secret, "employer-contact:read").token()
    internal = stack.url(f"/intake/api/internal/cases/{uuid.uuid4()}/employer-contact")
    assert requests.get(internal, headers=auth_header(token), timeout=10).status_code == 404  # let in: no such case
    assert requests.get(stack.url(CASES), headers=auth_header(token), timeout=10).status_code == 403
    admin = provider_auth_header(stack.oidc_issuer, "admin")
    assert requests.get(internal, headers=admin, timeout=10).status_code == 403


def _load_directory(stack, path):
    for service in SERVICES:
        stack.supervisor.flask(service, "directory", "load", "--file", str(path))


def test_a_person_removed_from_the_directory_loses_access_and_an_unknown_person_gets_a_clear_page(stack, tmp_path):
    session = stack.sign_in("ola-veileder")
    token = provider_auth_header(stack.oidc_issuer, "ola-veileder")
    assert session.get(stack.url("/intake/"), allow_redirects=False, timeout=10).status_code == 200
    directory = json.loads(DEFAULT_DIRECTORY_FILE.read_text(encoding="utf-8"))
    directory["users"] = [user for user in directory["users"] if user["id"] != "ola-veileder"]
    smaller = tmp_path / "directory.json"
    smaller.write_text(json.dumps(directory), encoding="utf-8")
    try:
        _load_directory(stack, smaller)
        page = session.get(stack.url("/intake/"), allow_redirects=False, timeout=10)
        assert page.status_code == 302 and "logg-inn" in page.headers["Location"]
        assert requests.get(stack.url(CASES), headers=token, timeout=10).status_code == 403
        # Signing in again: the provider knows the person, the directory does not.
        with pytest.raises(AssertionError, match="^403"):
            stack.sign_in("ola-veileder")
        refused = requests.Session()
        login = refused.get(stack.url("/logg-inn"), timeout=10)
        action = re.search(r'<form method="post" action="([^"]+)"', login.text).group(1)
        answer = refused.post(stack.oidc_issuer + action, data={"login": "ola.hansen@demo.example.org",
                                                                "password": "demo"}, timeout=10)
        assert answer.status_code == 403 and "ikke registrert" in answer.text
        assert "hybrid_session" not in refused.cookies
    finally:
        _load_directory(stack, DEFAULT_DIRECTORY_FILE)


def _provider_logout_elsewhere(stack, session: requests.Session):
    """The person signs out at the provider directly (another application, the provider's own page)."""
    confirm = session.get(stack.oidc_issuer + "/session/end", timeout=10)
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', confirm.text))
    action = re.search(r'<form [^>]*action="([^"]+)"', confirm.text).group(1)
    done = session.post(action if action.startswith("http") else stack.oidc_issuer + action,
                        data={**form, "logout": "yes"}, timeout=10)
    assert done.status_code == 200, done.text[:300]


def test_the_back_channel_endpoint_refuses_what_the_provider_did_not_sign(stack):
    """A forged logout token naming a real person's session ends nothing: the person stays signed in."""
    session = stack.sign_in("anne-kontakt")
    sid = jwt.decode(session.cookies["hybrid_session"], options={"verify_signature": False})["sid"]
    now = datetime.now(UTC)
    claims = {"iss": stack.oidc_issuer, "aud": "hybrid-platform", "iat": now, "exp": now + timedelta(minutes=2),
              "sid": sid, "jti": str(uuid.uuid4()), "events": {BACKCHANNEL_EVENT: {}}}
    with_the_development_key = jwt.encode(claims, DEVELOPMENT_SIGNING_KEY, algorithm="HS256")
    # Shaped as the provider's own: RS256 and the key id of its signing key, signed with a key it does not have.
    jwks_uri = requests.get(stack.oidc_issuer + "/.well-known/openid-configuration", timeout=10).json()["jwks_uri"]
    kid = requests.get(jwks_uri, timeout=10).json()["keys"][0]["kid"]
    forger = JsonWebKey.generate_key("RSA", 2048, is_private=True)
    with_a_foreign_key = JsonWebToken(["RS256"]).encode(
        {"alg": "RS256", "kid": kid}, {**claims, "iat": int(now.timestamp()), "exp": int(now.timestamp()) + 120},
        forger).decode()
    for token in ("", "not-a-token", with_the_development_key, with_a_foreign_key):
        answer = requests.post(stack.url("/logg-ut/backchannel"), data={"logout_token": token}, timeout=10)
        assert answer.status_code == 400 and answer.headers["Cache-Control"] == "no-store"
    time.sleep(2.5)  # longer than a service keeps a deny-list lookup: a wrongly ended session would show by now
    for service in SERVICES:
        answer = session.get(stack.url(f"/{service}/"), allow_redirects=False, timeout=10)
        assert "logg-inn" not in answer.headers.get("Location", ""), service


def test_back_channel_logout_ends_the_session_in_every_service_within_5_seconds(stack):
    session = stack.sign_in("jonas-jobbspesialist")
    pages = {service: stack.url(f"/{service}/") for service in SERVICES}
    for service, url in pages.items():
        assert session.get(url, allow_redirects=False, timeout=10).status_code != 302, service
    _provider_logout_elsewhere(stack, session)
    deadline = time.monotonic() + 5
    pending = set(SERVICES)
    while pending and time.monotonic() < deadline:
        for service in list(pending):
            answer = session.get(pages[service], allow_redirects=False, timeout=10)
            if answer.status_code == 302 and "logg-inn" in answer.headers["Location"]:
                pending.discard(service)
        time.sleep(0.2)
    assert not pending, f"still signed in after 5 s: {sorted(pending)}"


def test_keys_rotate_at_the_provider_while_the_services_run(stack):
    old = provider_token(stack.oidc_issuer, "siri-veileder")
    assert requests.get(stack.url(CASES), headers=auth_header(old), timeout=10).status_code == 200
    for step in ("rotate", "retire"):  # a new signing key; then the old one leaves the JWKS
        assert requests.post(f"{stack.oidc_admin_url}/keys/{step}", timeout=10).status_code == 200
    new = fresh_provider_token(stack.oidc_issuer, "siri-veileder")
    assert jwt.get_unverified_header(new)["kid"] != jwt.get_unverified_header(old)["kid"]
    assert requests.get(stack.url(CASES), headers=auth_header(new), timeout=10).status_code == 200
    assert requests.get(stack.url(CASES), headers=auth_header(old), timeout=10).status_code == 401
