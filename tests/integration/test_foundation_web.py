"""The web plumbing every service inherits (shared.web.create_service_app), seen from a browser or an operator:
health, CSRF, security headers, sessions, errors, logs, metrics, OpenAPI (intake as the host app; any service would
do). The app runs as in production (no local demo mode): people sign in at the real OpenID provider
(tests/fixtures/oidc.py), whose login page checks the password, and call the API with its tokens."""
from __future__ import annotations

import io
import json
import logging
import re
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from services.intake import tables
from services.intake.app import create_app
from shared.auth import COOKIE_NAME, mint_token, verify_token
from shared.config import load_settings
from shared.crypto import LocalKeyring
from shared.platform import Platform
from shared.web import CSRF_COOKIE
from tests.fixtures.oidc import sign_in_test_client
from tests.fixtures.tokens import provider_auth_header

BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


def make_app(platform):
    app = create_app(settings=platform.settings, platform=platform)

    def explode():
        raise RuntimeError("secret detail: fødselsnummer 01019912345")
    app.add_url_rule("/api/test-explode", "test_explode", explode)
    app.add_url_rule("/test-explode", "test_explode_page", explode)
    app.config["TESTING"] = False  # errors go through the handlers, as in production
    return app


@pytest.fixture
def app(platform_factory, tmp_path, oidc_provider):
    platform = platform_factory("intake", tables.all_tables(), f"sqlite:///{tmp_path}/intake.db",
                                env=oidc_provider.app_env(INTAKE_AMQP_URLS=BROKER_URL))
    return make_app(platform)


@pytest.fixture
def sign_in(oidc_provider):
    """sign_in(client, user_id, start) -> the app's answer at the end of a sign-in at the provider."""
    def sign_in(client, user_id="kari-veileder", start="/logg-inn"):
        return sign_in_test_client(client, oidc_provider, user_id, start=start)
    return sign_in


def person_header(app, user_id):
    """A person's access token from the provider the app trusts."""
    return provider_auth_header(app.extensions["platform"].settings.oidc.issuer, user_id)


@pytest.fixture
def client(app):
    return app.test_client()


def client_from(app):
    """A client with its own address (X-Forwarded-For, honoured by ProxyFix)."""
    client = app.test_client()
    client.environ_base["HTTP_X_FORWARDED_FOR"] = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"
    return client


def csrf_of(client):
    page = client.get("/tilgjengelighet")  # any page: the header's language form carries the token
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    assert client.get_cookie(CSRF_COOKIE).value == token
    return token


def session_claims(client):
    return jwt.decode(client.get_cookie(COOKIE_NAME).value, options={"verify_signature": False})


def set_cookie_lines(response):
    return [v for k, v in response.headers.items() if k == "Set-Cookie"]


def session_cookie_line(response):
    lines = [line for line in set_cookie_lines(response) if line.startswith(COOKIE_NAME + "=")]
    return lines[0] if lines else None


# ---------------------------------------------------------------- health
def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok", "service": "intake"}


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_readyz_checks_the_database(platform_factory, tmp_path, database, request):
    url = f"sqlite:///{tmp_path}/intake.db" if database == "sqlite" else request.getfixturevalue("pg_url")
    platform = platform_factory("intake", tables.all_tables(), url, env={"INTAKE_AMQP_URLS": BROKER_URL})
    response = make_app(platform).test_client().get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"status": "ready", "checks": {"database": "ok"}}


def test_readyz_names_the_unreachable_database(tmp_path):
    settings = load_settings("intake", env={"DATA_DIR": str(tmp_path), "INTAKE_AMQP_URLS": BROKER_URL,
                                            "INTAKE_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nothing"})
    platform = Platform(settings, tables.all_tables(), keyring=LocalKeyring({}))
    response = make_app(platform).test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "not ready"
    assert list(body["checks"]) == ["database"] and body["checks"]["database"].startswith("down: ")


def test_readyz_stays_ready_while_the_broker_is_down(platform_factory, tmp_path):
    """Requests write events to the outbox, so a web replica serves without the broker: a broker outage must not
    take every replica out of its Service (the relays and consumers show the broker's health in their metrics)."""
    platform = platform_factory("intake", tables.all_tables(), f"sqlite:///{tmp_path}/i.db",
                                env={"INTAKE_AMQP_URLS": "amqp://guest:guest@127.0.0.1:1/%2F"})
    response = make_app(platform).test_client().get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"status": "ready", "checks": {"database": "ok"}}


