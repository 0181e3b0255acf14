"""Every state-changing request is safe to repeat (shared.web.idempotency, shared.replays, shared.web.preconditions).

A small app built by `shared.web.create_service_app` on intake's migrated database (SQLite and PostgreSQL), with
views that count their effects in a table of their own; a test of each service's migration and of a real service's
OpenAPI document.
"""
from __future__ import annotations

import re
import threading
import time
import uuid
from datetime import timedelta

import pytest
from flask import Blueprint, abort, jsonify, redirect, render_template_string, request
from sqlalchemy import Column, Integer, String, Table, func, insert, inspect, select

from services.consent.app import create_app as create_consent
from services.intake import tables as intake_tables
from services.intake.app import create_app as create_intake
from services.intake.testing import fake_national_id
from shared import migrations
from shared.auth import COOKIE_NAME, mint_token
from shared.config import SERVICES
from shared.db import make_engine
from shared.platform import new_metadata, platform_tables
from shared.replays import PLATFORM_KEYS, erase_replays
from shared.web import CSRF_COOKIE, create_service_app
from shared.web.idempotency import not_replayed
from shared.web.preconditions import expected_version, require_version, set_version_etag
from tests.fixtures.tokens import auth_header, service_auth_header, user_auth_header
from tests.integration.test_consent_helpers import consent_platform, record
from tests.integration.test_consent_helpers import open_case as open_consent_case
from tests.integration.test_intake_api import FNR, closure_body, opening

CASE = "0b4f2c1e-9a7d-4e55-8d3a-6c1f0e2b7a90"
OTHER_CASE = "5d2e8f10-3c4b-4a6e-9f7d-1e2c3b4a5d6e"
PERSONAL = "Ola Nordmann 01017012345"

metadata = new_metadata()
tables = platform_tables(metadata)
effects = Table("test_effects", metadata,
                Column("id", Integer, primary_key=True, autoincrement=True),
                Column("kind", String(20), nullable=False),
                Column("case_id", String(36), nullable=True))


def effect_count(platform, kind=None):
    query = select(func.count()).select_from(effects)
    if kind is not None:
        query = query.where(effects.c.kind == kind)
    with platform.engine.connect() as conn:
        return conn.execute(query).scalar()


def act(platform, kind, case_id=None) -> int:
    with platform.engine.begin() as conn:
        return conn.execute(insert(effects).values(kind=kind, case_id=case_id)).inserted_primary_key[0]


def make_app(platform):
    app = create_service_app("intake", __name__, platform.tables, settings=platform.settings, platform=platform)
    app.config["TEST_VIEW_SECONDS"] = 0.0
    views = Blueprint("test_views", __name__)
    calls = {"flaky": 0, "conflict": 0}

    @views.post("/api/v1/cases/<uid:case_id>/notes")
    def add_note(case_id):
        body = request.get_json()
        time.sleep(app.config["TEST_VIEW_SECONDS"])
        note = act(platform, "note", case_id)
        response = jsonify({"id": note, "case_id": case_id, "text": body["text"]})
        response.status_code = 201
        response.headers["Location"] = f"/api/v1/cases/{case_id}/notes/{note}"
        return set_version_etag(response, note)

    @views.put("/api/v1/settings")
    def put_settings():
        act(platform, "settings")
        return jsonify(request.get_json())

    @views.delete("/api/v1/cases/<uid:case_id>/notes/<int:note_id>")
    def delete_note(case_id, note_id):
        act(platform, "delete", case_id)
        return "", 204

    @views.post("/api/v1/consents")
    def record_consent():  # the case is named in the body, not in the URL
        act(platform, "consent", request.get_json()["case_id"])
        return jsonify({"ok": True}), 201

    @views.post("/api/v1/flaky")
    def flaky():
        calls["flaky"] += 1
        if calls["flaky"] == 1:
            raise RuntimeError("the database went away")
        return jsonify({"id": act(platform, "flaky")}), 201

    @views.post("/api/v1/conflict")
    def conflict():
        calls["conflict"] += 1
        if calls["conflict"] == 1:
            abort(409)
        return jsonify({"id": act(platform, "conflict")}), 201

    @views.post("/api/v1/search")
    @not_replayed
    def search():
        act(platform, "search")
        return jsonify({"found": []})

    @views.post("/api/v1/cases/<uid:case_id>/closure")
    def close(case_id):
        expected = expected_version(request.get_json(silent=True) if request.is_json else None)
        require_version(expected, 3)
        return jsonify({"closed": case_id, "version": 4}), 201

    @views.route("/skjema", methods=["GET", "POST"])
    def form():
        if request.method == "GET":
            return render_template_string(
                '<form method="post"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}">'
                '<input type="hidden" name="_form_token" value="{{ form_token() }}"><input name="text"></form>')
        return redirect(f"/skjema?lagret={act(platform, 'form', CASE)}", 303)

    app.register_blueprint(views)
    return app


