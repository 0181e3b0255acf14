"""deploy/ checked as far as this machine allows: the Kubernetes manifests are valid against the Kubernetes API
schemas (kubernetes-validate, offline, strict), every probe path a manifest names is a route the app answers,
and every container command (compose and Kubernetes) is a role the image's entrypoint knows."""
import importlib
import json
import re
from pathlib import Path

import pytest
import yaml

from shared.config import REPO_ROOT

DEPLOY = Path(REPO_ROOT) / "deploy"
SERVICES = ("intake", "consent", "registry", "notify")


def manifests():
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def pod_containers(doc):
    spec = doc.get("spec", {})
    template = spec.get("template") or spec.get("jobTemplate", {}).get("spec", {}).get("template")
    return (template or {}).get("spec", {}).get("containers", [])


def entrypoint_roles():
    text = (DEPLOY / "containers" / "entrypoint.sh").read_text()
    return set(re.findall(r"^\s+([a-z-]+)\)\s", text, re.M))


def test_every_manifest_is_valid_against_the_kubernetes_schemas():
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    checked = 0
    for doc in manifests():
        if doc["apiVersion"].startswith("rabbitmq.com/") or doc["kind"] == "Kustomization":
            continue  # the operator's CRD and kustomize's own file: no schema in the core API
        kubernetes_validate.validate(doc, "1.32.0", strict=True)
        checked += 1
    assert checked >= 20


def test_a_broken_manifest_is_refused_by_the_validation():
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    deployment = next(d for d in manifests() if d["kind"] == "Deployment"
                      and "httpGet" in pod_containers(d)[0]["livenessProbe"])
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["pathh"] = "/x"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.32.0", strict=True)


