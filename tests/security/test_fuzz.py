"""Fuzz every service's OpenAPI document with schemathesis, straight against the WSGI app (no server).

Signed in as a caller of a role the operation allows (a service token with the scope for a machine-only
operation), each generated request must get no 5xx and a response that matches the documented schema, and invalid
data must be rejected (4xx). Unauthenticated, every generated request that reaches an operation must get 401:
authentication is never skipped, whatever the body. The one other answer allowed is the router's own refusal of a
request that matches no operation at all (404 for an id of the wrong form, 405 for a method the path does not
have), checked against the url_map: no service code runs for those. scripts/security.sh runs this (SECURITY_FUZZ=1)
with FUZZ_EXAMPLES per operation and phase (default 25).
"""
from __future__ import annotations

import importlib
import os
import time
from urllib.parse import unquote

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from werkzeug.exceptions import MethodNotAllowed, NotFound

from shared.auth import mint_service_token
from tests.fixtures.db import make_test_platform

from .callers import headers_for
from .policy import POLICY

if os.environ.get("SECURITY_FUZZ") != "1":
    pytest.skip("fuzzing runs from scripts/security.sh (SECURITY_FUZZ=1)", allow_module_level=True)

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
SERVICE = os.environ.get("FUZZ_SERVICES", "intake,consent,registry,notify").split(",")
CALLER_FOR_ROLE = {"counsellor": "owner_counsellor", "local_contact": "local_contact",
                   "county_contact": "county_contact", "researcher": "researcher", "admin": "admin"}


def _app(service, data_dir):
    tables = importlib.import_module(f"services.{service}.tables")
    app_module = importlib.import_module(f"services.{service}.app")
    platform = make_test_platform(service, tables.all_tables(), f"sqlite:///{data_dir}/{service}.db", data_dir)
    return app_module.create_app(platform=platform), platform


def _signed_in_headers(service, method, path):
    rule = POLICY[service][(method.upper(), path)]
    settings_ = PLATFORMS[service].settings
    if rule.service_scope:
        return {"Authorization": f"Bearer {mint_service_token(settings_, 'fuzz', rule.service_scope)}"}
    # Prefer the local contact: the widest office role, so more operations get past the guard.
    for role in ("local_contact", "counsellor", "researcher", "county_contact", "admin"):
        if role in rule.roles:
            return headers_for(settings_, CALLER_FOR_ROLE[role])
    raise AssertionError(f"no role may call {method} {path}")


def _router_refusal(service, case):
    """The status the router itself gives a request matching no operation (None when it matches one)."""
    adapter = APPS[service].url_map.bind("localhost")
    try:
        adapter.match(unquote(case.formatted_path), method=case.method.upper())
    except NotFound:
        return 404
    except MethodNotAllowed:
        return 405
    return None


def _make_fixture(service):
    @pytest.fixture(scope="module")
    def loaded(tmp_path_factory):
        app, platform = _app(service, tmp_path_factory.mktemp(f"fuzz-{service}"))
        schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
        PLATFORMS[service], APPS[service] = platform, app
        yield schema
        platform.engine.dispose()
    return loaded


FUZZ_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(HealthCheck))

PLATFORMS = {}
APPS = {}
CASES_RUN: dict[str, int] = {}
# Schema-valid requests that break a domain rule (a national ID's checksum, a date after today, a code not allowed
# for this case) are rightly answered 422 with the field named; the schema cannot express those rules.
EXCLUDED = [positive_data_acceptance]


def _count(kind):
    CASES_RUN[kind] = CASES_RUN.get(kind, 0) + 1


@pytest.fixture(scope="session", autouse=True)
def _report_case_count(request):
    started = time.monotonic()
    yield
    if CASES_RUN:
        line = (f"FUZZ CASES: {sum(CASES_RUN.values())} in {time.monotonic() - started:.0f} s "
                f"({EXAMPLES} examples per operation); " + ", ".join(f"{k} {v}" for k, v in sorted(CASES_RUN.items())))
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled():  # on the terminal, not into the last test's captured output
            print("\n" + line)


def _tests_for(service):
    schema = schemathesis.pytest.from_fixture(f"{service}_schema")

    @pytest.mark.slow
    @schema.parametrize()
    @FUZZ_SETTINGS
    def signed_in(case):
        _count(f"{service} signed-in")
        case.call_and_validate(headers=_signed_in_headers(service, case.operation.method, case.operation.path),
                               excluded_checks=EXCLUDED)

    @pytest.mark.slow
    @schema.parametrize()
    @FUZZ_SETTINGS
    def unauthenticated(case):
        _count(f"{service} unauthenticated")
        response = case.call()
        if response.status_code != 401:
            assert response.status_code == _router_refusal(service, case), \
                (case.method, case.formatted_path, response.status_code, "neither 401 nor the router's refusal")
    return signed_in, unauthenticated


for _service in SERVICE:
    globals()[f"{_service}_schema"] = _make_fixture(_service)
    globals()[f"test_fuzz_{_service}_signed_in"], globals()[f"test_fuzz_{_service}_unauthenticated"] = \
        _tests_for(_service)
