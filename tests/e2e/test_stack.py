"""The whole system through its one address (nginx in front of the four services under gunicorn)."""
from __future__ import annotations

import json
import os
import signal
import time
import uuid

import pytest
import requests
from sqlalchemy import create_engine, text

from shared.config import SERVICES

# Who sees which service's start page: a counsellor the case work, a researcher the registry.
PAGE_USERS = {"intake": "kari-veileder", "consent": "kari-veileder", "notify": "kari-veileder",
              "registry": "rune-forsker"}


@pytest.mark.parametrize("service", SERVICES)
def test_health_and_readiness_through_the_proxy(stack, service):
    health = requests.get(stack.url(f"/{service}/healthz"), timeout=10)
    assert health.status_code == 200 and health.json() == {"status": "ok", "service": service}
    ready = requests.get(stack.url(f"/{service}/readyz"), timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok"}


def test_one_sign_in_is_accepted_by_every_service_with_the_navigation_bar(stack):
    sessions = {user: stack.sign_in(user) for user in set(PAGE_USERS.values())}
    for service, user in PAGE_USERS.items():
        page = sessions[user].get(stack.url(f"/{service}/"), allow_redirects=False, timeout=10)
        assert page.status_code == 200, f"{service}: {page.status_code} {page.headers.get('Location')}"
        assert 'aria-label="Hovedmeny"' in page.text, service
        assert "Logg ut" in page.text or "logg-ut" in page.text, service
    # The counsellor's bar links every service she uses, under the one origin.
    intake = sessions["kari-veileder"].get(stack.url("/intake/"), timeout=10).text
    for path in ("/intake/", "/consent/", "/notify/"):
        assert f'href="{stack.base_url}{path}"' in intake


def test_pages_without_sign_in_lead_to_the_sign_in_page(stack):
    for service in SERVICES:
        response = requests.get(stack.url(f"/{service}/"), allow_redirects=False, timeout=10)
        assert response.status_code in (302, 303), service
        assert "logg-inn" in response.headers["Location"], service


def test_wrong_password_is_refused(stack):
    with pytest.raises(AssertionError):
        stack.sign_in("kari-veileder", password="not-the-password")


def test_relays_and_consumers_serve_their_own_metrics(stack):
    """They run no web app: each has its endpoint on a port of its own (the local run's are in the banner)."""
    for name, port in stack.supervisor.config.metrics_ports.items():
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert metrics.status_code == 200, name
        service, role = name.split("-")
        if role == "relay":
            assert "bus_relay_confirmed_total" in metrics.text, name
            assert f'bus_outbox_backlog{{service="{service}"}}' in metrics.text, name
        else:
            assert "bus_consumed_total" in metrics.text and "bus_consumer_retries_total" in metrics.text, name


def test_a_killed_relay_is_restarted_and_the_other_processes_are_untouched(stack):
    """The supervisor of the local run restarts what exits (here one round at a time; the run command loops)."""
    supervisor = stack.supervisor
    before = {name: process.pid for name, process in supervisor.processes.items()}
    os.killpg(before["intake-relay"], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while supervisor.processes["intake-relay"].pid == before["intake-relay"]:
        assert time.monotonic() < deadline, "intake-relay was not restarted"
        supervisor.supervise()
        time.sleep(0.1)
    assert {n: p.pid for n, p in supervisor.processes.items() if n != "intake-relay"} == {
        n: pid for n, pid in before.items() if n != "intake-relay"}
    port = supervisor.config.metrics_ports["intake-relay"]
    deadline = time.monotonic() + 30
    while True:  # the new relay serves its metrics again
        try:
            if requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, supervisor.log_tail("intake-relay")
        time.sleep(0.2)
    assert "intake-relay was killed by SIGKILL" in (supervisor.config.log_dir / "supervisor.log").read_text()


@pytest.mark.parametrize("service", SERVICES)
def test_metrics_and_openapi_per_service(stack, service):
    metrics = requests.get(stack.url(f"/{service}/metrics"), timeout=10)
    assert metrics.status_code == 200
    assert "http_requests_total" in metrics.text
    spec = requests.get(stack.url(f"/{service}/api/openapi.json"), timeout=10)
    assert spec.status_code == 200
    document = spec.json()
    assert document["openapi"].startswith("3.") and document["paths"], service


@pytest.mark.unexpected_error_expected
def test_an_unexpected_error_answers_without_stack_trace_and_logs_the_correlation_id(stack):
    """A real fault (intake's table taken away under the running service) -> 500 envelope, id in the JSON log."""
    session = stack.sign_in("kari-veileder")
    engine = create_engine(stack.database_urls["intake"])
    correlation = "e2e-" + uuid.uuid4().hex
    try:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE intake_cases RENAME TO intake_cases_away"))
        response = session.get(stack.url("/intake/api/v1/cases"), headers={"X-Correlation-Id": correlation},
                               timeout=10)
    finally:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE intake_cases_away RENAME TO intake_cases"))
        engine.dispose()
    assert response.status_code == 500
    body = response.json()
    assert set(body) == {"code", "status", "message"} and body["code"] == 500
    assert correlation in body["message"]
    for leak in ("Traceback", "intake_cases", "psycopg2", "File \"", "sqlalchemy"):
        assert leak not in response.text
    assert response.headers["X-Correlation-Id"] == correlation
    deadline = time.monotonic() + 5
    while True:
        entries = [json.loads(line) for line in stack.log_lines("intake") if line.startswith("{")]
        mine = [e for e in entries if e.get("correlation_id") == correlation]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert any(e["msg"] == "unhandled error" and e["level"] == "ERROR" for e in mine), mine
    assert not any("Traceback" in line for line in stack.log_lines("intake"))
    # The table is back: the same call works again.
    assert session.get(stack.url("/intake/api/v1/cases"), timeout=10).status_code == 200


def test_the_proxy_sets_forwarded_headers_so_links_carry_the_prefix(stack):
    response = requests.get(stack.url("/consent/"), allow_redirects=False, timeout=10)
    location = response.headers["Location"]
    assert location.startswith(("/consent/logg-inn", stack.base_url + "/consent/logg-inn")), location