@pytest.mark.parametrize("service", SERVICES)
def test_probe_paths_in_the_manifests_are_routes_of_the_app(service, platform_factory, tmp_path):
    web = [d for d in manifests() if d["kind"] == "Deployment" and d["metadata"]["name"] == service]
    assert len(web) == 1
    container = pod_containers(web[0])[0]
    assert container["args"] == ["web", service]
    probes = {kind: container[kind]["httpGet"]["path"] for kind in ("livenessProbe", "readinessProbe")}
    assert probes == {"livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    tables = importlib.import_module(f"services.{service}.tables").all_tables()
    # No broker at this address: the readiness probe must not depend on it (events wait in the outbox).
    platform = platform_factory(service, tables, f"sqlite:///{tmp_path}/{service}.db",
                                env={f"{service.upper()}_AMQP_URLS": "amqp://nobody:none@127.0.0.1:1/hybrid"})
    app = importlib.import_module(f"services.{service}.app").create_app(settings=platform.settings, platform=platform)
    client = app.test_client()
    assert client.get(probes["livenessProbe"]).status_code == 200
    ready = client.get(probes["readinessProbe"])
    assert ready.status_code == 200 and ready.get_json()["checks"] == {"database": "ok"}, ready.get_json()
    assert client.get("/no-such-probe").status_code == 404


def test_relays_and_consumers_serve_their_metrics_and_liveness_on_their_own_port():
    """The broker's health belongs to them (the web's readiness leaves it out): each serves its metrics where the
    cluster can scrape them, and a liveness on that port (it answers while the broker is away)."""
    workers = [d for d in manifests() if d["kind"] == "Deployment"
               and d["metadata"]["labels"]["app.kubernetes.io/component"] in ("relay", "consumer")]
    assert len(workers) == 5
    for doc in workers:
        container = pod_containers(doc)[0]
        role, service = container["args"]
        variable = f"{service.upper()}_{'RELAY' if role == 'relay' else 'CONSUMER'}_METRICS_ADDRESS"
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env[variable] == "0.0.0.0:9100", doc["metadata"]["name"]
        assert container["ports"] == [{"name": "metrics", "containerPort": 9100}]
        assert container["livenessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}
        assert "readinessProbe" not in container


def test_every_container_command_is_a_role_of_the_entrypoint():
    roles = entrypoint_roles()
    assert {"web", "relay", "consume", "notify-worker", "migrate"} <= roles
    commands = [pod_containers(d)[0]["args"] for d in manifests()
                if d["kind"] == "Deployment" and not pod_containers(d)[0].get("command")]
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    commands += [s["command"] for s in compose["services"].values()
                 if s.get("image") == "hybrid-platform:local" and "entrypoint" not in s]
    assert len(commands) >= 20
    for role, service in commands:
        assert role in roles and service in SERVICES, (role, service)


def test_compose_runs_every_relay_consumer_and_web_service():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    assert {"rabbitmq", "postgres", "nginx", "migrate"} <= set(compose)
    for service in SERVICES:
        assert compose[service]["command"] == ["web", service]
        assert "/readyz" in " ".join(compose[service]["healthcheck"]["test"])
    assert {n for n in compose if n.endswith(("-relay", "-consumer"))} == {
        "intake-relay", "consent-relay", "consent-consumer", "registry-consumer", "notify-consumer"}


# ---------------------------------------------------------------- who gets which secret
# The one table the local run (scripts/devstack.py), compose and Kubernetes are held to: the secrets each process
# uses, and nothing more ("keyring" is the office keyring: KEYRING_FILE locally, the mounted volume elsewhere).
WEB_SIGN_IN = {"AUTH_SIGNING_KEY", "OIDC_CLIENT_SECRET", "SESSION_DENYLIST_URL"}  # session key, client, ended sessions
SECRETS_USED = {
    "intake": {"INTAKE_DATABASE_URL", *WEB_SIGN_IN, "keyring"},
    "consent": {"CONSENT_DATABASE_URL", *WEB_SIGN_IN, "keyring"},
    "registry": {"REGISTRY_DATABASE_URL", *WEB_SIGN_IN},
    "notify": {"NOTIFY_DATABASE_URL", *WEB_SIGN_IN},
    "intake-relay": {"INTAKE_DATABASE_URL", "INTAKE_AMQP_URLS"},
    "consent-relay": {"CONSENT_DATABASE_URL", "CONSENT_AMQP_URLS"},
    "consent-consumer": {"CONSENT_DATABASE_URL", "CONSENT_AMQP_URLS"},
    "registry-consumer": {"REGISTRY_DATABASE_URL", "REGISTRY_AMQP_URLS", "REGISTRY_PSEUDONYM_SECRET"},
    "notify-consumer": {"NOTIFY_DATABASE_URL", "NOTIFY_AMQP_URLS"},
    "registry-patterns": {"REGISTRY_DATABASE_URL"},  # the pattern follower reads the tables, never the secret
    "notify-worker": {"NOTIFY_DATABASE_URL", "AUTH_SIGNING_KEY", "NOTIFY_OIDC_CLIENT_SECRET", "NOTIFY_SMTP_USERNAME",
                      "NOTIFY_SMTP_PASSWORD"},
}
SECRET_NAMES = {f"{s.upper()}_{kind}" for s in SERVICES for kind in ("DATABASE_URL", "AMQP_URLS", "AMQP_PASSWORD")}
SECRET_NAMES |= WEB_SIGN_IN | {"NOTIFY_OIDC_CLIENT_SECRET"}
SECRET_NAMES |= {"AUTH_SIGNING_KEY", "REGISTRY_PSEUDONYM_SECRET", "NOTIFY_SMTP_USERNAME", "NOTIFY_SMTP_PASSWORD",
                 "BUS_ADMIN_URL"}


def secrets_in(variables, keyring: bool) -> set:
    return {name for name in variables if name in SECRET_NAMES} | ({"keyring"} if keyring else set())


def test_the_local_run_gives_each_process_only_the_secrets_it_uses(tmp_path, monkeypatch):
    from tests.fixtures.stack import _load_devstack
    devstack = _load_devstack()
    every_secret = {name: f"secret-{name.lower()}" for name in SECRET_NAMES}
    for name, value in every_secret.items():  # set in the operator's shell too: still only where used
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AUTH_VERIFY_KEY", "secret-verify-key-of-at-least-32-characters")
    stack = devstack.DevStack(devstack.StackConfig(data_dir=tmp_path, env=dict(every_secret)))
    assert set(devstack.PROCESSES) == set(SECRETS_USED) | {"oidc", "smtp", "nginx"}  # oidc: secrets in its file
    for process in devstack.PROCESSES:
        env = stack.process_env(process)
        expected = SECRETS_USED.get(process, set())
        assert secrets_in(env, "KEYRING_FILE" in env) == expected, process
        assert ("AUTH_VERIFY_KEY" in env) == ("AUTH_SIGNING_KEY" in expected), process  # HS256: the same secret
        assert all(env[name] == every_secret[name] for name in expected - {"keyring"}), process
    # The one-off commands (migrate, directory, demo data) run as the operator, with everything.
    assert SECRET_NAMES <= set(stack.service_env())


def test_the_local_run_gives_the_pseudonym_secret_it_made_to_the_registry_ingest_only(tmp_path, monkeypatch):
    from tests.fixtures.stack import _load_devstack
    devstack = _load_devstack()
    monkeypatch.delenv("REGISTRY_PSEUDONYM_SECRET", raising=False)
    stack = devstack.DevStack(devstack.StackConfig(data_dir=tmp_path))
    stack.ensure_pseudonym_secret()
    holders = [p for p in devstack.PROCESSES if "REGISTRY_PSEUDONYM_SECRET" in stack.process_env(p)]
    assert holders == ["registry-consumer"]


def test_compose_gives_each_process_only_the_secrets_it_uses():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    no_mail_login = {"NOTIFY_SMTP_USERNAME", "NOTIFY_SMTP_PASSWORD"}  # compose's mail catcher takes no login
    for process, expected in SECRETS_USED.items():
        service = compose[process]
        keyring = any(volume.endswith(":/var/lib/hybrid") for volume in service.get("volumes", []))
        assert secrets_in(service.get("environment", {}), keyring) == expected - no_mail_login, process
    for other in ("rabbitmq", "postgres", "mail", "nginx"):
        assert not secrets_in(compose[other].get("environment") or {}, False), other


def test_compose_runs_the_openid_provider_from_the_lock_file_knowing_only_the_client_secrets():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    oidc, common = compose["services"]["oidc"], compose["x-common"]
    dockerfile = (Path(REPO_ROOT) / oidc["build"]["dockerfile"]).read_text()
    assert "COPY package.json package-lock.json" in dockerfile and "RUN npm ci" in dockerfile
    assert set(oidc["environment"]) == {"OIDC_PROVIDER_CONFIG_JSON"}
    text = oidc["environment"]["OIDC_PROVIDER_CONFIG_JSON"]
    secrets = set(re.findall(r"\$\{(\w+):\?", text))
    assert secrets == {"OIDC_COOKIE_KEY", "OIDC_CLIENT_SECRET", "NOTIFY_OIDC_CLIENT_SECRET"}
    config = json.loads(re.sub(r"\$\{(\w+):\?[^}]*\}", r"<\1>", text))
    # The browser reaches it at the issuer, the services inside the network; its clients are the services' own.
    assert common["OIDC_ISSUER"] == "${OIDC_ISSUER:-" + config["issuer"] + "}"
    assert common["OIDC_INTERNAL_URL"] == "${OIDC_INTERNAL_URL-http://oidc:" + str(config["port"]) + "}"
    assert oidc["ports"] == [f"127.0.0.1:{config['port']}:{config['port']}"]
    clients = {client["client_id"]: client for client in config["clients"]}
    platform, notify = clients["hybrid-platform"], clients["hybrid-notify"]
    assert platform["client_secret"] == "<OIDC_CLIENT_SECRET>"
    assert notify["client_secret"] == "<NOTIFY_OIDC_CLIENT_SECRET>"
    assert platform["redirect_uris"] == [common["PUBLIC_URL"] + "/logg-inn/callback"]
    assert common["OIDC_SERVICE_CLIENTS"] == "${OIDC_SERVICE_CLIENTS:-hybrid-notify=notify}"
    assert notify["scope"] == "employer-contact:read" and notify["grant_types"] == ["client_credentials"]


def test_kubernetes_gives_each_process_only_the_secret_keys_it_uses():
    config = next(d for d in manifests() if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "hybrid-config")
    assert "DEMO_MODE" not in config["data"] and config["data"]["OIDC_ISSUER"].startswith("https://")
    assert not secrets_in(config["data"], False)
    seen = set()
    for doc in manifests():
        for container in pod_containers(doc):
            assert not any("secretRef" in source for source in container.get("envFrom", [])), container["name"]
            refs = [e for e in container.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})]
            keys = {e["name"] for e in refs if e["valueFrom"]["secretKeyRef"]["name"] == "hybrid-secrets"}
            assert all(e["valueFrom"]["secretKeyRef"]["key"] == e["name"] for e in refs if e["name"] in keys)
            keyring = any(m["name"] == "keyring" for m in container.get("volumeMounts", []))
            name = container["name"]
            if name == "migrate":
                assert secrets_in(keys, keyring) == {f"{s.upper()}_DATABASE_URL" for s in SERVICES}
                continue
            if name not in SECRETS_USED:
                continue  # PostgreSQL and RabbitMQ's own
            assert keys <= SECRET_NAMES, name  # the provider's keys come from its JWKS, not from a Secret
            assert secrets_in(keys, keyring) == SECRETS_USED[name], name
            volumes = doc["spec"]["template"]["spec"]["volumes"]
            assert any(v["name"] == "keyring" for v in volumes) == keyring, name
            seen.add(name)
    assert seen == set(SECRETS_USED)


