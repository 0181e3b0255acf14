"""Writes the Kubernetes manifests in this folder (run: python deploy/k8s/generate.py; commit the output).

The manifests are plain YAML for `kubectl apply -k deploy/k8s`; this script only keeps ten near-identical
Deployments consistent. Web Deployments probe /healthz (liveness) and /readyz (readiness: the database only;
events wait in the outbox while the broker is away, so a broker outage keeps every replica in its Service).
The ingress's own refusals (413, 502, 504) go to the proxy-errors backend (shared.web.proxy.error_backend), which
answers as the local run's nginx does: the platform's JSON or error page, in Norwegian.
"""
from pathlib import Path

import yaml

HERE = Path(__file__).parent
NS = "hybrid"
IMAGE = "ghcr.io/nav/hybrid-platform:1.0.0"
SERVICES = ("intake", "consent", "registry", "notify")
PRODUCERS = ("intake", "consent")
CONSUMERS = ("consent", "registry", "notify")
LABELS = {"app.kubernetes.io/part-of": "hybrid"}
DATABASE_URLS = [f"{s.upper()}_DATABASE_URL" for s in SERVICES]
# Of the Secret `hybrid-secrets`, each process gets only the keys it uses, and only intake and consent (which
# encrypt and hash personal data) mount the keyring: the same table as the local run (scripts/devstack.py
# SECRET_USERS) and compose.yaml; tests/integration/test_deploy_manifests.py holds all three to it. The identity
# provider's keys come from its JWKS, not from a Secret.
# The web services' sign-in: the session key, the platform's client secret at the OpenID provider, the list of
# ended sessions (a database URL with its password).
WEB_SIGN_IN = ["AUTH_SIGNING_KEY", "OIDC_CLIENT_SECRET", "SESSION_DENYLIST_URL"]
SECRETS_OF = {
    "intake": ["INTAKE_DATABASE_URL", *WEB_SIGN_IN],
    "consent": ["CONSENT_DATABASE_URL", *WEB_SIGN_IN],
    "registry": ["REGISTRY_DATABASE_URL", *WEB_SIGN_IN],
    "notify": ["NOTIFY_DATABASE_URL", *WEB_SIGN_IN],
    "intake-relay": ["INTAKE_DATABASE_URL", "INTAKE_AMQP_URLS"],
    "consent-relay": ["CONSENT_DATABASE_URL", "CONSENT_AMQP_URLS"],
    "consent-consumer": ["CONSENT_DATABASE_URL", "CONSENT_AMQP_URLS"],
    "registry-consumer": ["REGISTRY_DATABASE_URL", "REGISTRY_AMQP_URLS", "REGISTRY_PSEUDONYM_SECRET"],
    "notify-consumer": ["NOTIFY_DATABASE_URL", "NOTIFY_AMQP_URLS"],
    "registry-patterns": ["REGISTRY_DATABASE_URL"],  # the pattern follower: the database only, never the secret
    "notify-worker": ["NOTIFY_DATABASE_URL", "AUTH_SIGNING_KEY", "NOTIFY_OIDC_CLIENT_SECRET", "NOTIFY_SMTP_USERNAME",
                      "NOTIFY_SMTP_PASSWORD"],
    "migrate": DATABASE_URLS,
}
KEYRING_USERS = {"intake", "consent"}
ERROR_BACKEND = "proxy-errors"  # named by ingress.yaml's default-backend annotation
WORKER_METRICS_PORT = 9100
OPTIONAL_SECRETS = {"NOTIFY_SMTP_USERNAME", "NOTIFY_SMTP_PASSWORD"}  # absent: not used


def secret_env(name):
    return [{"name": key, "valueFrom": {"secretKeyRef": {"name": "hybrid-secrets", "key": key,
                                                          **({"optional": True} if key in OPTIONAL_SECRETS else {})}}}
            for key in SECRETS_OF[name]]


def volumes(name):
    keyring = [{"name": "keyring", "secret": {"secretName": "hybrid-keyring"}}] if name in KEYRING_USERS else []
    return keyring + [{"name": "tmp", "emptyDir": {}}]


