"""Broker topology as code: the one place that says which exchange, queues, bindings, users and permissions
exist. `deploy/rabbitmq/definitions.json` is rendered from here (`python -m shared.bus.admin render`) and a test
checks that the committed file matches.

Routing keys are `office.<office>.<type>`. Each service publishes with its own broker user whose topic
permission admits only its own event family; an office that runs its own instance of a service gets a user
whose topic permission admits only `office.<that office>.`.
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass

EXCHANGE = "hybrid.events"
DEAD_LETTER_EXCHANGE = "hybrid.dead"
DEFAULT_VHOST = "hybrid"
DELIVERY_LIMIT = 20  # a message that kills its consumer this many times is poison: dead-lettered, not retried forever


@dataclass(frozen=True)
class ConsumerQueue:
    name: str  # also the consumer's name in its inbox table
    service: str
    bindings: tuple[str, ...]

    @property
    def dead_letter_queue(self):
        return self.name + ".dead"


# Which event families each service publishes (topic permission on the exchange, as a regex on the key).
PUBLISHES = {
    "intake": ("case",),
    "consent": ("consent",),
    "registry": (),
    "notify": (),
}

QUEUES = (
    ConsumerQueue("consent.cases", "consent", ("office.*.case.opened", "office.*.case.parties_changed",
                                                "office.*.case.closed", "office.*.case.corrected",
                                                "office.*.case.erased")),
    ConsumerQueue("registry.ingest", "registry", ("office.*.case.closed", "office.*.case.corrected",
                                                  "office.*.case.project_end_status", "office.*.case.erased",
                                                  "office.*.consent.#")),
    ConsumerQueue("notify.schedule", "notify", ("office.*.case.#", "office.*.consent.#")),
    ConsumerQueue("bus.probe", "probe", ("office.*.bus.probe",)),  # the bus's own tests and benchmark
)


def queue(name: str) -> ConsumerQueue:
    for q in QUEUES:
        if q.name == name:
            return q
    raise KeyError(name)


def queues_of(service: str):
    return [q for q in QUEUES if q.service == service]


def service_topic_pattern(service: str) -> str:
    families = PUBLISHES.get(service, ())
    if service == "probe":
        families = ("bus",)
    if not families:
        return "^$"  # publishes nothing
    return r"^office\.[a-z0-9-]+\.(" + "|".join(families) + r")\..+$"


def office_topic_pattern(office: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,40}", office):
        raise ValueError(f"bad office code {office!r}")
    return r"^office\." + office.replace("-", r"\-") + r"\..+$"


def rabbit_password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password))."""
    salt = salt if salt is not None else os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def broker_users():
    """Service users (and the probe user of the bus's tests). Each reads only its own queues."""
    return ["intake", "consent", "registry", "notify", "probe"]


def dev_password(user: str) -> str:
    return f"{user}-dev"


def render_definitions(vhost: str = DEFAULT_VHOST, user_prefix: str = "", passwords: dict | None = None,
                       salt: bytes | None = b"hyb1") -> dict:
    """Broker definitions for one vhost. A fixed salt keeps the committed dev file stable; production
    passes real passwords (and a random salt) through `python -m shared.bus.admin apply`."""
    passwords = passwords or {}
    users, permissions, topic_permissions = [], [], []
    for user in broker_users():
        name = user_prefix + user
        password_hash = rabbit_password_hash(passwords.get(user, dev_password(user)), salt)
        users.append({"name": name, "password_hash": password_hash,
                      "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": []})
        own_queues = [re.escape(q.name) for q in QUEUES if q.service == user]
        read = "^(" + "|".join(own_queues) + r")$" if own_queues else "^$"
        publishes = PUBLISHES.get(user) or user == "probe"
        permissions.append({"user": name, "vhost": vhost, "configure": "^$",
                            "write": "^" + re.escape(EXCHANGE) + "$" if publishes else "^$", "read": read})
        topic_permissions.append({"user": name, "vhost": vhost, "exchange": EXCHANGE,
                                  "write": service_topic_pattern(user), "read": ".*"})
    queues, bindings, policies = [], [], []
    for q in QUEUES:
        for name in (q.name, q.dead_letter_queue):
            queues.append({"name": name, "vhost": vhost, "durable": True, "auto_delete": False,
                           "arguments": {"x-queue-type": "quorum"}})
        for key in q.bindings:
            bindings.append({"source": EXCHANGE, "vhost": vhost, "destination": q.name, "destination_type": "queue",
                             "routing_key": key, "arguments": {}})
        bindings.append({"source": DEAD_LETTER_EXCHANGE, "vhost": vhost, "destination": q.dead_letter_queue,
                         "destination_type": "queue", "routing_key": q.name, "arguments": {}})
        policies.append({"vhost": vhost, "name": "dlx-" + q.name, "pattern": "^" + re.escape(q.name) + "$",
                         "apply-to": "queues", "priority": 10,
                         "definition": {"dead-letter-exchange": DEAD_LETTER_EXCHANGE,
                                        "dead-letter-routing-key": q.name, "delivery-limit": DELIVERY_LIMIT}})
    return {
        "rabbit_version": "3.10.8",
        "vhosts": [{"name": vhost}],
        "users": users,
        "permissions": permissions,
        "topic_permissions": topic_permissions,
        "exchanges": [
            {"name": EXCHANGE, "vhost": vhost, "type": "topic", "durable": True, "auto_delete": False,
             "internal": False, "arguments": {}},
            {"name": DEAD_LETTER_EXCHANGE, "vhost": vhost, "type": "direct", "durable": True, "auto_delete": False,
             "internal": False, "arguments": {}},
        ],
        "queues": queues,
        "bindings": bindings,
        "policies": policies,
    }
