"""Fuzz every service's OpenAPI document with schemathesis, straight against the WSGI app (no server).

Signed in as a caller of a role the operation allows (a service token with the scope for a machine-only
operation), each generated request must get no 5xx and a response that matches the documented schema, and invalid
data must be rejected (4xx). Unauthenticated, every generated request that reaches an operation must get 401:
authentication is never skipped, whatever the body. The one other answer allowed is the router's own refusal of a
request that matches no operation at all (404 for an id of the wrong form, 405 for a method the path does not
have), checked against the url_map: no service code runs for those. scripts/security.sh runs this (SECURITY_FUZZ=1)
with FUZZ_EXAMPLES per operation and phase (default 25).

Beside the generated data, every operation of the OpenAPI documents and every form post of the pages gets the values
a hostile client sends (`HOSTILE_TOKENS`, `HOSTILE_QUERY_VALUES`, `WRONG_CONTENT_TYPES`): deep nesting, NaN,
Infinity, 1e400, -0.0, fractions and bools for integers, 5,000-digit numbers, duplicate keys, invalid UTF-8, lone
surrogates, NUL, very long strings and bodies of the wrong type, each in every field; no answer may be a 5xx.
"""
from __future__ import annotations

import importlib
import os
import re
import time
import uuid
from urllib.parse import quote_from_bytes, unquote

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from werkzeug.exceptions import MethodNotAllowed, NotFound

from services.intake.testing import SAMPLE_CASE, enter_case
from shared.auth import COOKIE_NAME
from shared.web import CSRF_COOKIE
from tests.fixtures.db import make_test_platform
from tests.fixtures.tokens import service_auth_header

from .callers import demo_headers_for as headers_for
from .callers import demo_token_for as token_for
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
        return service_auth_header(settings_, "fuzz", rule.service_scope)
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


# ---------------------------------------------------------------- hostile values in every field of every operation
HOSTILE_TOKENS = {  # raw JSON text put as a field's value
    "deep nesting": b"[" * 1000 + b"]" * 1000,
    "deep objects": b'{"a":' * 600 + b"1" + b"}" * 600,
    "NaN": b"NaN", "Infinity": b"Infinity", "-Infinity": b"-Infinity", "1e400": b"1e400", "-1e400": b"-1e400",
    "-0.0": b"-0.0", "fraction": b"30.7", "negative fraction": b"-0.5", "bool": b"true", "null": b"null",
    "5,000 digits": b"1" * 5000, "beyond 64 bits": b"18446744073709551617", "object": b'{"x": 1}', "list": b"[1, 2]",
    "lone surrogate": b'"\\ud800"', "invalid UTF-8": b'"\xff\xfe\xed\xa0\x80"', "NUL": b'"a\\u0000b"',
    "long string": b'"' + b"\xc3\xa6" * 100_000 + b'"',
}
HOSTILE_QUERY_VALUES = ["NaN", "Infinity", "1e400", "-0.0", "30.7", "-0.5", "true", "1" * 5000, "\x00",
                        "\ud800", "x" * 20_000, "%FF%FE", "[]", "{}"]
WRONG_CONTENT_TYPES = [("text/plain", b'{"a": 1}'), ("application/xml", b"<a>1</a>"),
                       ("application/x-www-form-urlencoded", b"a=%FF%FE&b=%00"), ("multipart/form-data", b"--x--"),
                       ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n"
                        b"\xff\xfe\r\n--x--\r\n"), ("application/json", b"\xef\xbb\xbf{}"),
                       ("application/json; charset=latin-1", b'{"a": "\xe6"}'), ("application/json", b"")]


def _resolve(document, schema):
    while isinstance(schema, dict) and "$ref" in schema:
        _hash, _components, kind, name = schema["$ref"].split("/")
        schema = document["components"][kind][name]
    return schema or {}


def _fill_path(service, path):
    """A path of the document (or a page's rule) with each parameter filled: intake's case ids with a real open
    case, so that the hostile values reach the domain code behind the schema too."""
    def value(match):
        name = match.group(1)
        if service == "intake" and name == "case_id":
            if "intake" not in OPEN_CASES:
                OPEN_CASES["intake"] = _open_case()
            return OPEN_CASES["intake"]
        if name in ("notification_id", "reminder_id", "table_id"):
            return "1"
        return str(uuid.uuid4()) if name.endswith("_id") else "x"
    return re.sub(r"[{<](?:\w+:)?(\w+)[}>]", value, path)


