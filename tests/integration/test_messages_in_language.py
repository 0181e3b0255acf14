"""Error messages in the caller's language (issue #16 point 5): no default English message of marshmallow, werkzeug
or flask-smorest reaches an API response, and an API error follows Accept-Language (bokmål by default).

Every write operation of every service (from its OpenAPI document) is sent bodies its schema refuses: none, an
unknown field, a wrong type, and each declared field as null, as a number, as a long text and as a list."""
from __future__ import annotations

import importlib
import re

import pytest
from werkzeug.exceptions import default_exceptions

from shared.web.i18n import MARSHMALLOW_MESSAGES
from tests.security.callers import headers_for

SERVICES = ("intake", "consent", "registry", "notify")
WRITE_METHODS = ("post", "put", "patch")


def english_default_patterns() -> list[re.Pattern]:
    texts = [*MARSHMALLOW_MESSAGES, "Must be greater than", "Must be less than", "Invalid JSON body",
             *(cls.description for cls in default_exceptions.values() if cls.description)]
    # A placeholder ({min}, {input!r}) matches anything; the words around it must not appear.
    return [re.compile(".*".join(re.escape(part) for part in re.split(r"\{[^}]*\}", text))) for text in texts]


@pytest.fixture
def apps(platform_factory, tmp_path):
    made = {}
    for service in SERVICES:
        tables = importlib.import_module(f"services.{service}.tables").all_tables()
        platform = platform_factory(service, tables, f"sqlite:///{tmp_path}/{service}.db")
        made[service] = (importlib.import_module(f"services.{service}.app").create_app(
            settings=platform.settings, platform=platform), platform)
    return made


def refused_bodies(operation, spec) -> list:
    schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    bodies = [{}, {"felt_som_ikke_finnes": 1}, "tekst", [1]]
    for name in schema.get("properties", {}):
        bodies += [{name: value} for value in (None, 12345, "x" * 5000, [{}], -1)]
    return bodies


def operations(app):
    spec = app.extensions["smorest_api"].spec.to_dict()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in WRITE_METHODS:
                yield re.sub(r"\{[^}]+\}", "00000000-0000-4000-8000-000000000000", path), method, operation, spec


@pytest.mark.parametrize("caller", ["local_contact", "admin", "researcher", "owner_counsellor"])
def test_no_default_english_message_reaches_a_response(apps, caller):
    patterns = english_default_patterns()
    sent = 0
    for service, (app, platform) in apps.items():
        client = app.test_client()
        for path, method, operation, spec in operations(app):
            for body in refused_bodies(operation, spec):
                response = client.open("/api" + path if not path.startswith("/api") else path, method=method,
                                       json=body, headers=headers_for(platform.settings, caller))
                sent += 1
                text = response.get_data(as_text=True)
                found = [pattern.pattern for pattern in patterns if pattern.search(text)]
                assert not found, (service, method, path, body, response.status_code, found, text[:400])
    assert sent > 100


def test_api_errors_follow_accept_language(apps):
    app, platform = apps["consent"]
    client = app.test_client()
    expected = {"nb": "Ikke en gyldig UUID.", "nn-NO": "Ikkje ein gyldig UUID.", "en": "Not a valid UUID.",
                "de": "Ikke en gyldig UUID."}
    for language, message in expected.items():
        headers = {**headers_for(platform.settings, "owner_counsellor"), "Accept-Language": language}
        response = client.post("/api/v1/withdrawals", json={"case_id": "ikke-en-uuid"}, headers=headers)
        body = response.get_json()
        assert response.status_code == 422, body
        assert body["errors"]["case_id"] == [message], (language, body)
