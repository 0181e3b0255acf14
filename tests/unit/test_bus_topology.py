"""The broker topology as code: the committed definitions file, topic permissions, office users."""
import json
import re

import pytest

from shared.bus import admin, topology


def test_committed_definitions_file_is_the_rendered_topology():
    committed = json.loads(admin.DEFINITIONS_FILE.read_text())
    assert committed == json.loads(admin.render_json(topology.render_definitions())), \
        "deploy/rabbitmq/definitions.json is stale: run `python -m shared.bus.admin render`"


def test_every_consumer_queue_is_quorum_with_a_dead_letter_policy():
    definitions = topology.render_definitions()
    queues = {q["name"]: q for q in definitions["queues"]}
    policies = {p["pattern"]: p["definition"] for p in definitions["policies"]}
    for q in topology.QUEUES:
        assert queues[q.name]["arguments"]["x-queue-type"] == "quorum"
        assert queues[q.dead_letter_queue]["arguments"]["x-queue-type"] == "quorum"
        policy = policies["^" + re.escape(q.name) + "$"]
        assert policy["dead-letter-exchange"] == topology.DEAD_LETTER_EXCHANGE
        assert policy["dead-letter-routing-key"] == q.name
        assert policy["delivery-limit"] == topology.DELIVERY_LIMIT


@pytest.mark.parametrize("user,key,allowed", [
    ("intake", "office.kristiansand.case.closed", True),
    ("intake", "office.kristiansand.consent.granted", False),
    ("consent", "office.bergen-vest.consent.granted", True),
    ("consent", "office.bergen-vest.case.closed", False),
    ("registry", "office.kristiansand.case.closed", False),
    ("notify", "office.kristiansand.consent.granted", False),
])
def test_service_topic_permission_admits_only_its_family(user, key, allowed):
    assert bool(re.search(topology.service_topic_pattern(user), key)) is allowed


@pytest.mark.parametrize("key,allowed", [
    ("office.kristiansand.case.closed", True),
    ("office.kristiansand.consent.granted", True),
    ("office.kristiansandx.case.closed", False),
    ("office.bergen-vest.case.closed", False),
    ("office.kristiansand", False),
])
def test_office_user_topic_permission_admits_only_its_office(key, allowed):
    name, definitions = admin.office_user_definitions("kristiansand", password="pw", service="intake")
    assert name == "intake-office-kristiansand"
    pattern = definitions["topic_permissions"][0]["write"]
    assert bool(re.search(pattern, key)) is allowed
    assert definitions["permissions"][0]["configure"] == "^$"


def test_office_codes_are_validated_before_reaching_the_broker():
    with pytest.raises(ValueError):
        admin.office_user_definitions("Kristiansand; rm -rf /", password="pw")
    with pytest.raises(ValueError):
        admin._erlang_binary_list(['a">>, evil'])


def test_password_hash_is_rabbitmq_sha256_format():
    import base64
    import hashlib
    encoded = topology.rabbit_password_hash("secret", b"salt")
    raw = base64.b64decode(encoded)
    assert raw[:4] == b"salt" and raw[4:] == hashlib.sha256(b"salt" + b"secret").digest()