# ---------------------------------------------------------------- the ingress's own refusals
def test_the_ingress_hands_its_own_refusals_to_the_platforms_error_backend():
    """ingress-nginx answers 413/502/504 itself in English unless custom-http-errors sends them to a default
    backend: every Ingress sends exactly the proxy's errors to the proxy-errors Service, whose pods run the
    entrypoint's role that serves shared.web.proxy.error_backend."""
    from shared.web.proxy import PROXY_ERRORS
    docs = manifests()
    ingresses = [d for d in docs if d["kind"] == "Ingress"]
    assert len(ingresses) == 2
    backends = set()
    for ingress in ingresses:
        annotations = ingress["metadata"]["annotations"]
        codes = annotations["nginx.ingress.kubernetes.io/custom-http-errors"].split(",")
        assert sorted(int(code) for code in codes) == sorted(PROXY_ERRORS), ingress["metadata"]["name"]
        backends.add(annotations["nginx.ingress.kubernetes.io/default-backend"])
    [backend] = backends
    [service] = [d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == backend]
    selector = service["spec"]["selector"]
    [deployment] = [d for d in docs if d["kind"] == "Deployment"
                    and selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
    [container] = pod_containers(deployment)
    assert container["args"][0] == "proxy-errors-backend" and container["args"][0] in entrypoint_roles()
    assert not container["env"]  # it reads no secret
    entrypoint = (DEPLOY / "containers" / "entrypoint.sh").read_text()
    assert re.search(r"proxy-errors-backend\).*\\\n.*\"shared\.web\.proxy:error_backend\(\)\"", entrypoint)
    assert "proxy-errors.yaml" in (DEPLOY / "k8s" / "kustomization.yaml").read_text()


def test_the_error_backend_answers_with_the_local_proxys_bytes(tmp_path):
    """What the ingress's backend answers is what the local nginx serves from the rendered files, chosen the same
    way (an API path or a JSON client: JSON; otherwise the page)."""
    from shared.web.proxy import PROXY_ERRORS, error_backend, render_error_pages
    render_error_pages(tmp_path)
    client = error_backend().test_client()
    for status in PROXY_ERRORS:
        api = client.post("/", headers={"X-Code": str(status), "X-Original-URI": "/consent/api/v1/consents",
                                        "X-Format": "*/*"})
        assert api.status_code == status and api.content_type == "application/json"
        assert api.data == (tmp_path / f"{status}.json").read_bytes()
        page = client.get("/", headers={"X-Code": str(status), "X-Original-URI": "/consent/saker/x",
                                        "X-Format": "text/html,*/*"})
        assert page.status_code == status and page.content_type.startswith("text/html")
        assert page.data == (tmp_path / f"{status}.html").read_bytes()
        asked_for_json = client.get("/", headers={"X-Code": str(status), "X-Original-URI": "/notify/",
                                                  "X-Format": "application/json"})
        assert asked_for_json.data == (tmp_path / f"{status}.json").read_bytes()
    # Sent here without X-Code: the service has no ready replica, answered as the local proxy answers it (502).
    down = client.get("/intake/api/v1/cases")
    assert down.status_code == 502 and down.get_json()["message"] == PROXY_ERRORS[502]
    assert "Tjenesten svarer ikke" in client.get("/intake/").get_data(as_text=True)
