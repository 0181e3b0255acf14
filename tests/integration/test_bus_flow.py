"""Outbox -> relay -> real RabbitMQ (throwaway vhost) -> idempotent consumer, on SQLite and PostgreSQL."""
import json
import uuid

import pika
import pytest
from sqlalchemy import delete, func, select, update

from services.intake import tables as intake_tables
from shared.bus import probe
from shared.bus.admin import replay_dead_letters
from shared.bus.consumer import ConsumerSpec, Reject, apply_envelope, drain
from shared.bus.envelope import InvalidEvent
from shared.bus.relay import relay_pending


def outbox_state(platform):
    t = platform.tables["outbox"]
    with platform.engine.connect() as conn:
        return conn.execute(select(t.c.message_id, t.c.sent_at, t.c.attempts, t.c.last_error)).all()


def inbox_count(platform):
    t = platform.tables["inbox"]
    with platform.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(t)).scalar()


def test_an_outbox_event_takes_effect_exactly_once(probe_platform, bus_vhost):
    ids = probe.produce(probe_platform, 300)
    assert relay_pending(probe_platform) == 300
    rows = outbox_state(probe_platform)
    assert all(row.sent_at is not None and row.attempts == 0 for row in rows)
    assert relay_pending(probe_platform) == 0  # nothing is sent twice by the relay on its own

    stats = drain(probe_platform, probe.probe_spec(), idle_seconds=0.5)
    assert (stats.processed, stats.duplicate, stats.rejected) == (300, 0, 0)
    assert probe.effect_counts(probe_platform) == {mid: 1 for mid in ids}
    assert inbox_count(probe_platform) == 300
    assert bus_vhost.ready("bus.probe") == 0


def test_frames_joined_into_large_writes_arrive_intact(probe_platform, bus_vhost, monkeypatch):
    """The relay joins pika's queued frames into writes of up to 128 KiB (publisher.join_frames_before_sending). Bodies
    larger than a frame (split in several) mixed with small ones must all arrive whole and in order of their ids."""
    from shared.bus import publisher as publisher_module
    applied = []

    def spy(connection):
        applied.append(join(connection))
        return applied[-1]
    join = publisher_module.join_frames_before_sending
    monkeypatch.setattr(publisher_module, "join_frames_before_sending", spy)
    large = probe.produce(probe_platform, 6, padding="L" * 300_000)  # > 2 frames of 128 KiB each
    small = probe.produce(probe_platform, 400, start=6)
    assert relay_pending(probe_platform) == 406
    assert applied and all(applied), "pika's transport changed: frames are no longer joined (slower, still correct)"

    stats = drain(probe_platform, probe.probe_spec(), idle_seconds=0.5)
    assert (stats.processed, stats.rejected) == (406, 0)  # a spliced frame would fail to decode and be rejected
    assert probe.effect_counts(probe_platform) == {mid: 1 for mid in large + small}


def test_the_same_message_delivered_three_times_has_one_effect(probe_platform, bus_vhost):
    ids = probe.produce(probe_platform, 20)
    outbox = probe_platform.tables["outbox"]
    for _ in range(3):  # as if the relay died after publishing, before marking sent: published again
        with probe_platform.engine.begin() as conn:
            conn.execute(update(outbox).values(sent_at=None))
        assert relay_pending(probe_platform) == 20
    assert bus_vhost.ready("bus.probe") == 60

    stats = drain(probe_platform, probe.probe_spec(), idle_seconds=0.5)
    assert (stats.processed, stats.duplicate) == (20, 40)
    assert probe.effect_counts(probe_platform) == {mid: 1 for mid in ids}


def test_published_properties_let_the_broker_and_consumers_check(probe_platform, bus_vhost):
    [message_id] = probe.produce(probe_platform, 1)
    relay_pending(probe_platform)
    connection = pika.BlockingConnection(pika.URLParameters(bus_vhost.admin_url))
    try:
        method, properties, body = connection.channel().basic_get("bus.probe", auto_ack=True)
    finally:
        connection.close()
    assert method.routing_key == "office.kristiansand.bus.probe"
    assert properties.message_id == message_id and properties.delivery_mode == 2
    assert properties.user_id == bus_vhost.user("probe")
    envelope = json.loads(body)
    assert envelope["message_id"] == message_id and envelope["payload"] == {"sequence": 0}
    assert properties.correlation_id == envelope["correlation_id"]
    # Nothing else travels as a property: the envelope names type, producer and time (fewer bytes per publish).
    assert (properties.type, properties.app_id, properties.content_type, properties.timestamp) == (None,) * 4
    assert (envelope["type"], envelope["producer"]) == ("bus.probe", "intake")