@pytest.fixture
def platform(platform_factory, db_url):
    platform = platform_factory("intake", tables, db_url)
    effects.create(platform.engine)
    return platform


@pytest.fixture
def app(platform):
    return make_app(platform)


def bearer(platform, subject="kari-veileder", role="counsellor", office="kristiansand", **claims):
    return auth_header(mint_token(platform.settings, subject=subject, role=role, name=subject, office=office,
                                  **claims))


def keyed(headers, key):
    return {**headers, "Idempotency-Key": key}


def answer(response):
    """What a replay must repeat."""
    return (response.status_code, response.get_data(),
            {name: response.headers.get(name) for name in ("Content-Type", "Location", "ETag")})


def stored_rows(platform):
    with platform.engine.connect() as conn:
        return [dict(row) for row in conn.execute(select(platform.tables["replays"])).mappings()]


# ---------------------------------------------------------------- API: Idempotency-Key
def test_a_repeat_with_the_same_key_replays_the_first_answer_and_acts_once(app, platform):
    client, caller = app.test_client(), bearer(platform)
    requests = [("post", f"/api/v1/cases/{CASE}/notes", {"text": "første"}, "note"),
                ("put", "/api/v1/settings", {"digest": "weekly"}, "settings"),
                ("delete", f"/api/v1/cases/{CASE}/notes/1", None, "delete")]
    for method, path, body, kind in requests:
        key = f"k-{kind}-{uuid.uuid4()}"
        first = getattr(client, method)(path, json=body, headers=keyed(caller, key))
        second = getattr(client, method)(path, json=body, headers=keyed(caller, key))
        assert first.status_code < 300, (kind, first.get_json())
        assert answer(second) == answer(first), kind
        assert "Idempotent-Replayed" not in first.headers and second.headers["Idempotent-Replayed"] == "true"
        assert effect_count(platform, kind) == 1, kind
    first = client.post(f"/api/v1/cases/{CASE}/notes", json={"text": "x"}, headers=keyed(caller, "k-loc"))
    assert first.headers["Location"].startswith(f"/api/v1/cases/{CASE}/notes/") and first.headers["ETag"]


def test_without_a_key_each_request_acts(app, platform):
    client, caller = app.test_client(), bearer(platform)
    for _ in range(2):
        assert client.post(f"/api/v1/cases/{CASE}/notes", json={"text": "a"}, headers=caller).status_code == 201
    assert effect_count(platform, "note") == 2