def container(name, args, web=False):
    keyring = ([{"name": "keyring", "mountPath": "/var/run/hybrid-keys", "readOnly": True}]
               if name in KEYRING_USERS else [])
    c = {
        "name": name, "image": IMAGE, "args": args,
        "envFrom": [{"configMapRef": {"name": "hybrid-config"}}],
        "env": secret_env(name) if name in SECRETS_OF else [],
        "volumeMounts": keyring + [{"name": "tmp", "mountPath": "/tmp"}],
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
    }
    if web:
        c["ports"] = [{"name": "http", "containerPort": 8000}]
        c["livenessProbe"] = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10,
                              "timeoutSeconds": 2, "failureThreshold": 3}
        c["readinessProbe"] = {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 5,
                               "timeoutSeconds": 3, "failureThreshold": 2}
        c["startupProbe"] = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 2,
                             "failureThreshold": 30}
    elif name == ERROR_BACKEND:
        # Every path of it answers an error status (that is its job), so its probes check the port only.
        c["ports"] = [{"name": "http", "containerPort": 8000}]
        c["livenessProbe"] = {"tcpSocket": {"port": "http"}, "periodSeconds": 10, "failureThreshold": 3}
        c["readinessProbe"] = {"tcpSocket": {"port": "http"}, "periodSeconds": 5, "failureThreshold": 2}
    elif name.endswith(("-relay", "-consumer")):
        # The broker's health shows here, not in the web's readiness: each relay and consumer serves its metrics
        # (alert on them) and its liveness on that port, which answers while the broker is away.
        service, role = name.split("-")
        c["env"].append({"name": f"{service.upper()}_{role.upper()}_METRICS_ADDRESS",
                         "value": f"0.0.0.0:{WORKER_METRICS_PORT}"})
        c["ports"] = [{"name": "metrics", "containerPort": WORKER_METRICS_PORT}]
        c["livenessProbe"] = {"httpGet": {"path": "/metrics", "port": "metrics"}, "periodSeconds": 20,
                              "timeoutSeconds": 5, "failureThreshold": 3}
    return c


def deployment(name, args, replicas, web=False, component="web"):
    labels = {**LABELS, "app.kubernetes.io/name": name, "app.kubernetes.io/component": component}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": 30,  # SIGTERM: relays/consumers finish the batch in hand
                    "containers": [container(name, args, web)],
                    "volumes": volumes(name),
                    "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                                   "whenUnsatisfiable": "ScheduleAnyway",
                                                   "labelSelector": {"matchLabels": {"app.kubernetes.io/name": name}}}],
                },
            },
        },
    }


def service(name):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS, "labels": LABELS},
            "spec": {"selector": {"app.kubernetes.io/name": name},
                     "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}


def pdb(name):
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name, "namespace": NS},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": name}}}}


def hpa(name):
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                     "minReplicas": 2, "maxReplicas": 10,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                                                                   "target": {"type": "Utilization",
                                                                              "averageUtilization": 70}}}]}}


def dump(filename, docs, header):
    text = "# " + header + "\n# Generated by deploy/k8s/generate.py -- edit there.\n"
    text += "---\n".join(yaml.safe_dump(d, sort_keys=False) for d in docs)
    (HERE / filename).write_text(text)


def main():
    web = []
    for s in SERVICES:
        web += [deployment(s, ["web", s], 2, web=True), service(s), pdb(s), hpa(s)]
    dump("web.yaml", web, "The four web services: Deployment, Service, PodDisruptionBudget, autoscaler each.")
    errors = [deployment(ERROR_BACKEND, ["proxy-errors-backend", "intake"], 2, component="proxy-errors"),
              service(ERROR_BACKEND), pdb(ERROR_BACKEND)]
    dump("proxy-errors.yaml", errors, "The ingress's default backend: its own 413, 502 and 504 in the platform's "
         "format and language (custom-http-errors in ingress.yaml).")
    workers = [deployment(f"{s}-relay", ["relay", s], 2, component="relay") for s in PRODUCERS]
    workers += [deployment(f"{s}-consumer", ["consume", s], 2, component="consumer") for s in CONSUMERS]
    workers += [deployment("notify-worker", ["notify-worker", "notify"], 1, component="worker")]
    # One is enough: a second would find the first's claim row and wait for its pattern.
    workers += [deployment("registry-patterns", ["patterns", "registry"], 1, component="worker")]
    dump("workers.yaml", workers, "Outbox relays and bus consumers: two of each share the work (leases on the "
         "outbox, competing consumers on a quorum queue; the inbox makes a redelivery a no-op). Notify's worker "
         "and the registry's pattern follower.")
    migrate = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "hybrid-migrate", "namespace": NS},
               "spec": {"backoffLimit": 3, "template": {"spec": {
                   "restartPolicy": "OnFailure",
                   "containers": [{**container("migrate", []), "command": ["/bin/sh", "-c"], "args": [
                       "for s in intake consent registry notify; do "
                       "python -m flask --app services.$s.wsgi db upgrade && "
                       "python -m flask --app services.$s.wsgi directory load || exit 1; done"]}],
                   "volumes": volumes("migrate")}}}}
    dump("migrate-job.yaml", [migrate], "Schema migrations and the directory, run before each release (Alembic).")


if __name__ == "__main__":
    main()
