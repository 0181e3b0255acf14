"""Hostile bodies against every service's web layer (issue #14): each is refused with a 4xx in the platform's error
format, in Norwegian, with the field named where there is one; nothing is stored and nothing answers 5xx.

The limits come from shared.limits; the copies the proxies need (deploy/containers/nginx.conf, the ingress) must
agree with it, and the local run's nginx is rendered from it.
"""
from __future__ import annotations

import importlib
import re
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml
from sqlalchemy import func, select

from services.intake.testing import SAMPLE_CASE, enter_case
from shared import limits
from shared.auth import COOKIE_NAME
from shared.config import REPO_ROOT
from shared.web import CSRF_COOKIE
from tests.security.callers import headers_for, token_for

DEPLOY = Path(REPO_ROOT) / "deploy"
DEEP = "[" * 1000 + "]" * 1000


@pytest.fixture
def apps(platform_factory, tmp_path):
    made = {}

    def app_of(service):
        if service not in made:
            tables = importlib.import_module(f"services.{service}.tables").all_tables()
            platform = platform_factory(service, tables, f"sqlite:///{tmp_path}/{service}.db")
            app = importlib.import_module(f"services.{service}.app").create_app(settings=platform.settings,
                                                                                 platform=platform)
            made[service] = (app, platform)
        return made[service]
    return app_of


def send(apps, service, method, path, body, content_type="application/json", caller="local_contact"):
    app, platform = apps(service)
    headers = {**headers_for(platform.settings, caller), "Content-Type": content_type}
    return app.test_client().open(path, method=method, data=body, headers=headers)


def assert_refused(response, status=400, field=None):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:300])
    body = response.get_json()
    assert body["code"] == status and body["message"].startswith("Forespørselen")
    if field is not None:
        assert field in body["errors"], body
    return body


@pytest.mark.parametrize("service,method,path,body,field", [
    ("intake", "POST", "/api/v1/cases", DEEP, "json"),
    ("intake", "POST", "/api/v1/cases/search", '{"national_id": ' + DEEP + '}', "national_id"),
    ("consent", "POST", "/api/v1/withdrawals", '{"case_id": ' + DEEP + '}', "case_id"),
    ("notify", "PUT", "/api/v1/preferences", '{"unsubscribed": ' + DEEP + '}', "unsubscribed"),
], ids=["intake-body", "intake-field", "consent-field", "notify-field"])
def test_deep_json_is_refused_with_the_field_named_on_every_service(apps, service, method, path, body, field):
    body = assert_refused(send(apps, service, method, path, body), field=field)
    assert f"dypere enn {limits.JSON_MAX_DEPTH}" in body["errors"][field][0]


HOSTILE_JSON = {
    "duplicate key": (b'{"candidate_name": "a", "candidate_name": "b"}', "candidate_name", "mer enn én gang"),
    "NaN": (b'{"candidate_name": NaN}', "candidate_name", "NaN"),
    "Infinity": (b'{"reasons": [Infinity]}', "reasons.0", "Infinity"),
    "-Infinity": (b'{"candidate_name": -Infinity}', "candidate_name", "-Infinity"),
    "1e400": (b'{"candidate_name": 1e400}', "candidate_name", "for stort"),
    "5,000 digits": (b'{"candidate_name": ' + b"1" * 5000 + b"}", "candidate_name", "for stort"),
    "invalid UTF-8": (b'{"candidate_name": "\xff\xfe"}', "json", "UTF-8"),
    "lone surrogate": (b'{"candidate_name": "\\ud800"}', "candidate_name", "Unicode"),
    "surrogate in a key": (b'{"\\udfff": 1}', "json", "feltnavn"),
    "NUL": (b'{"candidate_name": "a\\u0000b"}', "candidate_name", "NUL"),
    "not JSON": (b'{"candidate_name": ', "json", "Ugyldig JSON"),
}


@pytest.mark.parametrize("name", HOSTILE_JSON)
def test_hostile_json_is_refused_by_the_one_strict_loader(apps, name):
    raw, field, words = HOSTILE_JSON[name]
    body = assert_refused(send(apps, "intake", "POST", "/api/v1/cases", raw), field=field)
    assert words in body["errors"][field][0]
    app, platform = apps("intake")
    with platform.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(platform.tables["cases"])).scalar() == 0


def test_request_get_json_is_as_strict_as_the_api(apps):
    app, _platform = apps("notify")
    with app.test_request_context("/x", method="POST", data=b'{"a": NaN}', content_type="application/json"):
        from flask import request
        with pytest.raises(Exception) as refused:
            request.get_json()
        assert refused.value.code == 400


@pytest.fixture
def open_case_id(apps):
    _app, platform = apps("intake")
    values = {k: v for k, v in SAMPLE_CASE.items() if k not in ("closure", "contacts")}
    return enter_case(platform, "kristiansand", "kari-veileder", values, seed=14)["case_id"]


