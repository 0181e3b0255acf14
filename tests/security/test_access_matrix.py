"""The access matrix: every endpoint of every service (from its OpenAPI document and its url_map) against every
kind of caller, with the expected answer taken from policy.POLICY (issue #2 point 12's who-may-do-what table).

Callers (tests/security/callers.py): the people sign in at the real OpenID provider and call with its access tokens;
the apps run as in production (no local demo mode), so role and office come from the directory.

Cells, per endpoint:
  no token, an expired provider token, another application's token, a token signed with a key the provider's JWKS
  lacks, a token whose NAV ident was re-encoded, the development key's token, a copy of an ended session's cookie
      -> API: 401; page: redirect to the sign-in page (never the page itself)
  a valid provider token of a person the directory does not know -> 403 (a clear refusal; public endpoints: any
                                                            answer but a 5xx)
  a role the table does not allow                       -> 403
      (both sent a malformed API request: wrong-typed query values and a body that is not an object, so a
       service that parses the request before deciding who may call it answers 422 and fails the cell)
  a counsellor of another office on an owned id          -> 404 (never 403: ids leak nothing); a 422 only when it
                                                            is the very answer a made-up id gets (the request was
                                                            refused before any id was looked up)
  an allowed role (owning office on an owned id)         -> past the guard: not 401/403, not 5xx,
                                                            and not 404 where the id is a real fixture
Owned ids are real: a case in kristiansand entered through intake's own service functions, its contact and
measure, and the same case delivered to consent as its case.opened event. Every cell that writes gets fresh ids.
"""
from __future__ import annotations

import importlib
import itertools
import json
import re
import uuid

import pytest
from sqlalchemy import select

from shared.auth import COOKIE_NAME
from shared.web import CSRF_COOKIE
from tests.fixtures.db import make_test_platform
from tests.fixtures.oidc import session_cookie, sign_in_test_client
from tests.fixtures.tokens import auth_header

from .callers import CALLERS, INVALID, OWNER_OFFICE, PEOPLE, UNKNOWN, Callers
from .policy import POLICY

SERVICES = tuple(POLICY)


def _service_app(service, data_dir, provider):
    tables = importlib.import_module(f"services.{service}.tables")
    app_module = importlib.import_module(f"services.{service}.app")
    platform = make_test_platform(service, tables.all_tables(), f"sqlite:///{data_dir}/{service}.db", data_dir,
                                  env=provider.app_env())
    return app_module.create_app(platform=platform), platform


@pytest.fixture(scope="module")
def apps(tmp_path_factory, oidc_provider):
    made = {}
    data_dir = tmp_path_factory.mktemp("matrix")
    for service in SERVICES:
        made[service] = _service_app(service, data_dir, oidc_provider)
    yield made
    for _app, platform in made.values():
        platform.engine.dispose()


@pytest.fixture(scope="module")
def callers(apps, oidc_provider):
    """The callers, with a session ended the way a person ends one: signed in through the provider, the cookie
    copied, then signed out (the deny list every service reads has its `sid`, as after a back-channel logout)."""
    app, _platform = apps["intake"]
    client = app.test_client()
    assert sign_in_test_client(client, oidc_provider, "kari-veileder").status_code == 302
    copied = session_cookie(client)
    assert copied and client.get("/").status_code == 200
    client.set_cookie(CSRF_COOKIE, "matrix-csrf")
    assert client.post("/logg-ut", data={"csrf_token": "matrix-csrf"}).status_code == 302
    return Callers(provider=oidc_provider, ended_session_cookie=copied)


def live_endpoints(app):
    """(METHOD, path) of every API operation in the served OpenAPI document and every page rule."""
    spec = app.test_client().get("/api/openapi.json").get_json()
    found = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops
             if method in ("get", "post", "put", "patch", "delete")}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found.add((method, rule.rule))
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_every_endpoint_has_an_entry(apps, service):
    app, _platform = apps[service]
    live = live_endpoints(app)
    missing = sorted(live - set(POLICY[service]))
    stale = sorted(set(POLICY[service]) - live)
    assert not missing, f"{service}: endpoints without an access-matrix entry in tests/security/policy.py: {missing}"
    assert not stale, f"{service}: policy entries for endpoints that no longer exist: {stale}"


def test_matrix_notices_an_endpoint_without_an_entry(apps):
    """The completeness check can fail: a route added at run time shows up as missing."""
    app, _platform = apps["registry"]
    with app.app_context():
        pass
    probe = type(app)(app.import_name)
    probe.url_map = app.url_map.__class__()
    probe.add_url_rule("/ny-side", "ny_side", lambda: "x")
    live = {("GET", r.rule) for r in probe.url_map.iter_rules() if r.endpoint == "ny_side"}
    assert live - set(POLICY["registry"]) == {("GET", "/ny-side")}


