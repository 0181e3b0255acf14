"""The whole platform on one machine: the one place that knows every process of the local run.

    python scripts/devstack.py                 # what scripts/run.sh calls: prepare, start, wait for Ctrl-C
    python scripts/devstack.py --no-demo       # without demo data

Prepares (broker definitions, migrations, directory, keyring, demo data), starts the four services under
gunicorn, the outbox relays, the consumers, the notify worker, a local SMTP sink and nginx as the one address,
waits until every service answers /readyz through the proxy, prints the address and the demo sign-ins, and stops
everything on Ctrl-C. The end-to-end tests use the same class (tests/fixtures/stack.py) on other ports.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from shared.bus import admin as broker_admin  # noqa: E402
from shared.bus import topology  # noqa: E402
from shared.config import SERVICES  # noqa: E402

PYTHON = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv" / "bin" / "python").exists() else sys.executable
NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")


@dataclass
class StackConfig:
    data_dir: Path = REPO / "data"
    proxy_port: int = 8080
    base_port: int = 8101          # intake, consent, registry, notify on base_port + 0..3
    smtp_port: int = 8025
    vhost: str = topology.DEFAULT_VHOST
    user_prefix: str = ""
    amqp_host: str = "127.0.0.1:5672"
    database_urls: dict = field(default_factory=dict)   # service -> URL; SQLite files under data_dir by default
    workers: int = 2
    demo: bool = True
    extra_env: dict = field(default_factory=dict)

    def service_port(self, service: str) -> int:
        return self.base_port + SERVICES.index(service)

    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"


class Stack:
    def __init__(self, config: StackConfig):
        self.config = config
        self.run_dir = config.data_dir / "run"
        self.log_dir = self.run_dir / "logs"
        self.processes: dict[str, subprocess.Popen] = {}

    # ------------------------------------------------------------------ environment
    def env(self) -> dict:
        c = self.config
        env = dict(os.environ)
        env.update({
            "DATA_DIR": str(c.data_dir),
            "PUBLIC_URL": c.public_url,
            "NOTIFY_SMTP_HOST": "127.0.0.1",
            "NOTIFY_SMTP_PORT": str(c.smtp_port),
            "NOTIFY_INTAKE_URL": f"http://127.0.0.1:{c.service_port('intake')}",
            "REGISTRY_PSEUDONYM_SECRET": self._secret("registry-pseudonym-secret"),
            "BUS_ADMIN_URL": f"amqp://guest:guest@{c.amqp_host}/{c.vhost}",
            "PYTHONUNBUFFERED": "1",
        })
        for service in SERVICES:
            user = c.user_prefix + service
            env[f"{service.upper()}_AMQP_URLS"] = f"amqp://{user}:{topology.dev_password(service)}@{c.amqp_host}/{c.vhost}"
            if service in c.database_urls:
                env[f"{service.upper()}_DATABASE_URL"] = c.database_urls[service]
        env.update(c.extra_env)
        return env

    def _secret(self, name: str) -> str:
        """Local secrets are made once and kept in the data folder (production takes them from a secret store)."""
        path = self.config.data_dir / "secrets" / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip()

    def flask(self, service: str, *args: str, check=True) -> subprocess.CompletedProcess:
        command = [PYTHON, "-m", "flask", "--app", f"services.{service}.wsgi", *args]
        result = subprocess.run(command, cwd=REPO, env=self.env(), capture_output=True, text=True)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(command[2:])} failed:\n{result.stdout}{result.stderr}")
        return result

    # ------------------------------------------------------------------ preparation
    def prepare(self):
        c = self.config
        c.data_dir.mkdir(parents=True, exist_ok=True)
        for path in (self.log_dir, self.run_dir / "nginx-tmp", self.run_dir / "metrics"):
            path.mkdir(parents=True, exist_ok=True)
        say(f"broker: definitions into vhost {c.vhost}")
        broker_admin.apply(vhost=c.vhost, user_prefix=c.user_prefix, passwords=broker_admin.service_passwords())
        for service in SERVICES:
            self.flask(service, "db", "upgrade")
            self.flask(service, "directory", "load")
        say("databases migrated, offices, users and project loaded")
        self.flask("intake", "keys", "init")

    def seed_demo(self):
        marker = self.config.data_dir / ".demo-seeded"
        if marker.exists():
            say("demo data already present")
            return
        say(self.flask("intake", "demo", "seed").stdout.strip())
        self._wait_for_consent_cases()
        say(self.flask("consent", "demo", "seed").stdout.strip())
        say(self.flask("registry", "demo", "seed").stdout.strip())
        marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))

    def _wait_for_consent_cases(self, timeout=60):
        """Consent learns cases from intake's events: wait until the relay and its consumer have caught up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.flask("intake", "outbox", "status").stdout
            if " 0 unsent" in status:
                time.sleep(2)  # the consumer commits in batches
                return
            time.sleep(0.5)
        say("warning: intake's outbox did not drain in time; consent demo data may be partial")

    # ------------------------------------------------------------------ processes
    def _start(self, name: str, command: list[str], extra_env: dict | None = None):
        env = self.env()
        if extra_env:
            env.update(extra_env)
        log = open(self.log_dir / f"{name}.log", "ab")
        self.processes[name] = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                                start_new_session=True)

    def start(self):
        c = self.config
        self._start("smtp-sink", [PYTHON, "scripts/smtp_sink.py", "--port", str(c.smtp_port),
                                  "--maildir", str(c.data_dir / "mail")])
        for service in SERVICES:
            metrics_dir = self.run_dir / "metrics" / service
            metrics_dir.mkdir(parents=True, exist_ok=True)
            for stale in metrics_dir.glob("*.db"):
                stale.unlink()
            self._start(service, [PYTHON, "-m", "gunicorn", "--workers", str(c.workers), "--bind",
                                  f"127.0.0.1:{c.service_port(service)}", "--access-logfile", "-",
                                  "--graceful-timeout", "10", f"services.{service}.wsgi:app"],
                        {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)})
        for service in ("intake", "consent"):
            self._start(f"{service}-relay", [PYTHON, "-m", "flask", "--app", f"services.{service}.wsgi", "outbox", "relay"])
        for service in ("consent", "registry", "notify"):
            self._start(f"{service}-consumer", [PYTHON, "-m", "flask", "--app", f"services.{service}.wsgi", "bus", "consume"])
        self._start("notify-worker", [PYTHON, "-m", "flask", "--app", "services.notify.wsgi", "notify", "run"])
        self._start("nginx", [NGINX, "-p", str(self.run_dir), "-c", str(self._render_nginx()), "-g", "daemon off;"])

    def _render_nginx(self) -> Path:
        c = self.config
        headers = self.run_dir / "proxy_headers.conf"
        headers.write_text(
            "proxy_set_header Host $http_host;\n"
            "proxy_set_header X-Forwarded-For $remote_addr;\n"
            "proxy_set_header X-Forwarded-Proto $scheme;\n"
            "proxy_set_header X-Forwarded-Host $http_host;\n"
        locations = []
        for service in SERVICES:
            locations.append(
                f"        location /{service}/ {{\n"
                f"            proxy_pass http://127.0.0.1:{c.service_port(service)}/;\n"
                f"            include {self.run_dir}/proxy_headers.conf;\n"
                f"            proxy_set_header X-Forwarded-Prefix /{service};\n"
                f"        }}")
        template = (REPO / "deploy" / "nginx" / "hybrid.conf.template").read_text()
        conf = template.format(user_line="user root;" if os.geteuid() == 0 else "", run_dir=self.run_dir,
                               port=c.proxy_port, intake_port=c.service_port("intake"),
                               service_locations="\n".join(locations))
        path = self.run_dir / "nginx.conf"
        path.write_text(conf)
        return path

    def wait_ready(self, timeout=90):
        deadline = time.monotonic() + timeout
        pending = list(SERVICES)
        while pending and time.monotonic() < deadline:
            self.check_alive()
            for service in list(pending):
                try:
                    with urllib.request.urlopen(f"{self.config.public_url}/{service}/readyz", timeout=3) as response:
                        if response.status == 200:
                            pending.remove(service)
                except (urllib.error.URLError, OSError):
                    pass
            time.sleep(0.3)
        if pending:
            raise RuntimeError(f"not ready after {timeout}s: {', '.join(pending)} (logs in {self.log_dir})")

    def check_alive(self):
        for name, process in self.processes.items():
            if process.poll() is not None:
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} exited with {process.returncode}; last log lines:\n{tail}")

    def stop(self, timeout=15):
        for process in self.processes.values():
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()

    def demo_users(self) -> list[dict]:
        with open(REPO / "deploy" / "data" / "directory.json", encoding="utf-8") as handle:
            return json.load(handle)["users"]


