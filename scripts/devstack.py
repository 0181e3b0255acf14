"""The one place that knows the system's processes: prepare, start, wait for ready, keep running, stop.

Used by scripts/run.sh (the local run, `python scripts/devstack.py run`) and by the end-to-end fixture
tests/fixtures/stack.py (on other ports, in a temporary data folder, against throwaway databases and vhost).

Processes (each in its own process group, log in <data>/run/logs/<name>.log):
  the OpenID Connect provider (deploy/oidc/provider.mjs, Node), four services under gunicorn, the outbox relays
  of the producing services, the bus consumers, notify's sweep-and-deliver loop, the registry's pattern follower,
  a local SMTP sink (scripts/smtp_sink.py) and nginx as the one address.

A process that exits is restarted after a backoff that doubles with each exit soon after a start (capped), and
each exit and restart is written to the terminal and to <data>/run/logs/supervisor.log; a process that keeps
exiting at once is reported as a crash loop while the rest keep running. The system stops only when asked
(Ctrl-C, SIGTERM).
"""
from __future__ import annotations

import argparse
import grp
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("intake", "consent", "registry", "notify")
PRODUCERS = ("intake", "consent")          # services with an outbox relay
CONSUMERS = ("consent", "registry", "notify")  # services with a bus consumer
NGINX_TEMPLATE = REPO_ROOT / "deploy" / "nginx" / "hybrid.conf.template"
# The local run's metrics endpoints of the processes that serve no web app (the services' own are at /metrics).
LOCAL_METRICS_PORTS = {"intake-relay": 9101, "consent-relay": 9102,
                       "consent-consumer": 9202, "registry-consumer": 9203, "notify-consumer": 9204}
PROCESSES = ("oidc", "smtp", *SERVICES, *(f"{s}-relay" for s in PRODUCERS), *(f"{s}-consumer" for s in CONSUMERS),
             "notify-worker", "registry-patterns", "nginx")
# Which process uses which secret; no other process gets it (deploy/compose.yaml and deploy/k8s hold to the same).
# Web services slide the session cookie (signing key); notify's worker mints its service token and signs the
# unsubscribe links; intake and consent encrypt and hash personal data (keyring); only the registry's ingest
# pseudonymises; only the worker sends mail; the broker's admin URL is for the operator's dead-letter commands.
SECRET_USERS = {
    "AUTH_SIGNING_KEY": {*SERVICES, "notify-worker"},  # the session key; notify's worker signs unsubscribe links
    "OIDC_CLIENT_SECRET": set(SERVICES),  # the platform's client at the provider: the code exchange
    "NOTIFY_OIDC_CLIENT_SECRET": {"notify-worker"},  # notify's service client: its token for intake
    "SESSION_DENYLIST_URL": set(SERVICES),  # the sessions the provider ended, read by every web service
    "AUTH_VERIFY_KEY": {*SERVICES, "notify-worker"},  # the signing key itself under HS256; public otherwise
    "KEYRING_FILE": {"intake", "consent"},
    "KEYRING_JSON_B64": {"intake", "consent"},
    "REGISTRY_PSEUDONYM_SECRET": {"registry-consumer"},
    "NOTIFY_SMTP_USERNAME": {"notify-worker"},
    "NOTIFY_SMTP_PASSWORD": {"notify-worker"},
    "BUS_ADMIN_URL": set(),
}


def may_see(process: str, variable: str, env: dict) -> bool:
    """Whether a process gets a variable: a secret only where it is used; a service's own variables (`<SVC>_...`)
    only in that service's processes, its broker user only in its relay and consumer, its broker password
    (used by `shared.bus.admin apply`) in none."""
    if variable == "AUTH_VERIFY_KEY" and env.get("AUTH_ALGORITHM", "HS256") != "HS256":
        return True  # a public key, which every process's settings ask for
    if variable in SECRET_USERS:
        return process in SECRET_USERS[variable]
    owner = next((s for s in SERVICES if variable.startswith(s.upper() + "_")), None)
    if owner is None:
        return True
    if owner != process.split("-")[0]:
        return False
    if variable.endswith("_AMQP_URLS"):
        return process in (f"{owner}-relay", f"{owner}-consumer")
    return not variable.endswith("_AMQP_PASSWORD")


