"""The broker itself refuses a publish outside a user's routing keys (topic permissions), not just our code."""
import pika
import pytest

from shared.bus import admin, topology
from tests.fixtures.broker import publish_confirmed


def publish(url, routing_key, user_id=None, exchange=topology.EXCHANGE):
    """Publish one confirmed, mandatory message; returns None if accepted, else the broker's channel-close exception."""
    return publish_confirmed(url, routing_key, user_id, exchange, mandatory=True)


@pytest.fixture
def office_user(bus_vhost):
    """Kristiansand runs its own intake: its broker user, made by the same code as the admin CLI."""
    name = bus_vhost.add_office_user("kristiansand", "kristiansand-secret", service="intake")
    return name, bus_vhost.url(name, "kristiansand-secret")


def test_office_user_may_publish_its_own_office(office_user):
    name, url = office_user
    assert publish(url, "office.kristiansand.case.closed", user_id=name) is None


@pytest.mark.parametrize("routing_key", ["office.bergen-vest.case.closed", "office.kristiansandx.case.closed",
                                         "office.drammen.consent.granted"])
def test_office_user_is_refused_outside_its_office_by_the_broker(office_user, routing_key):
    name, url = office_user
    refused = publish(url, routing_key, user_id=name)
    assert isinstance(refused, pika.exceptions.ChannelClosedByBroker)
    assert refused.reply_code == 403 and refused.reply_text.startswith("ACCESS_REFUSED")
    assert routing_key in refused.reply_text


def test_service_user_is_refused_another_family(bus_vhost):
    assert publish(bus_vhost.url("intake"), "office.kristiansand.case.closed", user_id=bus_vhost.user("intake")) is None
    refused = publish(bus_vhost.url("intake"), "office.kristiansand.consent.granted", user_id=bus_vhost.user("intake"))
    assert refused.reply_code == 403 and "ACCESS_REFUSED" in refused.reply_text
    refused = publish(bus_vhost.url("registry"), "office.kristiansand.case.closed")
    assert refused.reply_code == 403


def test_a_forged_user_id_is_refused(bus_vhost):
    refused = publish(bus_vhost.url("probe"), "office.kristiansand.bus.probe", user_id=bus_vhost.user("intake"))
    assert refused.reply_code == 406 and "PRECONDITION_FAILED" in refused.reply_text
    assert "user_id property" in refused.reply_text


def test_service_users_cannot_bypass_the_topic_exchange(bus_vhost):
    """No write on the default or dead-letter exchange: a queue cannot be fed around the topic permissions."""
    refused = publish(bus_vhost.url("intake"), "bus.probe", exchange="")
    assert refused.reply_code == 403
    refused = publish(bus_vhost.url("intake"), "bus.probe", exchange=topology.DEAD_LETTER_EXCHANGE)
    assert refused.reply_code == 403


def test_office_user_cli_creates_the_user(bus_vhost, capsys):
    code = admin.main(["office-user", "add", "bergen-vest", "--vhost", bus_vhost.vhost, "--user-prefix",
                       bus_vhost.user_prefix, "--password", "bv-secret"])
    assert code == 0
    name = bus_vhost.user("office-bergen-vest")
    assert f"'{name}'" in capsys.readouterr().out
    url = bus_vhost.url(name, "bv-secret")
    assert publish(url, "office.bergen-vest.case.closed", user_id=name) is None
    assert publish(url, "office.kristiansand.case.closed", user_id=name).reply_code == 403
    assert admin.main(["office-user", "add", "Not An Office", "--vhost", bus_vhost.vhost]) == 1