# ---------------------------------------------------------------- CSRF and headers
def test_form_post_without_csrf_token_is_refused(client, sign_in):
    sign_in(client)
    csrf_of(client)  # the cookie alone is not enough: the form must echo it
    response = client.post("/logg-ut")
    assert response.status_code == 403
    wrong = client.post("/logg-ut", data={"csrf_token": "x" * 43})
    assert wrong.status_code == 403
    assert client.get("/").status_code == 200  # still signed in: neither post signed the person out


def test_form_post_with_csrf_token_passes(client, sign_in):
    response = sign_in(client)
    assert response.status_code == 302
    assert client.get_cookie(COOKIE_NAME) is not None
    chosen = client.post("/sprak", data={"sprak": "nn", "neste": "/", "csrf_token": csrf_of(client)})
    assert chosen.status_code == 303 and client.get_cookie("hybrid_sprak").value == "nn"


def test_json_post_from_page_needs_header_and_bearer_needs_none(client, app):
    token = csrf_of(client)
    assert client.post("/api/v1/cases/search", json={}).status_code == 403
    with_header = client.post("/api/v1/cases/search", json={}, headers={"X-CSRF-Token": token})
    assert with_header.status_code != 403  # passes CSRF; no session, so 401
    bearer = person_header(app, "kari-veileder")
    fresh = app.test_client()
    assert fresh.post("/api/v1/cases/search", json={}, headers=bearer).status_code != 403


def test_a_form_post_without_csrf_token_is_refused_and_with_it_accepted(app, sign_in):
    client = client_from(app)
    assert sign_in(client).status_code == 302
    cookie = client.get_cookie(COOKIE_NAME)
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    refused = client.post("/logg-ut")
    assert refused.status_code == 403 and client.get_cookie(COOKIE_NAME) is not None
    csrf_of(client)
    wrong = client.post("/logg-ut", data={"csrf_token": "guess"})
    assert wrong.status_code == 403 and client.get_cookie(COOKIE_NAME) is not None
    accepted = client.post("/logg-ut", data={"csrf_token": csrf_of(client)})
    assert accepted.status_code == 302 and client.get_cookie(COOKIE_NAME) is None


def test_bearer_api_calls_need_no_csrf_but_cookie_api_calls_do(app, sign_in):
    client = client_from(app)
    with_bearer = client.post("/api/v1/cases", json={}, headers=person_header(app, "kari-veileder"))
    assert with_bearer.status_code == 422  # reached the schema: no CSRF refusal
    sign_in(client)
    with_cookie = client.post("/api/v1/cases", json={})
    assert with_cookie.status_code == 403
    assert "CSRF" in with_cookie.get_json()["message"]


@pytest.mark.parametrize("path", ["/logg-inn", "/healthz", "/api/openapi.json", "/no-such-page"])
def test_security_headers_on_every_response(client, path):
    headers = client.get(path).headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Correlation-Id"]


def test_signed_in_pages_are_not_cached(client, sign_in):
    sign_in(client)
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


# ---------------------------------------------------------------- session cookie
def test_session_cookie_is_httponly_samesite(client, sign_in):
    line = session_cookie_line(sign_in(client))
    assert line is not None
    assert "HttpOnly" in line and "SameSite=Lax" in line and "Path=/" in line
    # The cookie lives the absolute lifetime (480 min); the token inside it expires at the idle timeout (30 min), so a
    # form sent after an idle timeout is still known to be this person's and kept for them (shared.web.keeping).
    assert re.search(r"Max-Age=28800\b", line)
    assert session_claims(client)["exp"] - session_claims(client)["iat"] == 30 * 60
    csrf_lines = [line for line in set_cookie_lines(client.application.test_client().get("/tilgjengelighet"))
                  if line.startswith(CSRF_COOKIE)]
    assert csrf_lines and all("HttpOnly" in line for line in csrf_lines)