def test_a_refused_publish_stays_unsent_and_is_retried_later(bus_vhost, db_url, platform_factory):
    """The intake user may not publish bus.* keys: the broker closes the channel, the row is kept with its error."""
    platform = platform_factory("intake", intake_tables.all_tables(), db_url, env=bus_vhost.env("intake"))
    probe.produce(platform, 3)
    assert relay_pending(platform) == 0
    rows = outbox_state(platform)
    assert len(rows) == 3
    assert all(row.sent_at is None and row.attempts == 1 and "ACCESS_REFUSED" in row.last_error for row in rows)
    assert relay_pending(platform) == 0  # in backoff: not retried at once
    assert bus_vhost.ready("bus.probe") == 0


def test_an_unroutable_event_is_returned_and_not_marked_sent(bus_vhost, db_url, platform_factory):
    """mandatory=True: with the queue gone, the broker returns the message; the row stays unsent."""
    platform = platform_factory("intake", intake_tables.all_tables(), db_url, env=bus_vhost.env("intake", "probe"))
    bus_vhost.dirty = True  # its topology is changed below
    connection = pika.BlockingConnection(pika.URLParameters(bus_vhost.admin_url))
    try:
        connection.channel().queue_unbind("bus.probe", "hybrid.events", "office.*.bus.probe")
    finally:
        connection.close()
    probe.produce(platform, 2)
    assert relay_pending(platform) == 0
    rows = outbox_state(platform)
    assert all(row.sent_at is None and row.attempts == 1 and "NO_ROUTE" in row.last_error for row in rows)


def test_poison_messages_go_to_the_dead_letter_queue_without_holding_up_the_rest(probe_platform, bus_vhost):
    good = probe.produce(probe_platform, 40)
    probe.produce(probe_platform, 1, start=40, fail="reject")
    probe.produce(probe_platform, 1, start=41, fail="error")
    good += probe.produce(probe_platform, 40, start=42)
    assert relay_pending(probe_platform) == 82
    publish_raw(bus_vhost, b'{"not": "an envelope"}', message_id="raw-invalid-1")

    stats = drain(probe_platform, probe.probe_spec(), idle_seconds=0.5)
    assert (stats.processed, stats.rejected) == (80, 3)
    assert probe.effect_counts(probe_platform) == {mid: 1 for mid in good}
    assert inbox_count(probe_platform) == 80  # a rejected message leaves no inbox row: a replay runs again
    assert bus_vhost.ready("bus.probe.dead") == 3


def publish_raw(bus_vhost, body, message_id, routing_key="office.kristiansand.bus.probe"):
    connection = pika.BlockingConnection(pika.URLParameters(bus_vhost.url("probe")))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish("hybrid.events", routing_key, body, pika.BasicProperties(
            message_id=message_id, delivery_mode=2, user_id=bus_vhost.user("probe")), mandatory=True)
    finally:
        connection.close()


def rejections(platform):
    with platform.engine.connect() as conn:
        return {row.message_id: row for row in conn.execute(select(probe.probe_metadata.tables["rejected_messages"]))}


def test_dead_letter_cli_lists_and_replays(probe_platform, bus_vhost):
    from shared.web import create_service_app

    good = probe.produce(probe_platform, 10)
    [buggy] = probe.produce(probe_platform, 1, start=10, fail="error")
    [poison] = probe.produce(probe_platform, 1, start=11, fail="reject")
    relay_pending(probe_platform)
    publish_raw(bus_vhost, b"\xff not json", message_id="raw-invalid-2")
    stats = drain(probe_platform, probe.probe_spec(), idle_seconds=0.5)
    assert (stats.processed, stats.rejected) == (10, 3)
    # Kept by the consumer although the batch's work for these messages was rolled back.
    kept = rejections(probe_platform)
    assert {mid: (row.consumer, row.event_type, row.reason, row.case_id) for mid, row in kept.items()} == {
        buggy: ("bus.probe", "bus.probe", "handler error: RuntimeError", None),
        poison: ("bus.probe", "bus.probe", "probe asked to be rejected", None),
        "raw-invalid-2": ("bus.probe", None, "invalid: body", None)}

    app = create_service_app("intake", __name__, probe_platform.tables, settings=probe_platform.settings,
                             platform=probe_platform)  # the platform base every service's CLI has
    app.extensions["consumer_spec"] = probe.probe_spec()  # the service's consumer, as its app factory sets it
    runner = app.test_cli_runner()
    admin = ["--queue", "bus.probe", "--admin-url", bus_vhost.admin_url]
    listed = runner.invoke(args=["bus", "dead-letters", *admin])
    assert listed.exit_code == 0, listed.output
    lines = sorted(line.split("\t") for line in listed.stdout.splitlines())
    # The consumer's reason, not the broker's bare "rejected".
    assert sorted((line[1], line[2], line[3], line[4]) for line in lines) == sorted([
        (buggy, "bus.probe", "kristiansand", "rejected: handler error: RuntimeError"),
        (poison, "bus.probe", "kristiansand", "rejected: probe asked to be rejected"),
        ("raw-invalid-2", "None", "None", "rejected: invalid: body")])
    assert bus_vhost.ready("bus.probe.dead") == 3  # listing consumed nothing
    assert inbox_count(probe_platform) == 10 and probe.effect_counts(probe_platform) == {mid: 1 for mid in good}

    # The operator fixes the bug (here: a handler that no longer fails): the listing still says why the consumer
    # rejected it then (the listing runs no handler), and the replay clears that reason.
    fixed = ConsumerSpec("bus.probe", {"bus.probe": lambda conn, env, platform: probe.handle_probe(
        conn, {**env, "payload": {**env["payload"], "fail": None}}, platform)})
    app.extensions["consumer_spec"] = fixed
    relisted = runner.invoke(args=["bus", "dead-letters", *admin]).stdout
    assert f"{buggy}\tbus.probe\tkristiansand\trejected: handler error: RuntimeError" in relisted
    replayed = runner.invoke(args=["bus", "replay", "--message-id", buggy, *admin])
    assert replayed.exit_code == 0, replayed.output
    assert f"replayed {buggy}" in replayed.stdout
    assert bus_vhost.ready("bus.probe.dead") == 2
    assert set(rejections(probe_platform)) == {poison, "raw-invalid-2"}
    stats = drain(probe_platform, fixed, idle_seconds=0.5)
    assert stats.processed == 1
    assert probe.effect_counts(probe_platform) == {mid: 1 for mid in good + [buggy]}

    missing = runner.invoke(args=["bus", "replay", "--message-id", str(uuid.uuid4()), *admin])
    assert missing.exit_code != 0 and "no dead letter" in missing.output
    both = runner.invoke(args=["bus", "replay", *admin])
    assert both.exit_code != 0 and "exactly one of" in both.output
    assert bus_vhost.ready("bus.probe.dead") == 2

    # A dead letter from before the consumer kept reasons says so; another service's queue points to its owner.
    with probe_platform.engine.begin() as conn:
        conn.execute(delete(probe.probe_metadata.tables["rejected_messages"]))
    unrecorded = runner.invoke(args=["bus", "dead-letters", *admin]).stdout
    assert f"{poison}\tbus.probe\tkristiansand\trejected (no reason recorded)" in unrecorded
    app.extensions["consumer_spec"] = ConsumerSpec("notify.schedule", {})
    foreign = runner.invoke(args=["bus", "dead-letters", *admin]).stdout
    assert f"{poison}\tbus.probe\tkristiansand\trejected (the reason is with probe: its bus dead-letters)" in foreign