def find_nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if not found:
        raise RuntimeError("nginx is not installed (scripts/install-system-deps.sh installs Debian's nginx-light)")
    return found


def find_node() -> str:
    found = shutil.which("node")
    if not found:
        raise RuntimeError("Node.js is not installed (scripts/install-system-deps.sh installs Debian's nodejs)")
    return found


# The provider's clients (deploy/oidc/README.md): the platform (authorization code + PKCE), notify's service client
# (client credentials, the one scope of intake's internal endpoint) and the researcher's API client for scripts
# (client credentials, acting as that directory user).
PLATFORM_CLIENT = "hybrid-platform"
NOTIFY_CLIENT = "hybrid-notify"
API_CLIENTS = {"hybrid-api-rune-forsker": "rune-forsker"}
OIDC_AUDIENCE = "api://hybrid-platform"


@dataclass
class StackConfig:
    data_dir: Path
    proxy_port: int = 8080
    service_ports: dict = field(default_factory=lambda: {"intake": 8101, "consent": 8102, "registry": 8103,
                                                          "notify": 8104})
    smtp_port: int = 8025
    oidc_port: int = 8090
    oidc_admin_port: int = 8091
    # More clients for the provider (tests: a client of another application, a test client for person tokens).
    oidc_extra_clients: list = field(default_factory=list)
    workers: int = 2
    env: dict = field(default_factory=dict)  # extra variables for every process (database and broker URLs ...)
    metrics_ports: dict = field(default_factory=dict)  # relay/consumer process name -> its metrics port (off if absent)
    python: str = sys.executable
    restart_delay_seconds: float = 1.0   # the first restart's delay; doubled for each exit soon after a start
    restart_delay_cap_seconds: float = 30.0
    stable_after_seconds: float = 10.0   # an exit after running this long starts the backoff afresh
    crash_loop_after: int = 3            # this many exits in a row soon after a start: reported as a crash loop

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "logs"

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    @property
    def oidc_issuer(self) -> str:
        return f"http://127.0.0.1:{self.oidc_port}"

    @property
    def oidc_admin_url(self) -> str:
        return f"http://127.0.0.1:{self.oidc_admin_port}"


class ProcessFailed(RuntimeError):
    pass


@dataclass
class Child:
    """One supervised process: how to start it again, and its exits so far."""
    name: str
    command: list
    env: dict
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    quick_exits: int = 0  # exits in a row, each within stable_after_seconds of its start
    restarts: int = 0
    restart_at: float | None = None  # set while it waits out its backoff


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


