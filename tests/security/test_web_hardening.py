"""Web hardening of every service, each part with a test that fails if the control is taken away (issue #8 item 5).

- Security headers on every kind of answer of every service: every GET page and API operation in the policy, as
  an allowed caller and as nobody (200, 302 to sign-in, 401, 403, 404), plus static files and a refused post.
- HTTPS deployments (SECURE_COOKIES=true): both cookies Secure, HSTS on every answer.
- Idle timeout on the server side: the sign-in token itself expires SESSION_IDLE_MINUTES after the last page, not
  after the token lifetime (a copied cookie dies with the idle session, not 8 hours later).
CSRF on every form is tests/security/test_csrf_forms.py; the absolute limit and logout are in
tests/integration/test_foundation_web.py (docs/security.md lists them). People sign in at the real OpenID provider
(tests/fixtures/oidc.py); its login page, not the platform, checks the password.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.intake import tables as intake_tables
from services.intake.app import create_app as create_intake_app
from shared.auth import COOKIE_NAME, verify_token
from shared.web import CSRF_COOKIE
from tests.fixtures.db import make_test_platform
from tests.fixtures.oidc import sign_in_test_client

from .callers import PEOPLE
from .policy import POLICY
from .test_access_matrix import apps, callers, fill  # noqa: F401  (module fixtures reused)

STATIC_FILES = {"intake": ["/intake-static/intake.css"]}
CSP_DIRECTIVES = ("default-src 'self'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'",
                  "script-src 'self'")


def header_problems(response, signed_in):
    headers, problems = response.headers, []
    csp = headers.get("Content-Security-Policy", "")
    problems += [f"CSP lacks {d}" for d in CSP_DIRECTIVES if d not in csp]
    expected = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
                "Permissions-Policy": "camera=(), microphone=(), geolocation=()"}
    problems += [f"{name}: {headers.get(name)!r}" for name, value in expected.items() if headers.get(name) != value]
    if signed_in and response.status_code < 300 and headers.get("Cache-Control") != "no-store":
        problems.append(f"signed-in answer cacheable: Cache-Control {headers.get('Cache-Control')!r}")
    return problems


def _allowed_caller(rule):
    for caller, (_subject, role, *_rest) in PEOPLE.items():
        if role in rule.roles and caller != "other_office_counsellor":
            return caller
    return None


@pytest.mark.parametrize("service", tuple(POLICY))
def test_security_headers_on_every_answer_of_every_service(apps, callers, service):  # noqa: F811
    app, platform = apps[service]
    seen, wrong = set(), []
    requests = [("GET", path, None) for path in STATIC_FILES.get(service, []) + ["/platform-static/nav.css"]]
    for (method, path), rule in POLICY[service].items():
        if method != "GET" or "<path:" in path:
            continue
        url, _real = fill(path, {})
        requests.append(("GET", url, None))
        if not rule.public and _allowed_caller(rule):
            requests.append(("GET", url, _allowed_caller(rule)))
    requests.append(("POST", "/logg-ut", None))  # a form post without the CSRF token: 403
    for method, url, caller in requests:
        client = app.test_client()
        response = client.open(url, method=method, headers=callers.headers(caller) if caller else {})
        seen.add(response.status_code)
        wrong += [(method, url, caller, response.status_code, p) for p in header_problems(response, caller)]
        response.close()  # static files are streamed from an open file
    assert not wrong, wrong
    assert {200, 403, 404} <= seen and ({401, 302} & seen), f"{service}: too few kinds of answer checked: {seen}"


@pytest.fixture
def intake_app(tmp_path, request, oidc_provider):
    def make(**env):
        platform = make_test_platform("intake", intake_tables.all_tables(), f"sqlite:///{tmp_path}/intake.db",
                                      tmp_path, env=oidc_provider.app_env(**env))
        request.addfinalizer(platform.engine.dispose)
        app = create_intake_app(settings=platform.settings, platform=platform)
        app.sign_in = lambda client: sign_in_test_client(client, oidc_provider, "kari-veileder")
        return app
    return make


def test_https_deployment_sets_secure_cookies_and_hsts(intake_app):
    app = intake_app(SECURE_COOKIES="true")
    client = app.test_client()
    response = app.sign_in(client)
    assert response.status_code == 302
    cookie_lines = response.headers.getlist("Set-Cookie") + client.get("/logg-inn").headers.getlist("Set-Cookie")
    session = [line for line in response.headers.getlist("Set-Cookie") if line.startswith(COOKIE_NAME + "=")]
    assert session and all("; Secure" in line for line in session)
    fresh = intake_app(SECURE_COOKIES="true").test_client()
    csrf_lines = [line for line in fresh.get("/tilgjengelighet").headers.getlist("Set-Cookie")
                  if line.startswith(CSRF_COOKIE)]
    assert csrf_lines and all("; Secure" in line for line in csrf_lines), cookie_lines
    for path in ("/", "/logg-inn", "/api/v1/cases", "/healthz"):
        assert client.get(path).headers.get("Strict-Transport-Security") == "max-age=31536000", path


def test_plain_http_deployment_sends_no_hsts(intake_app):
    client = intake_app().test_client()
    assert "Strict-Transport-Security" not in client.get("/logg-inn").headers


def test_session_token_expires_after_the_idle_timeout_not_the_token_lifetime(intake_app):
    app = intake_app(SESSION_IDLE_MINUTES="20", TOKEN_LIFETIME_MINUTES="480")
    settings = app.extensions["platform"].settings
    client = app.test_client()
    before = datetime.now(UTC).replace(microsecond=0)
    assert app.sign_in(client).status_code == 302
    signed_in = verify_token(settings, client.get_cookie(COOKIE_NAME).value)
    assert before + timedelta(minutes=20) <= signed_in.expires_at <= before + timedelta(minutes=21)
    assert client.get("/").status_code == 200  # a page slides the idle window, still 20 minutes from now
    slid = verify_token(settings, client.get_cookie(COOKIE_NAME).value)
    assert slid.expires_at <= datetime.now(UTC) + timedelta(minutes=20, seconds=1)
    assert slid.auth_time == signed_in.auth_time