def test_concurrent_repeats_act_once_and_all_get_the_first_answer(app, platform):
    app.config["TEST_VIEW_SECONDS"] = 0.3
    caller, answers = bearer(platform), []

    def send():
        response = app.test_client().post(f"/api/v1/cases/{CASE}/notes", json={"text": "samtidig"},
                                          headers=keyed(caller, "double-click"))
        answers.append(answer(response))
    threads = [threading.Thread(target=send) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 5 and answers[0][0] == 201
    assert all(each == answers[0] for each in answers)
    assert effect_count(platform, "note") == 1


def test_a_repeat_while_the_first_still_runs_past_the_wait_gets_409_and_later_the_answer(app, platform):
    app.config.update(TEST_VIEW_SECONDS=1.0, REPLAY_WAIT_SECONDS=0.1)
    caller, first = bearer(platform), []
    slow = threading.Thread(target=lambda: first.append(app.test_client().post(
        f"/api/v1/cases/{CASE}/notes", json={"text": "treg"}, headers=keyed(caller, "slow"))))
    slow.start()
    time.sleep(0.4)
    meanwhile = app.test_client().post(f"/api/v1/cases/{CASE}/notes", json={"text": "treg"},
                                       headers=keyed(caller, "slow"))
    slow.join()
    assert meanwhile.status_code == 409 and meanwhile.headers["Retry-After"] == "1"
    assert meanwhile.get_json()["code"] == "request_in_progress"
    assert "under behandling" in meanwhile.get_json()["message"]
    later = app.test_client().post(f"/api/v1/cases/{CASE}/notes", json={"text": "treg"},
                                   headers=keyed(caller, "slow"))
    assert answer(later) == answer(first[0]) and effect_count(platform, "note") == 1


def test_the_same_key_with_another_body_is_422_and_acts_not(app, platform):
    client, caller = app.test_client(), bearer(platform)
    assert client.post(f"/api/v1/cases/{CASE}/notes", json={"text": "a"}, headers=keyed(caller, "k1")).status_code \
        == 201
    other = client.post(f"/api/v1/cases/{CASE}/notes", json={"text": "b"}, headers=keyed(caller, "k1"))
    assert other.status_code == 422
    body = other.get_json()
    assert body["code"] == "idempotency_key_reused" and body["status"] == "Unprocessable Entity"
    assert "alt brukt til en annen forespørsel" in body["message"]
    other_path = client.post(f"/api/v1/cases/{OTHER_CASE}/notes", json={"text": "a"}, headers=keyed(caller, "k1"))
    assert other_path.status_code == 422
    assert effect_count(platform, "note") == 1


def test_another_caller_with_the_same_key_is_independent(app, platform):
    client = app.test_client()
    callers = [bearer(platform), bearer(platform, subject="ola-veileder"),
               bearer(platform, subject="anne-kontakt", role="local_contact", office="bergen-vest"),
               bearer(platform, subject="admin", role="admin", office=None),
               service_auth_header(platform.settings, "notify", "employer-contact:read")]
    for caller in callers:
        response = client.put("/api/v1/settings", json={"x": 1}, headers=keyed(caller, "shared-key"))
        assert response.status_code in (200, 403), response.get_json()
    answered = [c for c in callers if client.put("/api/v1/settings", json={"x": 1},
                                                 headers=keyed(c, "shared-key")).status_code == 200]
    assert len(answered) == 4  # the service token is confined to its own endpoints (403, nothing kept)
    assert effect_count(platform, "settings") == 4
    assert len(stored_rows(platform)) == 4


@pytest.mark.parametrize("key", ["", " ", "a b", "x" * 256, "nøkkel", "tab\tkey"])
def test_a_malformed_key_is_400_in_the_error_format_and_acts_not(app, platform, key):
    response = app.test_client().post(f"/api/v1/cases/{CASE}/notes", json={"text": "a"},
                                      headers=keyed(bearer(platform), key))
    assert response.status_code == 400
    body = response.get_json()
    assert body["code"] == "invalid_idempotency_key" and "1–255 synlige ASCII-tegn" in body["message"]
    assert effect_count(platform) == 0


def test_a_kept_answer_expires_after_24_hours_on_the_platform_clock(app, platform):
    client, caller = app.test_client(), bearer(platform)
    started = platform.clock.now()
    client.post(f"/api/v1/cases/{CASE}/notes", json={"text": "a"}, headers=keyed(caller, "day"))
    platform.clock.set(started + timedelta(hours=23, minutes=59))
    assert client.post(f"/api/v1/cases/{CASE}/notes", json={"text": "a"},
                       headers=keyed(caller, "day")).headers.get("Idempotent-Replayed") == "true"
    platform.clock.set(started + timedelta(hours=24))
    again = client.post(f"/api/v1/cases/{CASE}/notes", json={"text": "a"}, headers=keyed(caller, "day"))
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert effect_count(platform, "note") == 2
    rows = stored_rows(platform)
    assert len(rows) == 1 and rows[0]["created_at"] == started + timedelta(hours=24)


def test_expired_answers_of_others_are_purged_by_later_claims(app, platform):
    client = app.test_client()
    started = platform.clock.now()
    client.put("/api/v1/settings", json={}, headers=keyed(bearer(platform), "old"))
    platform.clock.set(started + timedelta(hours=25))
    app.extensions["request_replays"]["purged_at"] = None  # as a minute later
    client.put("/api/v1/settings", json={}, headers=keyed(bearer(platform, subject="ola-veileder"), "new"))
    assert [row["created_at"] for row in stored_rows(platform)] == [started + timedelta(hours=25)]


def test_nothing_kept_is_readable_in_clear(app, platform):
    key = "my-key-0123456789"
    response = app.test_client().post(f"/api/v1/cases/{CASE}/notes", json={"text": PERSONAL},
                                      headers=keyed(bearer(platform), key))
    assert PERSONAL in response.get_data(as_text=True)
    [row] = stored_rows(platform)
    assert row["status"] == 201 and row["case_id"] == CASE
    raw = b"".join(value if isinstance(value, bytes) else str(value).encode() for value in row.values())
    for clear in (PERSONAL, "01017012345", key, "kari-veileder", "Location", "application/json"):
        assert clear.encode() not in raw, clear
    # The kept answer is bound to its row: put in another row (same office), it does not open; the repeat is refused
    # (503) and nothing acts twice.
    app.test_client().put("/api/v1/settings", json={}, headers=keyed(bearer(platform), "another"))
    replays = platform.tables["replays"]
    other = next(each for each in stored_rows(platform) if each["lookup"] != row["lookup"])
    with platform.engine.begin() as conn:
        conn.execute(replays.update().where(replays.c.lookup == row["lookup"]).values(response=other["response"]))
    moved = app.test_client().post(f"/api/v1/cases/{CASE}/notes", json={"text": PERSONAL},
                                   headers=keyed(bearer(platform), key))
    assert moved.status_code == 503 and effect_count(platform, "note") == 1


def test_erase_replays_removes_the_answers_about_the_cases(app, platform):
    client, caller = app.test_client(), bearer(platform)
    client.post(f"/api/v1/cases/{CASE}/notes", json={"text": "a"}, headers=keyed(caller, "a"))
    client.delete(f"/api/v1/cases/{CASE}/notes/1", headers=keyed(caller, "b"))
    client.post("/api/v1/consents", json={"case_id": OTHER_CASE.upper()}, headers=keyed(caller, "c"))
    client.put("/api/v1/settings", json={}, headers=keyed(caller, "d"))
    assert sorted(str(row["case_id"]) for row in stored_rows(platform)) == sorted([CASE, CASE, OTHER_CASE, "None"])
    with platform.engine.begin() as conn:
        assert erase_replays(conn, CASE) == 2
        assert erase_replays(conn, [OTHER_CASE]) == 1
        assert erase_replays(conn, []) == 0
    assert [row["case_id"] for row in stored_rows(platform)] == [None]
    again = client.post(f"/api/v1/cases/{CASE}/notes", json={"text": "a"}, headers=keyed(caller, "a"))
    assert "Idempotent-Replayed" not in again.headers


def test_a_5xx_or_an_ask_again_answer_is_not_kept_so_a_retry_can_succeed(app, platform):
    client, caller = app.test_client(), bearer(platform)
    for path, refused in (("/api/v1/flaky", 500), ("/api/v1/conflict", 409)):
        assert client.post(path, json={}, headers=keyed(caller, path)).status_code == refused
        retried = client.post(path, json={}, headers=keyed(caller, path))
        assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
        assert answer(client.post(path, json={}, headers=keyed(caller, path))) == answer(retried)
    assert effect_count(platform, "flaky") == 1 and effect_count(platform, "conflict") == 1


def test_a_view_marked_not_replayed_ignores_the_key_and_keeps_nothing(app, platform):
    client, caller = app.test_client(), bearer(platform)
    for _ in range(2):
        assert client.post("/api/v1/search", json={"q": PERSONAL}, headers=keyed(caller, "s")).status_code == 200
    assert effect_count(platform, "search") == 2 and stored_rows(platform) == []


def test_a_caller_without_keys_is_refused_before_the_view_acts(app, platform):
    platform.keyring._offices.pop(PLATFORM_KEYS)
    response = app.test_client().put("/api/v1/settings", json={},
                                     headers=keyed(bearer(platform, subject="admin", role="admin", office=None),
                                                   "k"))
    assert response.status_code == 503 and response.get_json()["code"] == "replays_unavailable"
    assert effect_count(platform) == 0 and stored_rows(platform) == []


# ---------------------------------------------------------------- pages: the form token
def signed_in_page_client(app, platform):
    client = app.test_client()
    client.set_cookie(COOKIE_NAME, mint_token(platform.settings, subject="kari-veileder", role="counsellor",
                                              name="Kari", office="kristiansand"), path="/")
    return client


def rendered_form(client):
    page = client.get("/skjema").get_data(as_text=True)
    return {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1),
            "_form_token": re.search(r'name="_form_token" value="([^"]+)"', page).group(1), "text": "hei"}


