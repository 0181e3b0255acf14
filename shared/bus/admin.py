"""Broker administration through `rabbitmqctl` (the broker runs without the management plugin).

    python -m shared.bus.admin render                      # deploy/rabbitmq/definitions.json from topology
    python -m shared.bus.admin apply [--vhost V] [--user-prefix P] [--node N]
    python -m shared.bus.admin office-user add <office> [--service S] [--password P]
    python -m shared.bus.admin delete-vhost <vhost> [--user-prefix P]

Definitions are fed to `rabbitmqctl import_definitions -` on standard input, so that no file has to be
readable by the broker's own user and no password shows on a command line. Users are global in RabbitMQ (only
their permissions are per vhost), which is why throwaway test vhosts use a user prefix.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pika

from . import topology
from .connection import connection_parameters

DEFINITIONS_FILE = Path(__file__).resolve().parent.parent.parent / "deploy" / "rabbitmq" / "definitions.json"
RABBITMQCTL = os.environ.get("RABBITMQCTL", "rabbitmqctl")


class AdminError(RuntimeError):
    """A rabbitmqctl call failed; the message carries its output."""


def rabbitmqctl(*args, node: str | None = None, stdin: str | None = None, timeout: float = 120) -> str:
    command = [RABBITMQCTL, "-q"] + (["-n", node] if node else []) + list(args)
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        stdout, stderr = process.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        # Debian's wrapper runs the CLI under `su`: end the whole tree, or the orphaned CLI keeps one of the
        # few distribution ports every rabbitmqctl on this machine shares.
        _kill_tree(process.pid)
        process.communicate()
        raise AdminError(f"rabbitmqctl {args[0]} timed out after {timeout} s") from None
    result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()
        raise AdminError(f"rabbitmqctl {args[0]} failed ({result.returncode}): {output}")
    return result.stdout


def _kill_tree(pid: int) -> None:
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout.split()
    for child in children:
        _kill_tree(int(child))
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass


def render_json(definitions: dict) -> str:
    return json.dumps(definitions, indent=2, sort_keys=True) + "\n"


def render(path: Path = DEFINITIONS_FILE) -> Path:
    """Write the development definitions (dev passwords, fixed salt) for `load_definitions` at broker boot."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_json(topology.render_definitions()))
    return path


def service_passwords(env=None) -> dict:
    """Broker passwords from `<SVC>_AMQP_PASSWORD`, else the development ones."""
    env = os.environ if env is None else env
    return {user: env.get(f"{user.upper()}_AMQP_PASSWORD") or topology.dev_password(user)
            for user in topology.broker_users()}


def merge_definitions(documents) -> dict:
    """One import for several vhosts: concatenate each list (an import is one rabbitmqctl call, ~1 s)."""
    merged: dict = {"rabbit_version": topology.render_definitions()["rabbit_version"]}
    for document in documents:
        for key, value in document.items():
            if isinstance(value, list):
                merged.setdefault(key, []).extend(value)
    return merged


def import_definitions(definitions: dict, node: str | None = None) -> None:
    rabbitmqctl("import_definitions", "--format", "json", node=node, stdin=json.dumps(definitions))


