"""Benchmark of the bus (a command, not a test): relay publish rate and consumer processing rate, each beside
the raw pika baseline from ../shared/bench measured in the same run, as a ratio.

    .venv/bin/python bench/bench_bus.py [--events 20000] [--database postgresql|sqlite]

- baseline_bus.py: publish with one synchronous confirm per message, then consume + ack (prefetch 100),
  quorum queue; baseline_bus_async.py: pipelined confirms (window 500), quorum queue. Both run unchanged as
  subprocesses against the machine's broker.
- relay: N outbox rows on a fresh PostgreSQL database, one relay (`relay_pending`: claim, publish persistent +
  mandatory with pipelined confirms, mark sent) into the bus.probe quorum queue of a throwaway vhost. Each row is
  a bus.probe envelope padded to the size of a real `case.contact_logged` envelope (the commonest event), so the
  relay carries what a service's relay carries (the baselines publish a smaller body: see the printed sizes).
- consumer: the same N messages through the idempotent consumer (`drain`): decode + validate each envelope,
  inbox row + one effect row per message, one transaction per batch, commit, then ack(multiple).
- the relay's message, raw: the pipelined baseline's publisher, in this file, sending what the relay sends (topic
  exchange, four properties, mandatory, the same body size): the part of the gap that is the message, not the relay.
Targets (issue #2): relay >= 0.5 x pipelined-confirm baseline; consumer >= 0.4 x consume+ack baseline.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fixtures.db import create_pg_database  # noqa: E402

BASELINES = REPO.parent / "shared" / "bench"


def run_baseline(script: str, events: int, timeout: float = 600) -> dict[str, float]:
    """Run a baseline script unchanged. baseline_bus_async.py never stops its ioloop after printing, so read
    its output unbuffered and end it once the figures are out."""
    process = subprocess.Popen([sys.executable, "-u", str(BASELINES / script), str(events)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + timeout
    try:
        for line in process.stdout:
            figures = {key: float(value) for key, value in re.findall(r"(\w+_per_s)=([\d.]+)", line)}
            if figures:
                return figures
            if time.monotonic() > deadline:
                break
        raise RuntimeError(f"{script} printed no figures")
    finally:
        if process.poll() is None:
            try:
                process.wait(2)
            except subprocess.TimeoutExpired:
                process.terminate()
                process.wait(10)
        process.stdout.close()


def pipelined_publish_of_relay_shape(events: int, body_size: int, window: int = 500) -> float:
    """The shared pipelined baseline with one change: the message the relay sends. A body of the relay's size, its
    four properties (persistent, message id, correlation id, user id), to a topic exchange (topic permissions,
    which keep each office's keys apart, are checked on topic exchanges only) with `mandatory`, bound to a quorum
    queue. Plain pika, nothing of ours: the raw limit for this message, so the relay's own cost shows apart from
    what the message costs the broker."""
    import pika
    exchange, queue, key = "bl.shape", "bl.shape.q", "office.kristiansand.case.contact_logged"
    body = b"x" * body_size
    # Made before the clock starts: the relay reads its ids from the outbox rows.
    properties = [pika.BasicProperties(delivery_mode=2, message_id=str(uuid.uuid4()),
                                       correlation_id=str(uuid.uuid4()), user_id="guest") for _ in range(events)]
    state = {"sent": 0, "acked": 0, "started": 0.0, "seconds": None}

    def on_open(connection):
        connection.channel(on_open_callback=on_channel)

    def on_channel(channel):
        state["channel"] = channel
        channel.exchange_declare(exchange, "topic", durable=True, callback=lambda _: channel.queue_delete(
            queue, callback=lambda _: channel.queue_declare(
                queue, durable=True, arguments={"x-queue-type": "quorum"}, callback=lambda _: channel.queue_bind(
                    queue, exchange, "office.*.#", callback=lambda _: channel.confirm_delivery(
                        on_ack, callback=lambda _: start(channel))))))

    def start(channel):
        state["started"] = time.perf_counter()
        pump(channel)

    def pump(channel):
        while state["sent"] < events and state["sent"] - state["acked"] < window:
            channel.basic_publish(exchange, key, body, properties[state["sent"]], mandatory=True)
            state["sent"] += 1

    def on_ack(frame):
        state["acked"] = frame.method.delivery_tag if frame.method.multiple else state["acked"] + 1
        if state["acked"] >= events:
            state["seconds"] = time.perf_counter() - state["started"]
            channel = state["channel"]
            channel.queue_delete(queue, callback=lambda _: channel.exchange_delete(
                exchange, callback=lambda _: channel.connection.close()))
            return
        pump(state["channel"])

    connection = pika.SelectConnection(pika.URLParameters("amqp://guest:guest@127.0.0.1:5672/%2F"),
                                       on_open_callback=on_open, on_close_callback=lambda *_: connection.ioloop.stop())
    connection.ioloop.start()
    if state["seconds"] is None:
        raise RuntimeError("the same-shape baseline did not finish")
    return events / state["seconds"]


def make_database(kind: str, tmp: Path):
    if kind == "sqlite":
        return f"sqlite:///{tmp}/bench.db", lambda: None
    return create_pg_database("bench_")


def realistic_padding() -> tuple[str, int]:
    """Padding that makes a probe envelope as long as a real case.contact_logged envelope; and that length."""
    import datetime

    from shared.bus.envelope import encode, make_envelope
    from shared.vocab import codes

    def length(event_type, payload):
        return len(encode(make_envelope(event_type, "kristiansand", payload, producer="intake")))
    real = length("case.contact_logged", {
        "case_id": uuid.uuid4(), "contact_id": uuid.uuid4(), "revision": 1, "contact_date": datetime.date(2026, 11, 20),
        "party": codes("party")[0], "form": codes("contact_form")[0], "minutes": 45, "deleted": False})
    bare = length("bus.probe", {"sequence": 10000, "padding": ""})
    return "x" * max(0, real - bare), real


def measure_bus(events: int, database: str, window: int | None, batch: int | None, consumer_batch: int | None):
    from shared import migrations
    from shared.bus import admin, probe, topology
    from shared.bus.consumer import drain
    from shared.bus.relay import relay_pending
    from shared.config import load_settings
    from shared.platform import Platform, new_metadata, platform_tables

    tag = uuid.uuid4().hex[:8]
    vhost, prefix = f"bench-{tag}", f"bench{tag}-"
    admin.apply(vhost, prefix, passwords={u: topology.dev_password(u) for u in topology.broker_users()})
    tmp = Path(tempfile.mkdtemp(prefix="bench-bus-"))
    url, drop = make_database(database, tmp)
    platform = None
    try:
        amqp = f"amqp://{prefix}probe:probe-dev@127.0.0.1:5672/{vhost}"
        env = {"DATA_DIR": str(tmp), "INTAKE_DATABASE_URL": url, "INTAKE_AMQP_URLS": amqp, "LOG_LEVEL": "WARNING"}
        migrations.upgrade("intake", url)
        platform = Platform(load_settings("intake", env=env), platform_tables(new_metadata()))
        probe.install(platform)
        padding, _size = realistic_padding()
        probe.produce(platform, events, padding=padding)
        if database == "postgresql":  # what autovacuum does within a minute of a burst of inserts
            from sqlalchemy import text
            with platform.engine.begin() as conn:
                conn.execute(text("ANALYZE outbox"))

        started = time.perf_counter()
        sent = relay_pending(platform, window=window, batch=batch)
        relay_seconds = time.perf_counter() - started
        assert sent == events, f"relay sent {sent} of {events}"

        stats = drain(platform, probe.probe_spec(), idle_seconds=1.0, batch=consumer_batch)
        assert stats.processed == events, f"consumer processed {stats.processed} of {events}"
        assert len(probe.effect_counts(platform)) == events
        consume_seconds = stats.last_at - stats.first_at
        return events / relay_seconds, events / consume_seconds
    finally:
        if platform is not None:
            platform.engine.dispose()
        drop()
        admin.delete_vhosts([vhost], [prefix])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--window", type=int, default=None, help="relay window (default: the relay's own)")
    parser.add_argument("--batch", type=int, default=None, help="relay claim batch")
    parser.add_argument("--consumer-batch", type=int, default=None)
    args = parser.parse_args(argv)
    import logging
    logging.basicConfig(level=logging.WARNING)

    sync = run_baseline("baseline_bus.py", args.events)
    pipelined = run_baseline("baseline_bus_async.py", args.events)
    message_bytes = realistic_padding()[1]
    shape_base = pipelined_publish_of_relay_shape(args.events, message_bytes)
    relay_rate, consumer_rate = measure_bus(args.events, args.database, args.window, args.batch, args.consumer_batch)

    relay_base = pipelined["pipelined_publish_confirmed_per_s"]
    consume_base = sync["consume_acked_per_s"]
    relay_ratio, consumer_ratio = relay_rate / relay_base, consumer_rate / consume_base
    baseline_bytes = len(json.dumps({"case_id": "x" * 36, "office": "4201", "outcome": "fast_ansatt"}))
    print(f"events={args.events} database={args.database} message body: relay/consumer {message_bytes} "
          f"bytes (a case.contact_logged envelope) + 4 properties to a topic exchange, mandatory; "
          f"pipelined baseline {baseline_bytes} bytes + 1 property to the default exchange")
    print(f"baseline publish, one synchronous confirm each: {sync['publish_confirmed_per_s']:>8.0f} msg/s")
    print(f"baseline publish, pipelined confirms:           {relay_base:>8.0f} msg/s")
    print(f"baseline publish, pipelined, the relay's message: {shape_base:>6.0f} msg/s   (same publisher; topic "
          f"exchange, 4 properties, mandatory, {message_bytes} bytes)")
    print(f"baseline consume + ack:                         {consume_base:>8.0f} msg/s")
    print(f"relay (outbox -> broker, confirmed, marked):    {relay_rate:>8.0f} msg/s   "
          f"ratio {relay_ratio:.2f} (target >= 0.50) {'OK' if relay_ratio >= 0.5 else 'BELOW TARGET'}; "
          f"{relay_rate / shape_base:.2f} x the raw publish of its own message")
    print(f"consumer (validate, inbox + effect, ack):       {consumer_rate:>8.0f} msg/s   "
          f"ratio {consumer_ratio:.2f} (target >= 0.40) {'OK' if consumer_ratio >= 0.4 else 'BELOW TARGET'}")
    return 0 if relay_ratio >= 0.5 and consumer_ratio >= 0.4 else 1


if __name__ == "__main__":
    sys.exit(main())
