"""The service image (deploy/containers/Dockerfile) against the real parts: every role the manifests use starts
from the built image and does its job with this machine's PostgreSQL and RabbitMQ (host network, a throwaway
database and vhost). Run by scripts/containers.sh, which builds the image first; deselected from the default run.

A counsellor's case opened through the containerised web service reaches the broker through the containerised
relay: the same path as in compose and Kubernetes, minus the orchestrator. The web service runs as in production
(no demo mode): it signs people in at an OpenID provider (the local one, deploy/oidc, started here on the host) and
takes the counsellor's token from it.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
import uuid

import pytest
import requests
from sqlalchemy import create_engine, inspect, select

from services.intake import tables
from shared import directory as directory_module
from shared.config import DEVELOPMENT_SIGNING_KEY
from shared.crypto import LocalKeyring
from tests.fixtures.stack import TEST_CLIENTS, _load_devstack, free_port
from tests.fixtures.tokens import TEST_CLIENT, provider_auth_header
from tests.integration.test_intake_api import opening

pytestmark = pytest.mark.containers
IMAGE = os.environ.get("HYBRID_IMAGE", "hybrid-platform:local")
IMAGE_USER = 10001  # the Dockerfile's `hybrid` user: the services never run as root


def docker(*args, timeout=180) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def provider(tmp_path):
    """The local OpenID provider on the host, configured as the run command does (its clients, fresh secrets)."""
    devstack = _load_devstack()
    config = devstack.StackConfig(data_dir=tmp_path / "provider", oidc_port=free_port(), oidc_admin_port=free_port(),
                                  oidc_extra_clients=TEST_CLIENTS)
    stack = devstack.DevStack(config, echo=lambda *_: None)
    stack.launch("oidc", [devstack.find_node(), str(devstack.REPO_ROOT / "deploy" / "oidc" / "provider.mjs"),
                          str(stack.write_oidc_config())], env={"PATH": os.environ.get("PATH", "")})
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(config.oidc_issuer + "/.well-known/openid-configuration", timeout=2).ok:
                break
        except requests.ConnectionError:
            pass  # not listening yet
        assert time.monotonic() < deadline, stack.log_tail("oidc")
        time.sleep(0.3)
    env = {"OIDC_ISSUER": config.oidc_issuer, "OIDC_CLIENT_ID": devstack.PLATFORM_CLIENT,
           "OIDC_CLIENT_SECRET": stack.ensure_secret("oidc-platform-secret"), "OIDC_AUDIENCE": devstack.OIDC_AUDIENCE,
           "OIDC_ACCEPTED_CLIENTS": f"{devstack.PLATFORM_CLIENT},{TEST_CLIENT}",
           "AUTH_SIGNING_KEY": stack.ensure_secret("session-key")}
    yield config.oidc_issuer, env
    stack.stop()


@pytest.fixture
def intake_container(pg_url, bus_vhost, tmp_path):
    """`run(role, detach=False, **env)` for intake's image on the host network; data folder with the offices'
    keyring mounted at the image's DATA_DIR; every container removed afterwards."""
    keyring = LocalKeyring({}, source=tmp_path / "keyring.json")
    for office in directory_module.read_directory_file()["offices"]:
        keyring.ensure_office(office["code"])
    keyring.save(tmp_path / "keyring.json")
    for path in (tmp_path, tmp_path / "keyring.json"):
        os.chown(path, IMAGE_USER, -1)
    env = {"INTAKE_DATABASE_URL": pg_url, **bus_vhost.env("intake"), "LOG_LEVEL": "INFO"}
    started = []

    def run(role, detach=False, **extra):
        name = f"hybrid-test-{role}-{uuid.uuid4().hex[:8]}"
        args = ["run", "--name", name, "--network", "host", "-v", f"{tmp_path}:/var/lib/hybrid"]
        for key, value in {**env, **extra}.items():
            args += ["-e", f"{key}={value}"]
        started.append(name)
        if detach:
            result = docker(*args, "-d", IMAGE, role, "intake")
            assert result.returncode == 0, result.stderr
            return name
        return docker(*args, IMAGE, role, "intake")

    run.env, run.database_url = env, pg_url
    yield run
    for name in started:
        docker("rm", "-f", name)


def test_the_image_runs_every_role_against_the_real_database_and_broker(intake_container, provider):
    run = intake_container
    issuer, sign_in_settings = provider
    migrated = run("migrate")
    assert migrated.returncode == 0, migrated.stderr
    engine = create_engine(run.database_url)
    try:
        assert {"intake_cases", "outbox", "alembic_version"} <= set(inspect(engine).get_table_names())
        loaded = run("load-directory")
        assert loaded.returncode == 0, loaded.stderr

        port = free_port()
        web = run("web", detach=True, PORT=str(port), WEB_WORKERS="1", **sign_in_settings)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass  # gunicorn not listening yet
            assert time.monotonic() < deadline, docker("logs", web).stderr[-2000:]
            time.sleep(0.5)
        ready = requests.get(base + "/readyz", timeout=10)
        assert ready.status_code == 200, ready.text  # its database reached from inside the container
        assert docker("exec", web, "id", "-u").stdout.strip() == str(IMAGE_USER)

        opened = requests.post(base + "/api/v1/cases", json=opening(), timeout=30,
                               headers=provider_auth_header(issuer, "kari-veileder"))
        assert opened.status_code == 201, opened.text
        outbox = tables.platform["outbox"]
        with engine.connect() as conn:
            [(event_type, sent_at)] = conn.execute(select(outbox.c.event_type, outbox.c.sent_at)).all()
        assert (event_type, sent_at) == ("case.opened", None)

        relay = run("relay", detach=True)
        deadline = time.monotonic() + 60
        while True:
            with engine.connect() as conn:
                if conn.execute(select(outbox.c.sent_at)).scalar() is not None:
                    break
            assert time.monotonic() < deadline, docker("logs", relay).stderr[-2000:]
            time.sleep(0.5)
        relay_logs, web_logs = docker("logs", relay), docker("logs", web)
        lines = [json.loads(line) for line in (relay_logs.stdout + relay_logs.stderr).splitlines()
                 if line.startswith("{")]
        assert lines, "the relay logs structured JSON"
        everything_logged = relay_logs.stdout + relay_logs.stderr + web_logs.stdout + web_logs.stderr
        assert "/api/v1/cases" in everything_logged  # the web's access log is there...
        for personal in (opening()["national_id"], opening()["candidate_name"]):
            assert personal not in everything_logged  # ...and no national ID or name in any line
    finally:
        engine.dispose()


def test_an_unknown_role_or_service_stops_with_a_usage_error():
    assert docker("run", "--rm", IMAGE, "serve", "intake").returncode == 64
    assert docker("run", "--rm", IMAGE, "web", "payroll").returncode == 64


@pytest.mark.parametrize("signing_key, named", [
    (None, "AUTH_SIGNING_KEY must be set"),
    (DEVELOPMENT_SIGNING_KEY, "AUTH_SIGNING_KEY is the published development key"),
])
def test_the_web_refuses_to_start_without_its_own_secrets(intake_container, signing_key, named):
    extra = {"AUTH_SIGNING_KEY": signing_key} if signing_key else {}
    result = intake_container("web", PORT=str(free_port()), WEB_WORKERS="1", **extra)
    assert result.returncode != 0 and named in result.stdout + result.stderr, result.stderr[-2000:]