def say(message: str):
    print(f"[devstack] {message}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.environ.get("DATA_DIR", str(REPO / "data")))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PROXY_PORT", 8080)))
    parser.add_argument("--no-demo", action="store_true")
    args = parser.parse_args()
    stack = Stack(StackConfig(data_dir=Path(args.data_dir).resolve(), proxy_port=args.port, demo=not args.no_demo))
    stopping = {"flag": False}

    def on_signal(*_):
        stopping["flag"] = True
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.prepare()
        stack.start()
        stack.wait_ready()
        if stack.config.demo:
            stack.seed_demo()
        print()
        print(f"  Hybridmodellen runs at {stack.config.public_url}/   (Ctrl-C stops everything)")
        print(f"  Mail sent by notify lands in {stack.config.data_dir / 'mail'}; logs in {stack.log_dir}")
        print("  Demo sign-ins (password: demo):")
        for user in stack.demo_users():
            where = user.get("office_code") or user.get("county_code") or "-"
            print(f"    {user['id']:<22} {user['role']:<15} {where}")
        print(flush=True)
        while not stopping["flag"]:
            stack.check_alive()
            time.sleep(1)
    except Exception as error:  # report and stop cleanly; never leave orphans behind
        say(f"error: {error}")
        stack.stop()
        return 1
    say("stopping")
    stack.stop()
    say("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