def test_a_double_submit_of_one_rendered_form_acts_once_and_both_get_the_same_redirect(app, platform):
    client = signed_in_page_client(app, platform)
    form = rendered_form(client)
    first, second = client.post("/skjema", data=form), client.post("/skjema", data=form)
    assert first.status_code == 303 and answer(second) == answer(first)
    assert effect_count(platform, "form") == 1
    another_rendering = rendered_form(client)
    assert another_rendering["_form_token"] != form["_form_token"]
    assert client.post("/skjema", data=another_rendering).headers["Location"] != first.headers["Location"]
    assert effect_count(platform, "form") == 2
    assert client.get_cookie(CSRF_COOKIE) is not None  # the CSRF check still ran (the token came from the cookie)


def test_a_rendered_form_sent_again_with_other_values_is_refused_on_the_error_page(app, platform):
    client = signed_in_page_client(app, platform)
    form = rendered_form(client)
    client.post("/skjema", data=form)
    changed = client.post("/skjema", data={**form, "text": "noe annet"})
    assert changed.status_code == 422 and "alt sendt med andre verdier" in changed.get_data(as_text=True)
    assert effect_count(platform, "form") == 1


def test_concurrent_submits_of_one_form_act_once(app, platform):
    client = signed_in_page_client(app, platform)
    form, locations = rendered_form(client), []

    def submit():
        each = signed_in_page_client(app, platform)
        each.set_cookie(CSRF_COOKIE, form["csrf_token"], path="/")
        locations.append(each.post("/skjema", data=form).headers["Location"])
    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(locations)) == 1 and len(locations) == 4
    assert effect_count(platform, "form") == 1