def test_session_slides_on_page_requests(client, app):
    settings = app.extensions["platform"].settings
    ten_minutes_ago = datetime.now(UTC) - timedelta(minutes=10)
    old = mint_token(settings, subject="kari-veileder", role="counsellor", name="Kari", office="kristiansand",
                     lifetime_minutes=settings.session_idle_minutes, now=ten_minutes_ago)
    client.set_cookie(COOKIE_NAME, old)
    response = client.get("/")
    assert response.status_code == 200
    renewed = client.get_cookie(COOKIE_NAME).value
    assert renewed != old
    old_principal, new_principal = verify_token(settings, old), verify_token(settings, renewed)
    assert new_principal.expires_at - old_principal.expires_at >= timedelta(minutes=9)
    assert new_principal.auth_time == old_principal.auth_time  # sign-in time is kept: the absolute limit holds
    # API calls and probes do not extend a session.
    assert session_cookie_line(client.get("/api/v1/cases")) is None
    assert session_cookie_line(client.get("/healthz")) is None


def test_absolute_session_limit_forces_sign_in_again(client, app):
    settings = app.extensions["platform"].settings
    signed_in_long_ago = datetime.now(UTC) - timedelta(minutes=settings.token_lifetime_minutes + 1)
    token = mint_token(settings, subject="kari-veileder", role="counsellor", name="Kari", office="kristiansand",
                       lifetime_minutes=settings.session_idle_minutes, auth_time=signed_in_long_ago)
    client.set_cookie(COOKIE_NAME, token)
    response = client.get("/")
    assert response.status_code == 302 and "/logg-inn" in response.headers["Location"]
    assert session_cookie_line(response) is None  # not renewed
    api = client.get("/api/v1/cases")
    assert api.status_code == 401 and "session expired" in api.get_json()["message"]


def test_expired_idle_cookie_goes_to_sign_in(client, app):
    settings = app.extensions["platform"].settings
    token = mint_token(settings, subject="kari-veileder", role="counsellor", name="Kari", office="kristiansand",
                       lifetime_minutes=1, now=datetime.now(UTC) - timedelta(minutes=5))
    client.set_cookie(COOKIE_NAME, token)
    response = client.get("/")
    assert response.status_code == 302 and "/logg-inn" in response.headers["Location"]


def test_session_idle_timeout_slides_forward_on_each_page(app, sign_in):
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


def test_sign_in_redirects_only_to_local_paths(app, sign_in):
    client = client_from(app)
    response = sign_in(client, start="/logg-inn?next=//evil.example/x")
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]
    back = sign_in(client_from(app), start="/logg-inn?next=/saker/ny")
    assert back.status_code == 302 and back.headers["Location"] == "/saker/ny"  # where the person was going


def test_logout_clears_the_cookie(client, sign_in):
    sign_in(client)
    assert client.get("/").status_code == 200
    response = client.post("/logg-ut", data={"csrf_token": client.get_cookie(CSRF_COOKIE).value})
    assert response.status_code == 302
    line = session_cookie_line(response)
    assert line is not None and ("Max-Age=0" in line or "expires=Thu, 01 Jan 1970" in line)
    assert client.get_cookie(COOKIE_NAME) is None
    assert client.get("/").status_code == 302


# ---------------------------------------------------------------- errors and logs
def test_unexpected_error_returns_reference_without_details(client):
    # The service's own JSON handler (installed by the app factory on the root logger), redirected to a buffer.
    handler = logging.getLogger().handlers[0]
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    response = client.get("/api/test-explode", headers={"X-Correlation-Id": "corr-500-test"})
    assert response.status_code == 500
    body = response.get_json()
    assert body == {"code": 500, "status": "Internal Server Error", "message": "Intern feil. Referanse: corr-500-test"}
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "01019912345" not in text and "RuntimeError" not in text
    page = client.get("/test-explode", headers={"X-Correlation-Id": "corr-500-page"})
    assert page.status_code == 500 and "corr-500-page" in page.get_data(as_text=True)
    assert "01019912345" not in page.get_data(as_text=True)

    handler.setStream(previous)
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    logged = [line for line in lines if line.get("msg") == "unhandled error"]
    assert {line["correlation_id"] for line in logged} == {"corr-500-test", "corr-500-page"}
    assert all(line["error_type"] == "RuntimeError" and line["service"] == "intake" for line in logged)
    assert "01019912345" not in json.dumps(lines)