def _open_case():
    values = {k: v for k, v in SAMPLE_CASE.items() if k not in ("closure", "contacts")}
    return enter_case(PLATFORMS["intake"], "kristiansand", "kari-veileder", values, seed=1414)["case_id"]


OPEN_CASES: dict[str, str] = {}


def _hostile_requests(service, document):
    """(method, document path, path, query, content type, body) for every operation and hostile value."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "delete", "patch"):
                continue
            filled = _fill_path(service, path)
            for parameter in operation.get("parameters", []) + item.get("parameters", []):
                parameter = _resolve(document, parameter)
                if parameter.get("in") == "query":
                    for value in HOSTILE_QUERY_VALUES:
                        yield method, path, filled, {parameter["name"]: value}, None, None
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                fields_ = list(_resolve(document, content["application/json"]["schema"]).get("properties", {}))
                for name in fields_ or ["x"]:
                    for token in HOSTILE_TOKENS.values():
                        yield method, path, filled, {}, "application/json", b'{"%s": %s}' % (name.encode(), token)
                    yield method, path, filled, {}, "application/json", b'{"%s": 1, "%s": 2}' % ((name.encode(),) * 2)
                for token in HOSTILE_TOKENS.values():
                    yield method, path, filled, {}, "application/json", token
            if "multipart/form-data" in content or "application/x-www-form-urlencoded" in content:
                kind = next(iter(content))
                fields_ = list(_resolve(document, content[kind]["schema"]).get("properties", {}))
                for name in fields_:
                    for value in (b"%FF%FE", b"%ED%A0%80", b"%00", b"x" * 100_000):
                        form = name.encode() + b"=" + value
                        yield method, path, filled, {}, "application/x-www-form-urlencoded", form
            if method in ("post", "put", "patch"):
                for content_type, body in WRONG_CONTENT_TYPES:
                    yield method, path, filled, {}, content_type, body


def _page_form_posts(service):
    """Every POST rule of the pages (not the API), each with hostile form fields and the CSRF token."""
    for (method, rule), _policy in POLICY[service].items():
        if method != "POST" or rule.startswith("/api/"):
            continue
        path = _fill_path(service, rule)
        for value in (b"%FF%FE", b"\xff\xfe", b"%ED%A0%80", b"%00", b"x" * 200_000, b"1e400", b"NaN", b"30.7"):
            body = b"csrf_token=fuzz&" + b"&".join(name + b"=" + value for name in (
                b"national_id", b"candidate_name", b"minutes", b"reason", b"signer_name", b"mode", b"user_id",
                b"closure_reason", b"industry", b"contact_date", b"purposes", b"step_1"))
            yield rule, path, body


def _no_5xx(response, what):
    assert response.status_code < 500, (what, response.status_code, response.get_data(as_text=True)[:300])


def _hostile_test_for(service):
    @pytest.mark.slow
    def hostile(request):
        request.getfixturevalue(f"{service}_schema")  # the app of the module's fixture
        app, settings_ = APPS[service], PLATFORMS[service].settings
        client = app.test_client()
        document = client.get("/api/openapi.json").get_json()
        sent = 0
        for method, doc_path, path, query, content_type, body in _hostile_requests(service, document):
            headers = dict(_signed_in_headers(service, method, doc_path))
            if content_type:
                headers["Content-Type"] = content_type
            query_string = "&".join(f"{k}={quote_from_bytes(v.encode('utf-8', 'surrogatepass'))}"
                                    for k, v in query.items())
            response = client.open(path, method=method.upper(), data=body, headers=headers,
                                   query_string=query_string or None)
            _no_5xx(response, (method, path, query_string[:80], content_type, (body or b"")[:80]))
            sent += 1
        pages = app.test_client()
        pages.set_cookie(COOKIE_NAME, token_for(settings_, "local_contact"))
        pages.set_cookie(CSRF_COOKIE, "fuzz")
        for rule, path, body in _page_form_posts(service):
            response = pages.post(path, data=body, content_type="application/x-www-form-urlencoded")
            _no_5xx(response, ("POST", rule, body[:80]))
            sent += 1
        CASES_RUN[f"{service} hostile"] = sent
    return hostile


for _service in SERVICE:
    globals()[f"test_hostile_values_{_service}"] = _hostile_test_for(_service)