def admin_permission(vhost: str, admin_user: str) -> dict:
    """Full rights in the vhost for an existing operator user (the dead-letter CLI's BUS_ADMIN_URL)."""
    return {"user": admin_user, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"}


def apply(vhost: str = topology.DEFAULT_VHOST, user_prefix: str = "", passwords: dict | None = None,
          node: str | None = None, admin_user: str | None = None) -> dict:
    """Create or update the vhost, exchanges, quorum queues, policies, users and permissions (additive)."""
    definitions = topology.render_definitions(vhost, user_prefix, passwords or service_passwords(),
                                              salt=secrets.token_bytes(4))
    if admin_user:
        definitions["permissions"].append(admin_permission(vhost, admin_user))
    import_definitions(definitions, node=node)
    return definitions


def office_user_definitions(office: str, vhost: str = topology.DEFAULT_VHOST, password: str | None = None,
                            service: str | None = None, user_prefix: str = "") -> tuple[str, dict]:
    """A broker user for an office that runs its own instance of a service.

    Its topic permission admits only `office.<office>.…`; with a service it may also read that service's
    queues. Returns (user name, definitions)."""
    pattern = topology.office_topic_pattern(office)  # validates the office code
    if service is not None and service not in topology.PUBLISHES:
        raise ValueError(f"unknown service {service!r}")
    name = f"{user_prefix}{service + '-' if service else ''}office-{office}"
    password = password or secrets.token_urlsafe(18)
    own_queues = [re.escape(q.name) for q in topology.queues_of(service)] if service else []
    read = "^(" + "|".join(own_queues) + ")$" if own_queues else "^$"
    definitions = {
        "users": [{"name": name, "password_hash": topology.rabbit_password_hash(password),
                   "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": []}],
        "permissions": [{"user": name, "vhost": vhost, "configure": "^$",
                         "write": "^" + re.escape(topology.EXCHANGE) + "$", "read": read}],
        "topic_permissions": [{"user": name, "vhost": vhost, "exchange": topology.EXCHANGE,
                               "write": pattern, "read": ".*"}],
    }
    return name, definitions


def add_office_user(office: str, vhost: str = topology.DEFAULT_VHOST, password: str | None = None,
                    service: str | None = None, user_prefix: str = "", node: str | None = None) -> str:
    name, definitions = office_user_definitions(office, vhost, password, service, user_prefix)
    import_definitions(definitions, node=node)
    return name


def _erlang_binary_list(items) -> str:
    for item in items:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", item):
            raise ValueError(f"refusing to pass {item!r} to the broker")
    return "[" + ",".join(f'<<"{item}">>' for item in items) + "]"


def list_users(node: str | None = None) -> list[str]:
    out = rabbitmqctl("list_users", "--no-table-headers", node=node)
    return [line.split("\t")[0] for line in out.splitlines() if line.strip()]


def delete_vhosts(vhosts, user_prefixes=(), users=(), node: str | None = None) -> None:
    """Delete vhosts and every user starting with one of the prefixes, in one `rabbitmqctl eval` (fast)."""
    vhosts, user_prefixes = list(vhosts), [p for p in user_prefixes if p]
    if not vhosts and not user_prefixes and not users:
        return
    names = list(users)
    if user_prefixes:
        names += [u for u in list_users(node) if any(u.startswith(p) for p in user_prefixes)]
    expression = (
        f"[rabbit_vhost:delete(V, <<\"cli\">>) || V <- {_erlang_binary_list(vhosts)}, rabbit_vhost:exists(V)], "
        f"[rabbit_auth_backend_internal:delete_user(U, <<\"cli\">>) || U <- {_erlang_binary_list(names)}], ok."
    )
    rabbitmqctl("eval", expression, node=node)


# ---------------------------------------------------------------- dead letters (over AMQP, as the operator)
def _describe(queue: str, method, properties, body: bytes) -> dict:
    headers = properties.headers or {}
    deaths = headers.get("x-death") or []
    death = deaths[0] if deaths else {}
    office = event_type = None
    try:  # the envelope names office and type (the relay sends no type property)
        envelope = json.loads(body)
        office, event_type = envelope.get("office"), envelope.get("type")
    except (ValueError, AttributeError, UnicodeDecodeError):
        pass

    def text(value):
        return value.decode() if isinstance(value, bytes) else value
    return {
        "queue": queue,
        "dead_letter_queue": queue + ".dead",
        "message_id": properties.message_id,
        "type": event_type if isinstance(event_type, str) else properties.type,
        "office": office if isinstance(office, str) else None,
        "routing_key": text(death.get("routing-keys", [method.routing_key])[0]) if death else method.routing_key,
        "reason": text(death.get("reason")) or "unknown",
        "count": int(death.get("count", 1)) if death else 1,
    }


def _dead_letter_queues(queues) -> list[str]:
    return [topology.queue(q).name for q in queues] if queues else [q.name for q in topology.QUEUES]


def _blocking(url: str):
    return pika.BlockingConnection(connection_parameters(url))


def list_dead_letters(admin_url: str, queues=None) -> list[dict]:
    """Every message in the dead-letter queues, read without consuming for good (all go back unchanged). The broker's
    reason for a consumer's rejection is only "rejected": the consumer's own is in its service's database."""
    found = []
    connection = _blocking(admin_url)
    try:
        for queue in _dead_letter_queues(queues):
            channel = connection.channel()
            while True:
                method, properties, body = channel.basic_get(queue + ".dead", auto_ack=False)
                if method is None:
                    break
                found.append(_describe(queue, method, properties, body))
            channel.close()  # returns every unacknowledged message to its queue
    finally:
        connection.close()
    return found


def replay_dead_letters(admin_url: str, queues=None, message_id: str | None = None,
                        replay_all: bool = False) -> list[dict]:
    """Republish dead letters to their original queue (confirmed), then remove them from the dead-letter queue.

    The message keeps its message_id, so a consumer that already has it in its inbox skips it."""
    if not replay_all and not message_id:
        raise ValueError("give a message id or ask for all")
    replayed = []
    connection = _blocking(admin_url)
    try:
        for queue in _dead_letter_queues(queues):
            channel = connection.channel()
            channel.confirm_delivery()
            while True:
                method, properties, body = channel.basic_get(queue + ".dead", auto_ack=False)
                if method is None:
                    break
                if not replay_all and properties.message_id != message_id:
                    continue  # left unacknowledged: back in the dead-letter queue when the channel closes
                headers = {k: v for k, v in (properties.headers or {}).items() if not k.startswith("x-")}
                channel.basic_publish("", queue, body, pika.BasicProperties(
                    delivery_mode=2, content_type=properties.content_type, message_id=properties.message_id,
                    correlation_id=properties.correlation_id, type=properties.type, app_id=properties.app_id,
                    headers=headers or None), mandatory=True)
                channel.basic_ack(method.delivery_tag)
                replayed.append(_describe(queue, method, properties, body))
            channel.close()
    finally:
        connection.close()
    return replayed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.bus.admin", description=__doc__.split("\n")[0])
    parser.add_argument("--node", help="rabbitmqctl -n NODE (default: the local broker)")
    sub = parser.add_subparsers(dest="command", required=True)
    p_render = sub.add_parser("render", help="write deploy/rabbitmq/definitions.json from shared/bus/topology.py")
    p_render.add_argument("--output", type=Path, default=DEFINITIONS_FILE)
    p_apply = sub.add_parser("apply", help="import the topology into the broker (passwords from <SVC>_AMQP_PASSWORD)")
    p_apply.add_argument("--vhost", default=topology.DEFAULT_VHOST)
    p_apply.add_argument("--user-prefix", default="")
    p_apply.add_argument("--admin-user", default="guest",
                         help="existing operator user given full rights in the vhost (for the dead-letter CLI); "
                              "'' for none")
    p_office = sub.add_parser("office-user", help="broker users for offices that run their own instance")
    office_sub = p_office.add_subparsers(dest="action", required=True)
    p_add = office_sub.add_parser("add", help="create (or update) the user; its topic permission is office.<office>.…")
    p_add.add_argument("office")
    p_add.add_argument("--service", help="the service the office runs (it may then read that service's queues)")
    p_add.add_argument("--password", help="default: env OFFICE_AMQP_PASSWORD, else a fresh one (printed)")
    p_add.add_argument("--vhost", default=topology.DEFAULT_VHOST)
    p_add.add_argument("--user-prefix", default="")
    p_delete = sub.add_parser("delete-vhost", help="delete a vhost and the users with a prefix")
    p_delete.add_argument("vhost")
    p_delete.add_argument("--user-prefix", default="")
    args = parser.parse_args(argv)
    try:
        if args.command == "render":
            print(f"wrote {render(args.output)}")
        elif args.command == "apply":
            apply(args.vhost, args.user_prefix, node=args.node, admin_user=args.admin_user or None)
            print(f"applied topology to vhost {args.vhost!r} (users prefixed {args.user_prefix!r})")
        elif args.command == "office-user":
            given = args.password or os.environ.get("OFFICE_AMQP_PASSWORD")
            password = given or secrets.token_urlsafe(18)
            name = add_office_user(args.office, args.vhost, password, args.service, args.user_prefix, node=args.node)
            print(f"broker user {name!r} may publish only office.{args.office}.… in vhost {args.vhost!r}")
            if not given:
                print(f"password: {password}")
        elif args.command == "delete-vhost":
            delete_vhosts([args.vhost], [args.user_prefix], node=args.node)
            print(f"deleted vhost {args.vhost!r}" + (f" and users {args.user_prefix}*" if args.user_prefix else ""))
    except (AdminError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