# ---------------------------------------------------------------- the version precondition
@pytest.mark.parametrize("headers, body, status", [
    ({}, {}, 428),
    ({"If-Match": '"v3"'}, {}, 201),
    ({"If-Match": 'W/"v3"'}, {}, 201),
    ({}, {"expected_version": 3}, 201),
    ({}, {"expected_version": "3"}, 201),
    ({"If-Match": '"v2"'}, {}, 409),
    ({}, {"expected_version": 4}, 409),
    ({"If-Match": "*"}, {}, 400),
    ({"If-Match": '"v3", "v4"'}, {}, 400),
    ({"If-Match": '"v3"'}, {"expected_version": 2}, 400),
    ({}, {"expected_version": -1}, 422),
    ({}, {"expected_version": "tre"}, 422),
    ({}, {"expected_version": True}, 422),
])
def test_a_change_of_a_versioned_resource_needs_the_version_the_caller_saw(app, platform, headers, body, status):
    response = app.test_client().post(f"/api/v1/cases/{CASE}/closure", json=body,
                                      headers={**bearer(platform), **headers})
    assert response.status_code == status, response.get_json()
    message = response.get_json().get("message", "")
    if status == 428:
        assert "If-Match" in message and "expected_version" in message
        assert response.get_json()["status"] == "Precondition Required"
    if status == 409:
        assert "nå er den versjon 3" in message


def test_a_page_form_carries_the_version_as_a_field(app, platform):
    client = signed_in_page_client(app, platform)
    csrf = rendered_form(client)["csrf_token"]
    missing = client.post(f"/api/v1/cases/{CASE}/closure", data={"csrf_token": csrf})
    assert missing.status_code == 428
    given = client.post(f"/api/v1/cases/{CASE}/closure", data={"csrf_token": csrf, "expected_version": "3"})
    assert given.status_code == 201


# ---------------------------------------------------------------- every service
@pytest.mark.parametrize("service", SERVICES)
def test_each_service_migration_creates_the_replay_table_on_one_head(service, db_url):
    from alembic.script import ScriptDirectory
    migrations.upgrade(service, db_url)
    engine = make_engine(db_url)
    try:
        columns = {column["name"] for column in inspect(engine).get_columns("request_replays")}
        assert {"lookup", "fingerprint", "status", "response", "case_id", "expires_at"} <= columns
    finally:
        engine.dispose()
    heads = ScriptDirectory.from_config(migrations.alembic_config(service, db_url)).get_heads()
    assert len(heads) == 1, heads


