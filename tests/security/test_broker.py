"""The broker refuses every publisher outside its own routing keys, for every broker user the topology defines and
an office user; the deploy definitions have no guest; a forged user_id is refused. Real RabbitMQ, throwaway vhost."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import shared.events.case  # noqa: F401  (registers the event types)
import shared.events.consent  # noqa: F401
from shared.bus import topology
from shared.events import _REGISTRY
from tests.fixtures.broker import publish_confirmed as publish

ROOT = Path(__file__).resolve().parents[2]
FAMILIES = sorted({event_type.split(".")[0] for event_type, _v in _REGISTRY} | {"bus"})
OFFICES = ("kristiansand", "bergen-vest")


def own_families(user):
    """What each user may publish, from the product's decision (not from the permission regex under test)."""
    return {"probe": ("bus",)}.get(user, topology.PUBLISHES.get(user, ()))


@pytest.mark.parametrize("user", topology.broker_users())
def test_every_broker_user_is_refused_outside_its_own_keys(bus_vhost, user):
    name = bus_vhost.user(user)
    wrong = []
    for family in FAMILIES:
        for office in OFFICES:
            key = f"office.{office}.{family}.security-matrix"
            refused = publish(bus_vhost.url(user), key, user_id=name)
            allowed = family in own_families(user)
            if allowed and refused is not None:
                wrong.append((key, "refused", refused.reply_text))
            if not allowed and (refused is None or refused.reply_code != 403):
                wrong.append((key, "accepted", None))
    assert not wrong, f"{user}: {wrong}"


def test_office_user_is_refused_every_other_office(bus_vhost):
    name = bus_vhost.add_office_user("kristiansand", "security-secret", service="intake")
    url = bus_vhost.url(name, "security-secret")
    assert publish(url, "office.kristiansand.case.security-matrix", user_id=name) is None
    for office in ("bergen-vest", "drammen", "kristiansand2"):
        refused = publish(url, f"office.{office}.case.security-matrix", user_id=name)
        assert refused is not None and refused.reply_code == 403, office


@pytest.mark.parametrize("user", topology.broker_users())
def test_a_forged_user_id_is_refused_for_every_user(bus_vhost, user):
    other = next(u for u in topology.broker_users() if u != user)
    family = (own_families(user) or ("bus",))[0]
    refused = publish(bus_vhost.url(user), f"office.kristiansand.{family}.security-matrix",
                      user_id=bus_vhost.user(other))
    assert refused is not None and refused.reply_code in (403, 406)


def test_deploy_definitions_have_no_guest():
    definitions = json.loads((ROOT / "deploy/rabbitmq/definitions.json").read_text())
    names = {u["name"] for u in definitions.get("users", [])}
    assert "guest" not in names
    permissions = definitions.get("permissions", []) + definitions.get("topic_permissions", [])
    assert all(p["user"] != "guest" for p in permissions)
    assert names >= set(topology.broker_users())