class DevStack:
    def __init__(self, config: StackConfig, echo=print):
        self.config = config
        self.echo = echo
        self.children: dict[str, Child] = {}
        self.stopping = False

    @property
    def processes(self) -> dict[str, subprocess.Popen]:
        """The running process of each child (the latest one of a restarted child)."""
        return {name: child.process for name, child in self.children.items()}

    # ------------------------------------------------------------ environment
    def service_env(self) -> dict:
        """Everything the system is configured with: the environment of the operator's one-off commands."""
        c = self.config
        env = dict(os.environ)
        env.update({
            "DATA_DIR": str(c.data_dir),
            "KEYRING_FILE": str(c.data_dir / "keyring.json"),
            "PUBLIC_URL": c.base_url,
            "NOTIFY_SMTP_HOST": "127.0.0.1",
            "NOTIFY_SMTP_PORT": str(c.smtp_port),
            "NOTIFY_INTAKE_URL": f"http://127.0.0.1:{c.service_ports['intake']}",
            # An access request's consent and notify parts, asked by intake on the local contact's token.
            "INTAKE_CONSENT_URL": f"http://127.0.0.1:{c.service_ports['consent']}",
            "INTAKE_NOTIFY_URL": f"http://127.0.0.1:{c.service_ports['notify']}",
            "PYTHONUNBUFFERED": "1",
        })
        secret = c.data_dir / "pseudonym-secret"
        if "REGISTRY_PSEUDONYM_SECRET" not in env and secret.exists():
            env["REGISTRY_PSEUDONYM_SECRET"] = secret.read_text().strip()
        # The sign-in: the local provider, and the secrets the run made for this data folder (never the published
        # development key).
        env.update({
            "AUTH_SIGNING_KEY": self.ensure_secret("session-key"),
            "OIDC_ISSUER": c.oidc_issuer,
            "OIDC_CLIENT_ID": PLATFORM_CLIENT,
            "OIDC_CLIENT_SECRET": self.ensure_secret("oidc-platform-secret"),
            "OIDC_AUDIENCE": OIDC_AUDIENCE,
            "OIDC_ACCEPTED_CLIENTS": ",".join([PLATFORM_CLIENT, *API_CLIENTS,
                                               *(client["client_id"] for client in c.oidc_extra_clients
                                                 if client.get("acts_for_people"))]),
            "OIDC_SERVICE_CLIENTS": f"{NOTIFY_CLIENT}=notify",
            "NOTIFY_OIDC_CLIENT_ID": NOTIFY_CLIENT,
            "NOTIFY_OIDC_CLIENT_SECRET": self.ensure_secret("oidc-notify-secret"),
        })
        env.update(c.env)
        return env

    def process_env(self, name: str) -> dict:
        """One long-running process's environment: the common settings, its own service's, the secrets it uses;
        a web service's metrics folder, a relay's or consumer's metrics endpoint when the stack gives it a port."""
        full = self.service_env()
        env = {key: value for key, value in full.items() if may_see(name, key, full)}
        if name in SERVICES:
            env["PROMETHEUS_MULTIPROC_DIR"] = str(self.config.run_dir / "prometheus" / name)
        port = self.config.metrics_ports.get(name)
        if port:
            service, role = name.split("-")
            env[f"{service.upper()}_{role.upper()}_METRICS_ADDRESS"] = f"127.0.0.1:{port}"
        return env

    def flask(self, service: str, *args: str, check=True, capture=True) -> subprocess.CompletedProcess:
        command = [self.config.python, "-m", "flask", "--app", f"services.{service}.wsgi", *args]
        result = subprocess.run(command, cwd=REPO_ROOT, env=self.service_env(), capture_output=capture, text=True)
        if check and result.returncode != 0:
            raise ProcessFailed(f"`flask --app services.{service}.wsgi {' '.join(args)}` failed:\n"
                                f"{(result.stderr or '').strip()}\n{(result.stdout or '').strip()}")
        return result

    # ------------------------------------------------------------ one-off steps
    def prepare(self):
        """Migrate every service's database, load the directory, create the keyring."""
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        self.ensure_pseudonym_secret()
        for service in SERVICES:
            self.flask(service, "db", "upgrade")
            self.flask(service, "directory", "load")
            self.echo(f"  {service}: migrated, directory loaded")
        out = self.flask("intake", "keys", "init").stdout.strip()
        self.echo(f"  {out}")

    def ensure_pseudonym_secret(self):
        """The registry's pseudonym secret (project setting `env:REGISTRY_PSEUDONYM_SECRET`): made once, kept."""
        self.ensure_secret("pseudonym-secret")

    def ensure_secret(self, name: str) -> str:
        """A random secret of this data folder (<data>/<name>, mode 0600): made once, kept."""
        path = self.config.data_dir / name
        if not path.exists():
            self.config.data_dir.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return path.read_text().strip()
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        return path.read_text().strip()

    def write_oidc_config(self) -> Path:
        """The provider's configuration (deploy/oidc/provider.mjs): issuer, ports, the directory, its keys file,
        and the clients with the secrets of this data folder."""
        c = self.config
        folder = c.data_dir / "oidc"
        folder.mkdir(parents=True, exist_ok=True)
        directory_file = c.env.get("DIRECTORY_FILE") or str(REPO_ROOT / "deploy" / "data" / "directory.json")
        nav_idents = {user["id"]: user.get("nav_ident") for user in self.demo_users()}
        clients = [
            {"client_id": PLATFORM_CLIENT, "client_secret": self.ensure_secret("oidc-platform-secret"),
             "grant_types": ["authorization_code"], "response_types": ["code"], "scope": "openid profile api",
             "redirect_uris": [c.base_url + "/logg-inn/callback"],
             "post_logout_redirect_uris": [c.base_url + "/logget-ut"],
             "backchannel_logout_uri": c.base_url + "/logg-ut/backchannel",
             "backchannel_logout_session_required": True},
            {"client_id": NOTIFY_CLIENT, "client_secret": self.ensure_secret("oidc-notify-secret"),
             "grant_types": ["client_credentials"], "response_types": [], "redirect_uris": [],
             "scope": "employer-contact:read"},
            *({"client_id": client, "client_secret": self.ensure_secret(f"oidc-{client}-secret"),
               "grant_types": ["client_credentials"], "response_types": [], "redirect_uris": [], "scope": "api",
               "navident": nav_idents[user]} for client, user in API_CLIENTS.items()),
            *({key: value for key, value in client.items() if key != "acts_for_people"}
              for client in c.oidc_extra_clients),
        ]
        config = {"issuer": c.oidc_issuer, "port": c.oidc_port, "admin_port": c.oidc_admin_port,
                  "directory_file": directory_file, "keys_file": str(folder / "keys.json"),
                  "cookie_keys": [self.ensure_secret("oidc-cookie-key")], "audience": OIDC_AUDIENCE,
                  "clients": clients}
        path = folder / "config.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(config, handle)
        return path

    def has_demo(self, service: str) -> bool:
        return self.flask(service, "demo", "--help", check=False).returncode == 0

    def seed_demo(self, timeout=60.0):
        """Demo data. Consent and notify learn of cases from intake's events (notify has no demo cases of its own,
        so every reminder names a case intake has), so they are seeded after the bus delivered them."""
        seeded = [s for s in ("intake", "registry") if self.has_demo(s)]
        for service in seeded:
            self.echo(f"  {service}: {self.flask(service, 'demo', 'seed').stdout.strip()}")
        later = [s for s in ("consent", "notify") if self.has_demo(s)]
        if later:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                status = self.flask("intake", "outbox", "status").stdout
                if status.strip().endswith(" 0 unsent"):
                    break
                time.sleep(0.5)
            time.sleep(2.0)  # the consumers apply what the relay just published
            for service in later:
                self.echo(f"  {service}: {self.flask(service, 'demo', 'seed').stdout.strip()}")

    # ------------------------------------------------------------ processes
    def launch(self, name: str, command: list[str], env: dict | None = None) -> Child:
        """Start a process under supervision (its own process group, its log in <data>/run/logs/<name>.log), by
        default in its own environment (`process_env`)."""
        child = self.children[name] = Child(name, list(command), self.process_env(name) if env is None else env)
        self._start(child)
        return child

    def _start(self, child: Child):
        self.config.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.config.log_dir / f"{child.name}.log", "ab") as log:
            child.process = subprocess.Popen(child.command, cwd=REPO_ROOT, env=child.env, stdout=log,
                                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                             start_new_session=True)
        child.started_at = time.monotonic()

    def note(self, message: str):
        """A supervisor event: to the terminal and to <data>/run/logs/supervisor.log."""
        self.echo(message)
        self.config.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.config.log_dir / "supervisor.log", "a", encoding="utf-8") as log:
            log.write(f"{datetime.now().astimezone().isoformat(timespec='seconds')} {message}\n")

    def supervise(self):
        """One round: a process that exited gets its restart scheduled; one whose backoff is over starts again."""
        if self.stopping:
            return
        now = time.monotonic()
        for child in self.children.values():
            if child.restart_at is None:
                code = child.process.poll()
                if code is not None:
                    self._schedule_restart(child, code, now)
            elif now >= child.restart_at:
                child.restart_at = None
                child.restarts += 1
                self._start(child)
                self.note(f"{child.name}: started again (restart {child.restarts}, pid {child.process.pid})")

    def _schedule_restart(self, child: Child, code: int, now: float):
        c = self.config
        kill_group(child.process)  # what is left of its group (gunicorn's workers) would hold its port
        ran = now - child.started_at
        child.quick_exits = child.quick_exits + 1 if ran < c.stable_after_seconds else 1
        delay = min(c.restart_delay_cap_seconds, c.restart_delay_seconds * 2 ** (child.quick_exits - 1))
        child.restart_at = now + delay
        self.note(f"{child.name} {describe_exit(code)} after {ran:.1f}s; restarting in {delay:.1f}s")
        if child.quick_exits == c.crash_loop_after:
            self.note(f"CRASH LOOP: {child.name} has exited {child.quick_exits} times in a row within "
                      f"{c.stable_after_seconds:.0f}s of starting; it is retried every "
                      f"{c.restart_delay_cap_seconds:.0f}s at most, the other processes keep running. "
                      f"Last lines of {c.log_dir / (child.name + '.log')}:\n{self.log_tail(child.name)}")

    def render_nginx(self) -> Path:
        c = self.config
        run = c.run_dir / "nginx"
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (run / "temp" / sub).mkdir(parents=True, exist_ok=True)
        text = NGINX_TEMPLATE.read_text()
        # The body limit and the proxy's own error pages come from the platform (shared.limits, shared/web/proxy.py).
        errors = run / "proxy-errors"
        rendered = subprocess.run([c.python, "-m", "shared.web.proxy", str(errors)], cwd=REPO_ROOT, check=True,
                                  capture_output=True, text=True)
        values = {"PROXY_PORT": str(c.proxy_port), "RUN_DIR": str(run), "LOG_DIR": str(c.log_dir),
                  "PROXY_ERRORS_DIR": str(errors), **json.loads(rendered.stdout.splitlines()[-1]),
                  "USER": f"{pwd.getpwuid(os.getuid()).pw_name} {grp.getgrgid(os.getgid()).gr_name}",
                  **{f"{s.upper()}_PORT": str(p) for s, p in c.service_ports.items()}}
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        if "{{" in text:
            raise RuntimeError("nginx template has an unfilled placeholder")
        path = run / "nginx.conf"
        path.write_text(text)
        return path

    def start(self):
        c = self.config
        c.log_dir.mkdir(parents=True, exist_ok=True)
        c.mail_dir.mkdir(parents=True, exist_ok=True)
        self.launch("oidc", [find_node(), str(REPO_ROOT / "deploy" / "oidc" / "provider.mjs"),
                             str(self.write_oidc_config())], env={"PATH": os.environ.get("PATH", ""),
                                                                 "NODE_ENV": "production"})
        self.launch("smtp", [c.python, str(REPO_ROOT / "scripts" / "smtp_sink.py"), "--port", str(c.smtp_port),
                             "--dir", str(c.mail_dir)])
        for service in SERVICES:
            prom = c.run_dir / "prometheus" / service
            shutil.rmtree(prom, ignore_errors=True)  # stale multiprocess files would add old counts
            prom.mkdir(parents=True)
            port = c.service_ports[service]
            self.launch(service, [c.python, "-m", "gunicorn", "--workers", str(c.workers), "--bind",
                                  f"127.0.0.1:{port}", "--graceful-timeout", "5", "--timeout", "60",
                                  f"services.{service}.wsgi:app"])
        flask = [c.python, "-m", "flask", "--app"]
        for service in PRODUCERS:
            self.launch(f"{service}-relay", flask + [f"services.{service}.wsgi", "outbox", "relay"])
        for service in CONSUMERS:
            self.launch(f"{service}-consumer", flask + [f"services.{service}.wsgi", "bus", "consume"])
        self.launch("notify-worker", flask + ["services.notify.wsgi", "notify", "run"])
        # The registry's unfiltered suppression pattern searched ahead of the first reader after each change.
        self.launch("registry-patterns", flask + ["services.registry.wsgi", "registry", "patterns", "--follow"])
        conf = self.render_nginx()
        nginx = find_nginx()
        test = subprocess.run([nginx, "-t", "-q", "-e", str(c.log_dir / "nginx-error.log"), "-p",
                               str(c.run_dir / "nginx"), "-c", str(conf)], capture_output=True, text=True)
        if test.returncode != 0:
            raise ProcessFailed(f"nginx configuration {conf} is invalid: {test.stderr.strip()}")
        self.launch("nginx", [nginx, "-e", str(c.log_dir / "nginx-error.log"), "-p", str(c.run_dir / "nginx"),
                              "-c", str(conf), "-g", "daemon off;"])

    def log_tail(self, name: str, lines=20) -> str:
        path = self.config.log_dir / f"{name}.log"
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def wait_ready(self, timeout=120.0):
        """Every service answers /readyz (its database) through the proxy; exited processes are restarted meanwhile."""
        deadline = time.monotonic() + timeout
        pending = ["oidc", *SERVICES]
        last = {}
        while pending:
            self.supervise()
            for service in list(pending):
                url = (f"{self.config.oidc_issuer}/.well-known/openid-configuration" if service == "oidc"
                       else f"{self.config.base_url}/{service}/readyz")
                try:
                    with urllib.request.urlopen(url, timeout=5) as response:
                        if response.status == 200:
                            pending.remove(service)
                except urllib.error.HTTPError as error:
                    last[service] = f"{error.code} {error.read()[:200]!r}"
                except OSError as error:
                    last[service] = str(error)
            if pending and time.monotonic() > deadline:
                looping = [child for child in self.children.values()
                           if child.quick_exits >= self.config.crash_loop_after]
                raise ProcessFailed("not ready in time: " + ", ".join(f"{s} ({last.get(s)})" for s in pending)
                                    + "".join(f"\n{child.name} keeps exiting; last lines of its log:\n"
                                              + self.log_tail(child.name) for child in looping))
            if pending:
                time.sleep(0.3)

    def stop(self, timeout=15.0):
        """SIGTERM to every process group, then SIGKILL to what is left: no orphans, and no more restarts."""
        self.stopping = True
        processes = list(self.processes.values())
        for process in processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        for process in processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for process in processes:
            kill_group(process)
        self.children.clear()

    # ------------------------------------------------------------ what a person sees
    def demo_users(self) -> list[dict]:
        path = Path(self.config.env.get("DIRECTORY_FILE") or REPO_ROOT / "deploy" / "data" / "directory.json")
        data = json.loads(path.read_text(encoding="utf-8"))
        return data.get("users", [])

    def banner(self) -> str:
        lines = ["", f"The system is up at {self.config.base_url}/", "",
                 f"Sign in at the local identity provider ({self.config.oidc_issuer}) with the e-mail or NAV ident "
                 "and the password \"demo\" of one of:"]
        for user in self.demo_users():
            where = user.get("office_code") or user.get("county_code") or ""
            lines.append(f"  {user.get('nav_ident', ''):<8} {user['email']:<36} {user.get('role', ''):<15} "
                         f"{where:<14} {user.get('name', '')}")
        lines += ["", f"Mail sent by notify lands in {self.config.mail_dir}/ (local SMTP sink on port "
                      f"{self.config.smtp_port}).",
                  f"Logs: {self.config.log_dir}/<process>.log (restarts: supervisor.log)", "Stop with Ctrl-C.", ""]
        if self.config.metrics_ports:
            lines[-2:-2] = ["Metrics: every service at <address>/<service>/metrics; relays and consumers at "
                            + ", ".join(f"{name} :{port}" for name, port in self.config.metrics_ports.items())]
        return "\n".join(lines)