def test_the_openapi_document_names_the_key_on_every_state_changing_operation(app):
    spec = app.test_client().get("/api/openapi.json").get_json()
    assert spec["components"]["parameters"]["IdempotencyKey"]["in"] == "header"
    assert spec["components"]["parameters"]["IdempotencyKey"]["name"] == "Idempotency-Key"
    from services.intake.app import create_app  # a real service: every POST, PUT and DELETE names the header
    real = create_app(settings=app.extensions["platform"].settings, platform=app.extensions["platform"])
    paths = real.test_client().get("/api/openapi.json").get_json()["paths"]
    # A POST that only reads and is never kept (not_replayed: a search by national ID, an access request) names none.
    reads = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule) for rule in real.url_map.iter_rules()
             if getattr(real.view_functions[rule.endpoint], "not_replayed", False)}
    assert reads
    unsafe = [(path, method, operation) for path, operations in paths.items() for method, operation in
              operations.items() if method in ("post", "put", "patch", "delete") and path not in reads]
    assert unsafe
    for path, method, operation in unsafe:
        assert {"$ref": "#/components/parameters/IdempotencyKey"} in operation.get("parameters", []), (method, path)


def test_the_principal_is_what_keys_a_replay(app, platform):
    """A replay is found by the verified caller, never by anything the request could forge."""
    client = app.test_client()
    client.put("/api/v1/settings", json={}, headers=keyed(bearer(platform), "mine"))
    forged = client.put("/api/v1/settings", json={}, headers={**keyed(bearer(platform, subject="ola-veileder"),
                                                                       "mine"), "X-Forwarded-User": "kari-veileder"})
    assert "Idempotent-Replayed" not in forged.headers and effect_count(platform, "settings") == 2


# ---------------------------------------------------------------- every operation of every real service
PEOPLE_BY_ROLE = {"counsellor": ("kari-veileder", "kristiansand", None), "local_contact": ("lise-kontakt",
                  "kristiansand", None), "county_contact": ("tone-fylke", None, "agder"),
                  "researcher": ("rune-forsker", None, None), "admin": ("admin", None, None)}
_PATH_PARAMETER = re.compile(r"\{(\w+)\}")


@pytest.mark.parametrize("service", SERVICES)
def test_every_state_changing_api_operation_of_every_service_replays_without_view_changes(service, platform_factory,
                                                                                         tmp_path):
    """Each POST, PUT, PATCH and DELETE of the service's OpenAPI document, by a role the access policy allows, sent
    twice with one key: the second is the first answer replayed; the same key with another body is 422; and twice
    at once with another key (concurrent_once)."""
    import importlib

    from tests.security.policy import POLICY
    tables_module = importlib.import_module(f"services.{service}.tables")
    platform = platform_factory(service, tables_module.all_tables(), f"sqlite:///{tmp_path}/{service}.db")
    app = importlib.import_module(f"services.{service}.app").create_app(settings=platform.settings,
                                                                        platform=platform)
    client = app.test_client()
    paths = client.get("/api/openapi.json").get_json()["paths"]
    checked = 0
    for path, operations in paths.items():
        for method in ("post", "put", "patch", "delete"):
            rule = POLICY[service].get((method.upper(), path))
            if method not in operations or rule is None or not rule.roles:
                continue
            if {"$ref": "#/components/parameters/IdempotencyKey"} not in operations[method].get("parameters", []):
                continue  # not_replayed (a read by POST whose answer is never kept): the document names no key
            subject, office, county = PEOPLE_BY_ROLE[rule.roles[0]]
            caller = keyed(bearer(platform, subject=subject, role=rule.roles[0], office=office, county=county),
                           f"every-{method}-{path}")
            declared = operations.get("parameters", []) + operations[method].get("parameters", [])
            integers = {each["name"] for each in declared if isinstance(each, dict) and each.get("in") == "path"
                        and each.get("schema", {}).get("type") == "integer"}
            url = _PATH_PARAMETER.sub(lambda match, integers=integers: "1" if match.group(1) in integers
                                      else str(uuid.uuid4()), path)
            first = client.open(url, method=method.upper(), json={"matrix": "first"}, headers=caller)
            second = client.open(url, method=method.upper(), json={"matrix": "first"}, headers=caller)
            other = client.open(url, method=method.upper(), json={"matrix": "other"}, headers=caller)
            assert first.status_code < 500, (method, path, first.get_json())
            assert second.headers.get("Idempotent-Replayed") == "true", (method, path, first.status_code)
            assert answer(second) == answer(first), (method, path)
            assert other.status_code == 422 and other.get_json()["code"] == "idempotency_key_reused", (method, path)
            concurrent_once(client, method, url, caller, f"every-{method}-{path}-together", platform)
            checked += 1
    assert checked or service == "registry", f"{service}: no state-changing API operation found"  # registry: reads