@pytest.mark.parametrize("minutes", [b"Infinity", b"1e400", b"-0.5", b"30.7", b"true"])
def test_a_contact_takes_whole_minutes_only(apps, open_case_id, minutes):
    body = b'{"contact_date": "2026-03-02", "party": "mentor", "form": "phone", "minutes": ' + minutes + b"}"
    response = send(apps, "intake", "POST", f"/api/v1/cases/{open_case_id}/contacts", body)
    assert response.status_code in (400, 422), response.get_data(as_text=True)[:300]
    assert "minutes" in response.get_json()["errors"]
    _app, platform = apps("intake")
    with platform.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(platform.tables["contacts"])).scalar() == 0


def test_a_contact_with_whole_minutes_is_stored(apps, open_case_id):
    body = b'{"contact_date": "2026-03-02", "party": "mentor", "form": "phone", "minutes": 30.0}'
    response = send(apps, "intake", "POST", f"/api/v1/cases/{open_case_id}/contacts", body)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["minutes"] == 30


def test_every_integer_field_of_a_strict_schema_takes_whole_numbers_only():
    from marshmallow import ValidationError, fields

    from shared.web import WHOLE_NUMBER_MESSAGE, StrictSchema

    class Counts(StrictSchema):
        count = fields.Integer()
        counts = fields.List(fields.Integer())
        by_name = fields.Dict(keys=fields.String(), values=fields.Integer())

    for value in (30.7, -0.5, True, float("inf"), float("nan")):
        for data in ({"count": value}, {"counts": [1, value]}, {"by_name": {"a": value}}):
            with pytest.raises(ValidationError) as refused:
                Counts().load(data)
            assert list(refused.value.messages.values()) == [[WHOLE_NUMBER_MESSAGE]], data
    assert Counts().load({"count": 30.0, "counts": [1, -0.0], "by_name": {"a": 2}}) == \
        {"count": 30, "counts": [1, 0], "by_name": {"a": 2}}
    assert Counts().load({"count": "5"}) == {"count": 5}  # a query string's text still parses


def test_query_strings_still_give_integers(apps):
    app, platform = apps("intake")
    response = app.test_client().get("/api/v1/cases?page=1&page_size=5", headers=headers_for(platform.settings,
                                                                                              "local_contact"))
    assert response.status_code == 200, response.get_json()
    refused = app.test_client().get("/api/v1/cases?page=1.5", headers=headers_for(platform.settings, "local_contact"))
    assert refused.status_code == 422


# ---------------------------------------------------------------- forms
def page_client(apps, service="intake"):
    app, platform = apps(service)
    client = app.test_client()
    client.set_cookie(COOKIE_NAME, token_for(platform.settings, "owner_counsellor"))
    client.set_cookie(CSRF_COOKIE, "token")
    return client