def kill_group(process: subprocess.Popen):
    """SIGKILL to a child's process group (stragglers such as gunicorn's workers included), then reap the child."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Run the whole system on this machine.")
    parser.add_argument("command", choices=["run"])
    parser.add_argument("--data-dir", default=str(REPO_ROOT / "data"))
    parser.add_argument("--proxy-port", type=int, default=8080)
    parser.add_argument("--oidc-port", type=int, default=8090)
    parser.add_argument("--no-demo", action="store_true", help="skip the demo data")
    args = parser.parse_args(argv)
    stack = DevStack(StackConfig(data_dir=Path(args.data_dir).resolve(), proxy_port=args.proxy_port,
                                 oidc_port=args.oidc_port, oidc_admin_port=args.oidc_port + 1,
                                 metrics_ports=dict(LOCAL_METRICS_PORTS)))

    def _stop(signum, _frame):
        raise KeyboardInterrupt

    # Ctrl-C too, explicitly: started from a shell that ignores SIGINT (a background job, nohup, some CI runners),
    # Python would inherit the ignore and Ctrl-C would stop nothing.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop)
    try:
        print("Preparing databases, directory and keys")
        stack.prepare()
        print("Starting processes")
        stack.start()
        stack.wait_ready()
        if not args.no_demo:
            print("Loading demo data")
            stack.seed_demo()
        print(stack.banner(), flush=True)
        while True:
            stack.supervise()
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nStopping ...", flush=True)
        return 0
    except ProcessFailed as error:
        print(f"\nFAILED: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        stack.stop()
        print("All processes stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