# ---------------------------------------------------------------- fixtures for owned ids
_SEEDS = itertools.count(7001)  # distinct seeds: distinct fake national ids, no duplicate-case refusals


def _intake_case(apps):
    from services.intake.testing import enter_case
    _app, platform = apps["intake"]
    result = enter_case(platform, office=OWNER_OFFICE, counsellor_id="kari-veileder", values={
        "opened_on": "2026-06-01", "entry_point": "course_start", "industry": "retail", "initiator": "counsellor",
        "reasons": ["extra_follow_up"], "counsellor_knew_company": "no", "attachment_before": "none",
        "mentor_relation": "colleague",
        "measures": [{"measure": "mentor_subsidy", "from_date": "2026-06-10", "to_date": "2026-09-10"}],
        "contacts": [{"contact_date": "2026-06-10", "party": "mentor", "form": "at_company", "minutes": 30}],
    }, seed=next(_SEEDS))
    tables = importlib.import_module("services.intake.tables")
    with platform.engine.connect() as conn:
        contact_id = conn.execute(select(tables.contacts.c.id).where(
            tables.contacts.c.case_id == result["case_id"])).scalar()
        measure_id = conn.execute(select(tables.measures.c.id).where(
            tables.measures.c.case_id == result["case_id"])).scalar()
        outbox = tables.platform["outbox"]
        bodies = [json.loads(b) for (b,) in conn.execute(select(outbox.c.body).order_by(outbox.c.id))]
    opened = [b for b in bodies if b["type"] == "case.opened" and b["payload"]["case_id"] == result["case_id"]]
    return {"case_id": result["case_id"], "contact_id": contact_id, "measure_id": measure_id,
            "candidate_hash": result["candidate_hash"], "opened_envelope": opened[0]}


def _consent_case(apps, intake_ids):
    from shared.bus.consumer import apply_envelope
    app, platform = apps["consent"]
    apply_envelope(platform, app.extensions["consumer_spec"], intake_ids["opened_envelope"])
    # subject_ref and document_id: consents recorded for a person without a case and scanned documents are not
    # made here, so those cells check 401/403/404 only (see docs/security.md, matrix gaps).
    return {"case_id": intake_ids["case_id"]}


def owned_ids(apps, service):
    """Real ids owned by the owning office where the service holds any; None where none can be made here."""
    if service == "intake":
        return _intake_case(apps)
    if service == "consent":
        return _consent_case(apps, _intake_case(apps))
    return {}


PARAM = re.compile(r"\{(\w+)\}|<(?:\w+:)?(\w+)>")


def fill(path, ids):
    real = True

    def value(match):
        nonlocal real
        name = match.group(1) or match.group(2)
        if name in ids and ids[name] is not None:
            return str(ids[name])
        real = False
        return "1" if name.endswith(("notification_id", "reminder_id")) else ("nn" if name == "filename" else
                                                                             str(uuid.uuid4()))
    return PARAM.sub(value, path), real


_SPECS = {}
MALFORMED = "not~valid"


def malformed_query(app, method, path):
    """A wrong value for every query parameter the operation declares that can be wrong (typed, enumerated,
    patterned or length-limited), plus one parameter the operation does not know."""
    if app not in _SPECS:
        _SPECS[app] = app.test_client().get("/api/openapi.json").get_json()
    operation = _SPECS[app]["paths"].get(path, {}).get(method.lower(), {})
    query = {"matrix_unknown_parameter": MALFORMED}
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        if parameter.get("in") != "query":
            continue
        if schema.get("type") in ("integer", "number", "boolean") or {"enum", "format", "pattern"} & set(schema):
            query[parameter["name"]] = MALFORMED
        elif "maxLength" in schema:
            query[parameter["name"]] = "x" * (schema["maxLength"] + 1)
    return query


def _request(app, callers, method, path, caller, is_api, malformed=False, spec_path=None):
    client = app.test_client()
    headers = callers.headers(caller)
    cookie = callers.cookie(caller)
    if cookie:
        client.set_cookie(COOKIE_NAME, cookie)
    kwargs = {}
    if is_api and malformed:
        kwargs["query_string"] = malformed_query(app, method, spec_path)
    if method in ("POST", "PUT", "PATCH", "DELETE"):
        if not headers:
            # An anonymous or cookie request carries a valid CSRF pair, so the answer is about sign-in, not CSRF.
            client.set_cookie(CSRF_COOKIE, "matrix-csrf")
            headers = {"X-CSRF-Token": "matrix-csrf"}
        if is_api:
            kwargs["json"] = MALFORMED if malformed else {}
        else:
            kwargs["data"] = {"csrf_token": "matrix-csrf"} if "X-CSRF-Token" in headers else {}
    return client.open(path, method=method, headers=headers, **kwargs)


