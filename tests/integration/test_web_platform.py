"""What every service's web layer inherits: CSRF, security headers, session timeouts, sign-in limit, errors.

Run on intake's app (any service would do: they all come from shared.web.create_service_app).
"""
from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from services.intake import tables
from services.intake.app import create_app
from shared.auth import COOKIE_NAME, mint_token
from shared.web import CSRF_COOKIE


@pytest.fixture
def app(platform_factory, tmp_path):
    platform = platform_factory("intake", tables.all_tables(), f"sqlite:///{tmp_path}/intake.db")
    return create_app(settings=platform.settings, platform=platform)


def client_from(app):
    """A client with its own client address (X-Forwarded-For, honoured by ProxyFix): the sign-in limit is per address."""
    client = app.test_client()
    client.environ_base["HTTP_X_FORWARDED_FOR"] = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"
    return client


def csrf_of(client):
    page = client.get("/logg-inn")
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    assert client.get_cookie(CSRF_COOKIE).value == token
    return token


def sign_in(client, user="kari-veileder", password="demo"):
    return client.post("/logg-inn", data={"csrf_token": csrf_of(client), "user_id": user, "password": password,
                                          "next": "/"})


def session_claims(client):
    return jwt.decode(client.get_cookie(COOKIE_NAME).value, options={"verify_signature": False})


def test_a_form_post_without_csrf_token_is_refused_and_with_it_accepted(app):
    client = client_from(app)
    refused = client.post("/logg-inn", data={"user_id": "kari-veileder", "password": "demo"})
    assert refused.status_code == 403
    assert client.get_cookie(COOKIE_NAME) is None
    csrf_of(client)
    wrong = client.post("/logg-inn", data={"csrf_token": "guess", "user_id": "kari-veileder", "password": "demo"})
    assert wrong.status_code == 403 and client.get_cookie(COOKIE_NAME) is None
    accepted = sign_in(client)
    assert accepted.status_code == 302
    cookie = client.get_cookie(COOKIE_NAME)
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"


def test_bearer_api_calls_need_no_csrf_but_cookie_api_calls_do(app, platform_factory):
    client = client_from(app)
    token = mint_token(app.extensions["platform"].settings, subject="kari-veileder", role="counsellor",
                       name="Kari", office="kristiansand")
    with_bearer = client.post("/api/v1/cases", json={}, headers={"Authorization": f"Bearer {token}"})
    assert with_bearer.status_code == 422  # reached the schema: no CSRF refusal
    sign_in(client)
    with_cookie = client.post("/api/v1/cases", json={})
    assert with_cookie.status_code == 403
    assert "CSRF" in with_cookie.get_json()["message"]


def test_security_headers_on_every_response(app):
    client = client_from(app)
    for path in ("/logg-inn", "/healthz", "/api/openapi.json", "/does-not-exist"):
        headers = client.get(path).headers
        assert "default-src 'self'" in headers["Content-Security-Policy"] and \
            "frame-ancestors 'none'" in headers["Content-Security-Policy"], path
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
        assert headers["X-Correlation-Id"]
    sign_in(client)
    assert client.get("/").headers["Cache-Control"] == "no-store"  # signed-in pages are not cached


def test_session_idle_timeout_slides_forward_on_each_page(app):
    client = client_from(app)
    sign_in(client)
    first = session_claims(client)
    idle = app.extensions["platform"].settings.session_idle_minutes
    assert first["exp"] - first["iat"] == idle * 60
    # A cookie minted a minute ago (same sign-in time) is renewed by a page view: the expiry moves forward.
    settings = app.extensions["platform"].settings
    earlier = datetime.now(UTC) - timedelta(minutes=1)
    client.set_cookie(COOKIE_NAME, mint_token(settings, subject="kari-veileder", role="counsellor", name="Kari",
                                              office="kristiansand", lifetime_minutes=idle, now=earlier,
                                              auth_time=earlier), path="/")
    assert client.get("/").status_code == 200
    renewed = session_claims(client)
    assert renewed["exp"] >= int(earlier.timestamp()) + idle * 60 + 59
    assert renewed["auth_time"] == int(earlier.timestamp())  # the sign-in time is kept (absolute limit)


def test_an_idle_session_has_expired(app):
    client = client_from(app)
    settings = app.extensions["platform"].settings
    long_ago = datetime.now(UTC) - timedelta(minutes=settings.session_idle_minutes + 1)
    client.set_cookie(COOKIE_NAME, mint_token(settings, subject="kari-veileder", role="counsellor", name="Kari",
                                              office="kristiansand", lifetime_minutes=settings.session_idle_minutes,
                                              now=long_ago), path="/")
    page = client.get("/")
    assert page.status_code == 302 and "/logg-inn" in page.headers["Location"]
    assert client.get("/api/v1/cases").status_code == 401


def test_the_absolute_session_limit_ends_a_sliding_session(app):
    client = client_from(app)
    settings = app.extensions["platform"].settings
    signed_in_long_ago = datetime.now(UTC) - timedelta(minutes=settings.token_lifetime_minutes + 1)
    # Fresh idle expiry, but the sign-in itself is older than the absolute limit.
    client.set_cookie(COOKIE_NAME, mint_token(settings, subject="kari-veileder", role="counsellor", name="Kari",
                                              office="kristiansand", lifetime_minutes=settings.session_idle_minutes,
                                              auth_time=signed_in_long_ago), path="/")
    page = client.get("/")
    assert page.status_code == 302 and "/logg-inn" in page.headers["Location"]


def test_repeated_failed_sign_ins_are_limited_per_address(app):
    client = client_from(app)
    token = csrf_of(client)
    for _ in range(5):
        failed = client.post("/logg-inn", data={"csrf_token": token, "user_id": "kari-veileder", "password": "x"})
        assert failed.status_code == 401
        assert "Feil bruker eller passord" in failed.get_data(as_text=True)
    limited = client.post("/logg-inn", data={"csrf_token": token, "user_id": "kari-veileder", "password": "demo"})
    assert limited.status_code == 429
    assert "For mange mislykkede forsøk" in limited.get_data(as_text=True)
    assert client.get_cookie(COOKIE_NAME) is None  # even the right password is refused while limited
    other = client_from(app)
    assert sign_in(other).status_code == 302  # another address is not affected


def test_sign_in_redirects_only_to_local_paths(app):
    client = client_from(app)
    response = client.post("/logg-inn", data={"csrf_token": csrf_of(client), "user_id": "kari-veileder",
                                              "password": "demo", "next": "//evil.example/x"})
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]


def test_the_error_envelope(app):
    client = client_from(app)
    unauthenticated = client.get("/api/v1/cases")
    assert unauthenticated.status_code == 401
    body = unauthenticated.get_json()
    assert set(body) == {"code", "status", "message"} and body["code"] == 401 and body["status"] == "Unauthorized"
    assert unauthenticated.headers["WWW-Authenticate"].startswith("Bearer")
    missing = client.get("/api/v1/nothing-here", headers={"Accept": "application/json"})
    assert missing.status_code in (401, 404)
    assert set(missing.get_json()) >= {"code", "status", "message"}
    token = mint_token(app.extensions["platform"].settings, subject="kari-veileder", role="counsellor",
                       name="Kari", office="kristiansand")
    invalid = client.post("/api/v1/cases", json={"no_such_field": 1}, headers={"Authorization": f"Bearer {token}"})
    assert invalid.status_code == 422
    body = invalid.get_json()
    assert body["code"] == 422 and body["message"] == "Ugyldige data: se feltene."
    assert "no_such_field" in body["errors"]