def row_counts(platform) -> dict:
    """Rows of every table but the kept answers themselves: what a request may change."""
    with platform.engine.connect() as conn:
        return {name: conn.execute(select(func.count()).select_from(table)).scalar()
                for name, table in platform.tables.items() if name != "replays"}


def concurrent_once(client, method, url, caller, key, platform):
    """The same request twice at once with one key: both get the first answer, or the later one 409
    request_in_progress and then, asked again, the first answer; a later repeat changes nothing."""
    app, start, answers = client.application, threading.Barrier(2), []
    headers = keyed(caller, key)

    def send():
        start.wait()
        answers.append(app.test_client().open(url, method=method.upper(), json={"matrix": "together"},
                                              headers=headers))
    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(each.status_code < 500 for each in answers), (method, url, [a.get_json() for a in answers])
    waiting = [each for each in answers if each.status_code == 409
               and (each.get_json() or {}).get("code") == "request_in_progress"]
    first = next(each for each in answers if each not in waiting)
    assert len(waiting) <= 1 and all(answer(each) == answer(first) for each in answers if each not in waiting), \
        (method, url, [each.status_code for each in answers])
    after = row_counts(platform)
    again = app.test_client().open(url, method=method.upper(), json={"matrix": "together"}, headers=headers)
    assert again.headers.get("Idempotent-Replayed") == "true" and answer(again) == answer(first), (method, url)
    assert row_counts(platform) == after, (method, url)


def test_the_versioned_changes_need_the_version_and_say_so(platform_factory, tmp_path):
    """A closure, a correction (a closure of a closed case), a withdrawal and an erasure without the version the
    caller saw answer 428 and change nothing; their OpenAPI operations declare 428 (README: Repeating a request)."""
    intake = platform_factory("intake", intake_tables.all_tables(), f"sqlite:///{tmp_path}/intake.db")
    client = create_intake(platform=intake).test_client()

    def call(path, body, user="kari-veileder", headers=None):
        return client.post("/api/v1" + path, json=body, headers={**user_auth_header(intake, user), **(headers or {})})
    opened, closed = (call("/cases", opening(national_id=national_id)).get_json()["id"]
                      for national_id in (FNR, fake_national_id(43)))
    etag = client.get(f"/api/v1/cases/{closed}/closure",
                      headers=user_auth_header(intake, "kari-veileder")).headers["ETag"]
    assert call(f"/cases/{closed}/closure", closure_body(), headers={"If-Match": etag}).status_code == 201
    consent = consent_platform(platform_factory, f"sqlite:///{tmp_path}/consent.db")
    consent_client = create_consent(platform=consent).test_client()
    withdrawn_case = open_consent_case(consent)
    record(consent, withdrawn_case, "candidate", {"interviews": "granted", "research_registration": "granted"})

    before = (row_counts(intake), row_counts(consent))
    refused = {
        "closure": call(f"/cases/{opened}/closure", closure_body()),
        "correction": call(f"/cases/{closed}/closure", closure_body(attachment_after="temp_agency")),
        "erasure": call("/privacy/erasure", {"national_id": FNR, "confirm": True}, user="lise-kontakt"),
        "withdrawal": consent_client.post("/api/v1/withdrawals", json={"case_id": withdrawn_case,
                                                                      "purposes": ["interviews"]},
                                          headers=user_auth_header(consent, "kari-veileder")),
    }
    for name, response in refused.items():
        assert response.status_code == 428, (name, response.get_json())
        assert response.get_json()["status"] == "Precondition Required", name
    assert (row_counts(intake), row_counts(consent)) == before

    intake_paths = client.get("/api/openapi.json").get_json()["paths"]
    consent_paths = consent_client.get("/api/openapi.json").get_json()["paths"]
    for paths, path in ((intake_paths, "/api/v1/cases/{case_id}/closure"), (intake_paths, "/api/v1/privacy/erasure"),
                        (consent_paths, "/api/v1/withdrawals")):
        assert {"409", "428"} <= set(paths[path]["post"]["responses"]), path