def test_a_rejected_message_is_kept_again_when_replayed_and_rejected_again(probe_platform, bus_vhost):
    """A rejection replaces the message's earlier one (a redelivery after a lost reject, or a replay that fails)."""
    [poison] = probe.produce(probe_platform, 1, fail="reject")
    relay_pending(probe_platform)
    assert drain(probe_platform, probe.probe_spec(), idle_seconds=0.5).rejected == 1
    first = rejections(probe_platform)[poison].rejected_at
    assert [r["message_id"] for r in replay_dead_letters(bus_vhost.admin_url, ["bus.probe"], poison)] == [poison]
    assert drain(probe_platform, probe.probe_spec(), idle_seconds=0.5).rejected == 1
    again = rejections(probe_platform)
    assert list(again) == [poison] and again[poison].rejected_at >= first


def test_an_invalid_message_names_only_contract_fields(probe_platform, bus_vhost):
    """The reason is logged and kept: a key the sender made up (it may hold anything) is counted, not quoted."""
    with probe_platform.engine.begin() as conn:
        envelope = probe_platform.emit(conn, "bus.probe", "kristiansand", {"sequence": 1})
    hostile = {**envelope, "message_id": str(uuid.uuid4()), "Ola Nordmann 01017012345": 1}
    publish_raw(bus_vhost, json.dumps(hostile).encode(), message_id="raw-invalid-3")
    assert drain(probe_platform, probe.probe_spec(), idle_seconds=0.5).rejected == 1
    assert rejections(probe_platform)["raw-invalid-3"].reason == "invalid: 1 unknown field(s)"


def test_apply_envelope_runs_a_handler_once_without_a_broker(probe_platform):
    with probe_platform.engine.begin() as conn:
        envelope = probe_platform.emit(conn, "bus.probe", "kristiansand", {"sequence": 7})
    spec = probe.probe_spec()
    assert apply_envelope(probe_platform, spec, envelope) == "processed"
    assert apply_envelope(probe_platform, spec, envelope) == "duplicate"
    assert probe.effect_counts(probe_platform) == {envelope["message_id"]: 1}
    another = {**envelope, "message_id": str(uuid.uuid4())}
    assert apply_envelope(probe_platform, ConsumerSpec("bus.probe", {}), another) == "ignored"

    with probe_platform.engine.begin() as conn:
        poison = probe_platform.emit(conn, "bus.probe", "kristiansand", {"sequence": 8, "fail": "reject"})
    with pytest.raises(Reject):
        apply_envelope(probe_platform, spec, poison)
    assert inbox_count(probe_platform) == 1  # the rejected one left nothing behind
    with pytest.raises(InvalidEvent):
        apply_envelope(probe_platform, spec, {**envelope, "payload": {"sequence": "seven"}})
