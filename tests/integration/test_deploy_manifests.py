"""deploy/ checked as far as this machine allows: the Kubernetes manifests are valid against the Kubernetes API
schemas (kubernetes-validate, offline, strict), every probe path a manifest names is a route the app answers,
and every container command (compose and Kubernetes) is a role the image's entrypoint knows."""
import importlib
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
    deployment = next(d for d in manifests() if d["kind"] == "Deployment")
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