@pytest.mark.parametrize("body", [
    b"csrf_token=token&candidate_name=%FF%FE",          # percent-escaped invalid UTF-8 (werkzeug kept '%FF')
    b"csrf_token=token&candidate_name=\xff",            # raw invalid UTF-8 (werkzeug dropped the whole form)
    b"csrf_token=token&candidate_name=%ED%A0%80",       # a lone surrogate, UTF-8 encoded
    b"csrf_token=token&candidate_name=a%00b",           # NUL
], ids=["percent-escaped", "raw", "surrogate", "nul"])
def test_a_url_encoded_form_with_unreadable_text_gets_a_clear_400(apps, body):
    response = page_client(apps).post("/saker/ny", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400, response.status_code
    assert "kunne ikke leses" in response.get_data(as_text=True)


def test_a_multipart_form_with_unreadable_text_gets_a_clear_400_naming_the_field(apps):
    body = (b'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\ntoken\r\n'
            b'--b\r\nContent-Disposition: form-data; name="candidate_name"\r\n\r\n\xed\xa0\x80\r\n--b--\r\n')
    response = page_client(apps).post("/saker/ny", data=body, content_type="multipart/form-data; boundary=b",
                                      headers={"Accept": "application/json"})
    body = assert_refused(response)
    assert "Unicode" in body["errors"]["candidate_name"][0]


# ---------------------------------------------------------------- sizes
def test_a_json_body_over_the_data_limit_gets_a_norwegian_413_naming_the_body(apps):
    big = b'{"reason": "' + b"x" * limits.DATA_MAX_BYTES + b'"}'
    for service, path in (("consent", "/api/v1/withdrawals"), ("intake", "/api/v1/cases")):
        body = assert_refused(send(apps, service, "POST", path, big), status=413, field="json")
        assert "Filen" not in body["message"] and limits.human_size(limits.DATA_MAX_BYTES) in body["errors"]["json"][0]


def test_a_form_field_over_the_field_limit_is_blamed_on_that_field_not_the_document(apps):
    app, platform = apps("consent")
    body = (b'--b\r\nContent-Disposition: form-data; name="signer_name"\r\n\r\n' + b"x" * (limits.FIELD_MAX_BYTES + 1)
            + b'\r\n--b\r\nContent-Disposition: form-data; name="document"; filename="s.pdf"\r\n\r\n%PDF-1.7\r\n'
            + b"--b--\r\n")
    response = app.test_client().post("/api/v1/consents", data=body, content_type="multipart/form-data; boundary=b",
                                      headers=headers_for(platform.settings, "local_contact"))
    # Consent keeps such a field cut to the limit, so its schema names it with its own length limit (issue #14, 6).
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert body["errors"]["signer_name"] == ["Navnet kan være høyst 200 tegn."]
    assert "document" not in body["errors"]


# ---------------------------------------------------------------- one limit for each size, and the proxy's answers
def test_every_proxy_refuses_bodies_at_the_limit_the_services_use(apps):
    size = limits.nginx_size(limits.BODY_MAX_BYTES)
    template = (DEPLOY / "nginx" / "hybrid.conf.template").read_text()
    assert re.findall(r"client_max_body_size\s+(\S+);", template) == ["{{BODY_MAX_SIZE}}"]  # rendered, not typed
    container = (DEPLOY / "containers" / "nginx.conf").read_text()
    assert re.findall(r"client_max_body_size\s+(\S+);", container) == [size]
    ingresses = [d for d in yaml.safe_load_all((DEPLOY / "k8s" / "ingress.yaml").read_text()) if d]
    assert [d["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"] for d in ingresses] == \
        [size] * len(ingresses) and len(ingresses) == 2
    for service in ("intake", "consent", "registry", "notify"):
        app, _platform = apps(service)
        assert app.config["MAX_CONTENT_LENGTH"] == limits.BODY_MAX_BYTES, service
        assert app.config["MAX_FORM_MEMORY_SIZE"] == limits.FIELD_MAX_BYTES, service
    from services.consent.service import deps_from_platform
    assert deps_from_platform(apps("consent")[1]).max_upload_bytes == limits.UPLOAD_MAX_BYTES


def test_both_nginx_configurations_send_the_same_refusals_to_the_platform_pages():
    from shared.web.proxy import PROXY_ERRORS
    template = (DEPLOY / "nginx" / "hybrid.conf.template").read_text()
    container = (DEPLOY / "containers" / "nginx.conf").read_text()
    for text in (template, container):
        codes = re.findall(r"error_page (\d+) /_proxy-errors/\1\.\$hybrid_error_format;", text)
        assert sorted(int(code) for code in codes) == sorted(PROXY_ERRORS)


@pytest.fixture
def lone_proxy(tmp_path):
    """The local run's nginx, rendered by the supervisor from the template, in front of ports nothing listens on."""
    from tests.fixtures.stack import _load_devstack, free_port
    devstack = _load_devstack()
    config = devstack.StackConfig(data_dir=tmp_path, proxy_port=free_port(),
                                  service_ports={s: free_port() for s in ("intake", "consent", "registry", "notify")})
    conf = devstack.DevStack(config, echo=lambda *_: None).render_nginx()
    (config.log_dir).mkdir(parents=True, exist_ok=True)
    nginx = subprocess.Popen([devstack.find_nginx(), "-e", str(config.log_dir / "nginx-error.log"), "-p",
                              str(conf.parent), "-c", str(conf), "-g", "daemon off;"], stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{config.proxy_port}"
    for _ in range(100):
        try:
            requests.get(base + "/", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.05)
    yield base
    nginx.terminate()
    nginx.wait(10)


def test_the_proxys_own_502_answers_in_the_platforms_format(lone_proxy):
    api = requests.get(lone_proxy + "/intake/api/v1/cases", timeout=10)
    assert api.status_code == 502 and api.headers["Content-Type"].startswith("application/json")
    assert api.json() == {"code": 502, "status": "Bad Gateway",
                          "message": "Tjenesten svarer ikke akkurat nå. Prøv igjen om litt."}
    page = requests.get(lone_proxy + "/consent/", timeout=10)
    assert page.status_code == 502 and page.headers["Content-Type"].startswith("text/html")
    assert '<html lang="nb">' in page.text and "Tjenesten svarer ikke" in page.text
    asked_for_json = requests.get(lone_proxy + "/notify/", headers={"Accept": "application/json"}, timeout=10)
    assert asked_for_json.status_code == 502 and asked_for_json.json()["code"] == 502


def test_the_proxys_own_413_answers_in_the_platforms_format(lone_proxy):
    body = b"x" * (limits.BODY_MAX_BYTES + 1)
    api = requests.post(lone_proxy + "/consent/api/v1/consents", data=body, timeout=30,
                        headers={"Content-Type": "application/pdf"})
    assert api.status_code == 413 and api.json()["code"] == 413
    assert api.json()["message"].startswith("Forespørselen er for stor. Største tillatte størrelse er 11,0 MB")
    page = requests.post(lone_proxy + "/consent/saker/x", data=body, timeout=30)
    assert page.status_code == 413 and "Forespørselen er for stor" in page.text and "<h1>413</h1>" in page.text
