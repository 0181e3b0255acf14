"""The bus's own probe: a tiny effect table and a `bus.probe` consumer, for the bus's tests and benchmark.

It borrows a service's settings (database, broker addresses; default "intake") and publishes and consumes as
the `probe` broker user on the `bus.probe` queue, so it exercises exactly the code paths services use:

    python -m shared.bus.probe produce N [--office kristiansand]   # N events into the outbox, one transaction
    python -m shared.bus.probe relay                               # the outbox relay (until SIGTERM)
    python -m shared.bus.probe consume                             # the consumer (until SIGTERM)
    python -m shared.bus.probe drain [--idle 1.0]                  # consume until idle, print counts

The effect table deliberately has no unique key on message_id: a duplicate effect would show as two rows.
A probe payload `fail="reject"` makes the handler Reject (poison message); `fail="error"` raises a bug.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, func, select

from shared.config import load_settings
from shared.db import UTCDateTime
from shared.logs import configure_logging
from shared.platform import Platform, new_metadata, platform_tables

from .consumer import ConsumerSpec, Reject, drain, run_consumer
from .relay import run_relay
from .store import define_rejections_table

PROBE_QUEUE = "bus.probe"
probe_metadata = MetaData()
probe_effects = Table(
    "bus_probe_effect", probe_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("message_id", String(36), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("office", String(50), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
)
define_rejections_table(probe_metadata)  # where the consumer keeps its reasons; a host such as intake consumes nothing


def handle_probe(conn, envelope, platform):
    payload = envelope["payload"]
    if payload.get("fail") == "reject":
        raise Reject("probe asked to be rejected")
    if payload.get("fail") == "error":
        raise RuntimeError("probe asked for a bug")
    conn.execute(probe_effects.insert().values(message_id=envelope["message_id"], sequence=payload["sequence"],
                                               office=envelope["office"], occurred_at=envelope["occurred_at"]))


def handle_probes(conn, envelopes, platform):
    """The same effect for many messages in one statement (the consumer's batch path)."""
    for envelope in envelopes:
        if envelope["payload"].get("fail"):
            handle_probe(conn, envelope, platform)  # raises: the consumer retries one by one
    conn.execute(probe_effects.insert(), [
        {"message_id": e["message_id"], "sequence": e["payload"]["sequence"], "office": e["office"],
         "occurred_at": e["occurred_at"]} for e in envelopes])


def probe_spec(delay_ms: float | None = None) -> ConsumerSpec:
    """Fault tests slow the handler (PROBE_HANDLER_DELAY_MS) so that a kill lands inside a batch's transaction."""
    delay = (float(os.environ.get("PROBE_HANDLER_DELAY_MS", "0")) if delay_ms is None else delay_ms) / 1000
    if not delay:
        return ConsumerSpec(queue=PROBE_QUEUE, batch_handlers={"bus.probe": handle_probes})

    def slow_probe(conn, envelope, platform):
        time.sleep(delay)
        handle_probe(conn, envelope, platform)
    return ConsumerSpec(queue=PROBE_QUEUE, handlers={"bus.probe": slow_probe})


def install(platform) -> None:
    """Create the probe's effect and rejection tables next to the service's own tables (idempotent)."""
    probe_metadata.create_all(platform.engine)


def produce(platform, count: int, office: str = "kristiansand", start: int = 0, chunk: int = 5000,
            fail: str | None = None, padding: str | None = None) -> list[str]:
    """Write `count` probe events to the outbox (in transactions of `chunk`); returns their message ids."""
    ids = []
    for first in range(start, start + count, chunk):
        with platform.engine.begin() as conn:
            for sequence in range(first, min(first + chunk, start + count)):
                payload = {"sequence": sequence} if fail is None else {"sequence": sequence, "fail": fail}
                if padding is not None:
                    payload["padding"] = padding
                ids.append(platform.emit(conn, "bus.probe", office, payload)["message_id"])
    return ids


def effect_counts(platform) -> dict[str, int]:
    """message_id -> number of effect rows (must be 1 for each consumed event)."""
    with platform.engine.connect() as conn:
        rows = conn.execute(select(probe_effects.c.message_id, func.count())
                            .group_by(probe_effects.c.message_id)).all()
    return {message_id: count for message_id, count in rows}


def host_platform(service: str | None = None, env=None):
    """A Platform on a service's settings (database, broker URLs from its environment) plus the probe table."""
    service = service or os.environ.get("PROBE_HOST_SERVICE", "intake")
    settings = load_settings(service, env=env)
    platform = Platform(settings, platform_tables(new_metadata()))
    install(platform)
    return platform


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.bus.probe", description=__doc__.split("\n")[0])
    parser.add_argument("--service", default=None, help="whose settings to borrow (default intake)")
    sub = parser.add_subparsers(dest="command", required=True)
    p_produce = sub.add_parser("produce")
    p_produce.add_argument("count", type=int)
    p_produce.add_argument("--office", default="kristiansand")
    p_produce.add_argument("--start", type=int, default=0)
    sub.add_parser("relay")
    sub.add_parser("consume")
    p_drain = sub.add_parser("drain")
    p_drain.add_argument("--idle", type=float, default=1.0)
    args = parser.parse_args(argv)
    platform = host_platform(args.service)
    configure_logging(platform.settings.service, platform.settings.log_level)
    if args.command == "produce":
        print(len(produce(platform, args.count, args.office, args.start)))
    elif args.command == "relay":
        run_relay(platform)
    elif args.command == "consume":
        run_consumer(platform, probe_spec())
    elif args.command == "drain":
        stats = drain(platform, probe_spec(), idle_seconds=args.idle)
        print(f"processed={stats.processed} duplicate={stats.duplicate} rejected={stats.rejected}")
    platform.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