# Every scope the provider grants a service: the endpoints' own and `api` (a scope no internal endpoint takes).
SERVICE_SCOPES = sorted({rule.service_scope for entries in POLICY.values() for rule in entries.values()
                         if rule.service_scope} | {"api"})


def _service_request(app, platform, method, url, token):
    kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH", "DELETE") and url.startswith("/api/") else {}
    return app.test_client().open(url, method=method, headers=auth_header(token),
                                  **kwargs).status_code


def _cells():
    for service, entries in POLICY.items():
        for method, path in entries:
            yield pytest.param(service, method, path, id=f"{service}-{method}-{path}")


@pytest.mark.slow
@pytest.mark.parametrize("service, method, path", list(_cells()))
def test_access_matrix(apps, callers, service, method, path):
    rule = POLICY[service][(method, path)]
    app, platform = apps[service]
    is_api = path.startswith("/api/")
    wrong = []
    for caller in CALLERS:
        ids = owned_ids(apps, service) if rule.owned and caller in PEOPLE else {}
        url, real_id = fill(path, ids)
        refused_caller = caller not in PEOPLE or PEOPLE[caller][1] not in rule.roles
        response = _request(app, callers, method, url, caller, is_api, malformed=refused_caller, spec_path=path)
        status = response.status_code
        location = response.headers.get("Location", "")
        signin = status in (302, 303) and "/logg-inn" in location
        if status >= 500 and not (path == "/readyz" and status == 503):  # no broker here: readyz says so
            wrong.append((caller, status, "server error"))
            continue
        if rule.public:
            # Sign-out ends at the sign-in page, not a refusal; a token the platform refuses outright (a person
            # unknown to the directory) may be refused even here.
            if path != "/logg-ut" and caller != UNKNOWN and (status in (401, 403) or signin):
                wrong.append((caller, status, "public endpoint refused"))
            continue
        if caller == UNKNOWN:
            if status != 403:
                wrong.append((caller, status, "expected 403: a person the directory does not know"))
            continue
        if caller in INVALID:
            ok = status == 401 if is_api else signin
            if not ok:
                wrong.append((caller, status, "expected 401" if is_api else "expected sign-in redirect"))
            continue
        role = PEOPLE[caller][1]
        office = PEOPLE[caller][3]
        if role not in rule.roles:
            if rule.landing and status in (302, 303) and not signin:
                continue
            if status != 403:
                wrong.append((caller, status, "expected 403"))
            continue
        if rule.owned and office != OWNER_OFFICE:
            if status == 422:
                # Refused before any id was looked up: fine only if a made-up id gets the very same answer.
                made_up_url, _real = fill(path, {})
                made_up = _request(app, callers, method, made_up_url, caller, is_api)
                if (made_up.status_code, made_up.get_json()) == (status, response.get_json()):
                    continue
            if status != 404:
                wrong.append((caller, status, "expected 404 for another office's id"))
            continue
        if status in (401, 403) or signin or (rule.owned and real_id and status == 404):
            wrong.append((caller, status, "allowed caller refused"))
    # Service tokens (role service): one with the endpoint's own scope gets past the guard; one with any other
    # scope the platform uses is refused (403) everywhere else, public pages included; an admin token that carries
    # the scope as a claim is still an admin's (403 on the service endpoint).
    url, _real = fill(path, {})
    for scope in SERVICE_SCOPES:
        status = _service_request(app, platform, method, url, callers.service_token(scope))
        if scope == rule.service_scope:
            if status in (401, 403) or status >= 500:
                wrong.append((f"service_token[{scope}]", status, "the scoped service token refused"))
        elif status != 403:
            wrong.append((f"service_token[{scope}]", status, "expected 403: a service token opens nothing else"))
    if rule.service_scope:
        status = _service_request(app, platform, method, url, callers.admin_token_claiming_scope(rule.service_scope))
        if status != 403:
            wrong.append(("admin_token_claiming_the_scope", status, "expected 403"))
    assert not wrong, f"{service} {method} {path}: " + "; ".join(f"{c}: {s} ({why})" for c, s, why in wrong)


def matrix_size():
    endpoints = sum(len(entries) for entries in POLICY.values())
    return endpoints, len(CALLERS)
