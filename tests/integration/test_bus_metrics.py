"""The metrics endpoint of relay and consumer processes (`<SVC>_RELAY_METRICS_ADDRESS`,
`<SVC>_CONSUMER_METRICS_ADDRESS`): real processes, the real broker, scraped over HTTP."""
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from shared.bus import probe, store
from shared.bus.envelope import make_envelope
from shared.bus.relay import relay_pending
from tests.fixtures.broker import ProbeProcess, wait_for
from tests.fixtures.stack import free_port


def scrape(port) -> dict:
    """{(metric sample name, frozenset of labels): value} from the endpoint, or {} while it is not up yet."""
    try:
        response = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    except requests.ConnectionError:
        return {}
    response.raise_for_status()
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.text) for sample in family.samples}


def value(samples, name, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_the_relay_counts_published_confirmed_returned_claims_and_the_backlog(probe_platform, tmp_path,
                                                                              probe_processes):
    port = free_port()
    relay = ProbeProcess("relay", probe_platform, tmp_path, INTAKE_RELAY_METRICS_ADDRESS=f"127.0.0.1:{port}",
                         INTAKE_RELAY_BATCH=25, INTAKE_RELAY_POLL_MS=50)
    probe_processes.append(relay)
    wait_for(lambda: scrape(port), 30, what="the relay's metrics endpoint")
    assert value(scrape(port), "bus_outbox_backlog", service="intake") == 0

    ids = probe.produce(probe_platform, 60)
    with probe_platform.engine.begin() as conn:  # a key no queue is bound to: the broker returns it (mandatory)
        envelope = make_envelope("bus.probe", "kristiansand", {"sequence": 60}, producer="intake")
        store.add_event(conn, probe_platform.tables["outbox"], {**envelope, "type": "bus.unbound"})

    def settled():
        samples = scrape(port)
        return samples if value(samples, "bus_relay_marked_sent_total", service="intake") == len(ids) and \
            value(samples, "bus_relay_returned_total", service="intake") >= 1 else None
    samples = wait_for(settled, 30, what="60 rows marked sent and one returned")
    intake = {"service": "intake"}
    assert value(samples, "bus_relay_confirmed_total", **intake) == 60
    assert value(samples, "bus_relay_published_total", **intake) >= 61  # the returned one is retried later
    assert value(samples, "bus_relay_failed_total", **intake) >= 1
    assert value(samples, "bus_relay_claims_total", **intake) >= 3  # batches of 25
    assert value(samples, "bus_outbox_backlog", **intake) == 1  # the unroutable row stays unsent
    assert relay.terminate() == 0


def test_the_consumer_counts_processed_duplicates_and_dead_letters(probe_platform, bus_vhost, tmp_path,
                                                                   probe_processes):
    good = probe.produce(probe_platform, 30)
    probe.produce(probe_platform, 1, start=30, fail="reject")
    assert relay_pending(probe_platform) == 31
    outbox = probe_platform.tables["outbox"]
    with probe_platform.engine.begin() as conn:  # as if the relay died before marking 5 rows: published again
        conn.execute(update(outbox).where(outbox.c.message_id.in_(good[:5])).values(sent_at=None))
    assert relay_pending(probe_platform) == 5

    port = free_port()
    consumer = ProbeProcess("consume", probe_platform, tmp_path, INTAKE_CONSUMER_METRICS_ADDRESS=str(port))
    probe_processes.append(consumer)
    queue = {"queue": "bus.probe"}

    def settled():
        samples = scrape(port)
        return samples if sum(value(samples, "bus_consumed_total", **queue, outcome=o)
                              for o in ("processed", "duplicate", "rejected")) == 36 else None
    samples = wait_for(settled, 30, what="36 deliveries settled")
    assert value(samples, "bus_consumed_total", **queue, outcome="processed") == 30
    assert value(samples, "bus_consumed_total", **queue, outcome="duplicate") == 5
    assert value(samples, "bus_consumed_total", **queue, outcome="rejected") == 1
    assert value(samples, "bus_consumer_retries_total", **queue) == 0
    assert bus_vhost.ready("bus.probe.dead") == 1
    assert consumer.terminate() == 0