def test_error_envelope_on_401_403_404(client, app):
    unauthenticated = client.get("/api/v1/cases")
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["WWW-Authenticate"].startswith("Bearer")
    body = unauthenticated.get_json()
    assert set(body) == {"code", "status", "message"} and body["code"] == 401 and body["status"] == "Unauthorized"
    assert body["message"].startswith("Innlogging kreves")

    counsellor = person_header(app, "kari-veileder")
    forbidden = client.get("/api/v1/overview", headers=counsellor)
    assert forbidden.status_code == 403
    assert forbidden.get_json()["code"] == 403 and forbidden.get_json()["status"] == "Forbidden"

    missing = client.get("/api/v1/cases/00000000000000000000000000", headers=counsellor)
    assert missing.status_code == 404
    assert missing.get_json() == {"code": 404, "status": "Not Found", "message": "Fant ikke det du ba om."}

    no_route = client.get("/api/v1/no-such-thing")
    assert no_route.status_code == 404 and no_route.get_json()["code"] == 404


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
    invalid = client.post("/api/v1/cases", json={"no_such_field": 1},
                          headers=person_header(app, "kari-veileder"))
    assert invalid.status_code == 422
    body = invalid.get_json()
    assert body["code"] == 422 and body["message"] == "Ugyldige data: se feltene."
    assert "no_such_field" in body["errors"]


def test_a_body_that_is_not_json_is_400_naming_the_body(client, app):
    # Found by fuzzing: webargs reports unreadable JSON as a list for the whole location, which the error
    # handler once took for a dict of fields and turned into a 500.
    response = client.post("/api/v1/cases/search", data=b"\x00{", content_type="application/json",
                           headers=person_header(app, "kari-veileder"))
    assert response.status_code == 400
    body = response.get_json()
    assert body["code"] == 400 and body["message"] == "Forespørselen kunne ikke leses." and "json" in body["errors"]


def test_query_parameters_unknown_or_repeated_are_422_naming_them(client, app):
    # Found by fuzzing: webargs dropped unknown query parameters (a misspelt filter returned everything) and took
    # the first of repeated ones.
    counsellor = person_header(app, "kari-veileder")
    unknown = client.get("/api/v1/cases?stat=open", headers=counsellor)
    assert unknown.status_code == 422 and "stat" in unknown.get_json()["errors"]
    repeated = client.get("/api/v1/cases?state=open&state=closed", headers=counsellor)
    assert repeated.status_code == 422 and "state" in repeated.get_json()["errors"]
    unknown_state = client.get("/api/v1/cases?state=opne", headers=counsellor)  # would silently match nothing
    assert unknown_state.status_code == 422 and "state" in unknown_state.get_json()["errors"]
    assert client.get("/api/v1/cases?state=open", headers=counsellor).status_code == 200


def test_error_body_matches_the_documented_error_schema(client):
    document = client.get("/api/openapi.json").get_json()
    error_schema = document["components"]["schemas"]["ErrorOut"]
    assert {"type": "string"} in error_schema["properties"]["code"]["oneOf"]  # domain refusals: code "not_eligible"
    assert set(error_schema["required"]) == {"code", "status", "message"}


def test_correlation_id_is_echoed_or_made(client):
    assert client.get("/healthz", headers={"X-Correlation-Id": "abc-123"}).headers["X-Correlation-Id"] == "abc-123"
    made = client.get("/healthz").headers["X-Correlation-Id"]
    assert re.fullmatch(r"[0-9a-f-]{36}", made)
    assert client.get("/healthz", headers={"X-Correlation-Id": "x" * 500}).headers["X-Correlation-Id"] == "x" * 100


# ---------------------------------------------------------------- metrics and OpenAPI
def test_metrics_count_requests(client):
    client.get("/healthz")
    text = client.get("/metrics").get_data(as_text=True)
    match = re.search(r'http_requests_total\{[^}]*endpoint="/healthz"[^}]*service="intake"[^}]*status="200"'
                      r'[^}]*\} (\S+)|http_requests_total\{[^}]*service="intake"[^}]*endpoint="/healthz"[^}]*\} (\S+)',
                      text)
    assert match, text[:2000]
    before = float(match.group(1) or match.group(2))
    client.get("/healthz")
    after_text = client.get("/metrics").get_data(as_text=True)
    after = re.search(re.escape(match.group(0).rsplit(" ", 1)[0]) + r" (\S+)", after_text)
    assert float(after.group(1)) == before + 1
    assert "http_request_seconds_bucket" in after_text


def test_openapi_document_with_bearer_scheme(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = json.loads(response.get_data(as_text=True))
    assert document["openapi"].startswith("3.")
    assert document["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer",
                                                                   "bearerFormat": "JWT"}
    assert document["security"] == [{"bearer": []}]
    assert "/api/v1/cases" in document["paths"]
