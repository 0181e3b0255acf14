"""The registry's batch handlers (issue #19 point 2), on both databases: a batch of mixed messages, as the consumer
takes them from the queue, leaves the same closures, versions, waiting closures, consent states, change feed and log
reasons as the same messages one at a time; a bad message in the batch is rejected alone."""
from __future__ import annotations

import json
import uuid
from collections import Counter

import pytest
from sqlalchemy import select

from services.registry import demo, handlers, tables
from shared.bus.consumer import BatchProcessor, Delivery
from shared.bus.envelope import make_envelope, validate_envelope

SECRET = "batch-test-secret-" + "q" * 40
WHEN = {"accepted_at", "change_seq", "updated_at", "received_at", "at", "seq", "id", "message_id"}


def _messages():
    """Grants and closures of the report's cases with, in between: a case waiting (no grant), a correction of a
    case in the same batch, a withdrawal followed by a later closure of the same case (refused), a case marked under
    the research exemption after its closure, a guest office's closure, a grant after a closure (releases it), grants
    of cases already granted."""
    data = demo.load_cases()
    cases = {c["case"]: c for c in data["cases"]}
    out = []
    for number, case in cases.items():
        if number not in (5, 6):
            out.append(demo.consent_envelope("consent.granted", case["office"], demo.case_id(number)))
        out.append(demo.closure_envelope(case, data["defaults"]))
    payload = demo.closure_payload(cases[3], data["defaults"], version=2)
    payload.update(attachment_after="permanent_with_wage_subsidy", supersedes_version=1)
    out.append(make_envelope("case.corrected", cases[3]["office"], payload, producer="intake"))
    out.append(demo.consent_envelope("consent.withdrawn", cases[7]["office"], demo.case_id(7), data_policy="erase"))
    again = demo.closure_payload(cases[7], data["defaults"], version=2)
    again["supersedes_version"] = 1
    out.append(make_envelope("case.corrected", cases[7]["office"], again, producer="intake"))
    out.append(demo.consent_envelope("consent.withdrawn", cases[9]["office"], demo.case_id(9),
                                     data_policy="research_exemption"))
    out.append(demo.closure_envelope(dict(cases[4], office="drammen", counsellor_id="geir-veileder"),
                                     data["defaults"]))
    out.append(demo.consent_envelope("consent.granted", cases[6]["office"], demo.case_id(6)))
    for number in (13, 14):  # two more grants after their closures: the grant batch handler's update path
        out.append(demo.consent_envelope("consent.granted", cases[number]["office"], demo.case_id(number)))
    return [validate_envelope(json.loads(json.dumps(envelope, default=str))) for envelope in out]


def _tables(platform):
    shot = {}
    with platform.engine.connect() as conn:
        for name in ("closures", "versions", "waiting", "consents", "changes"):
            shot[name] = Counter(tuple(sorted((k, str(v)) for k, v in row.items() if k not in WHEN))
                                 for row in conn.execute(select(tables.OWN[name])).mappings())
        shot["log"] = Counter((r.event_type, r.office, r.outcome, r.reason) for r in conn.execute(select(tables.log)))
    return shot


@pytest.fixture
def two_registries(platform_factory, db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("REGISTRY_PSEUDONYM_SECRET", SECRET)
    other = db_url.replace("test.db", "other.db") if db_url.startswith("sqlite") else None
    if other is None:
        from tests.fixtures.db import create_pg_database
        other, drop = create_pg_database()
    else:
        drop = None
    try:
        yield (platform_factory("registry", tables.all_tables(), db_url),
               platform_factory("registry", tables.all_tables(), other))
    finally:
        if drop:
            drop()


def _deliveries(messages):
    return [Delivery(tag=i, message_id=str(m["message_id"]), envelope=m) for i, m in enumerate(messages)]


def test_one_batch_leaves_what_the_same_messages_one_at_a_time_leave(two_registries):
    batched, single = two_registries
    messages = _messages()
    deliveries = _deliveries(messages)
    BatchProcessor(batched, handlers.consumer_spec()).process(deliveries)
    for message in messages:
        assert handlers.process(single, message) != "redelivery"
    assert {d.outcome for d in deliveries} == {"processed"}
    got, expected = _tables(batched), _tables(single)
    for name in expected:
        assert got[name] == expected[name], name
    # What the batch did, as a person reading the registry would see it: 21 cases, 5 waits, 7 erased (its later
    # correction refused), 6 released by its late grant, 9 marked, the guest office's closure refused.
    assert sum(got["closures"].values()) == 19
    assert sum(got["waiting"].values()) == 1
    office_of_7 = next(c["office"] for c in demo.load_cases()["cases"] if c["case"] == 7)
    assert got["log"][("case.corrected", office_of_7, "refused", "consent_withdrawn")] == 1
    assert got["log"][("case.closed", "drammen", "refused", "office_not_covered_by_research")] == 1


def test_a_bad_message_in_a_batch_is_rejected_alone(two_registries):
    registry, _ = two_registries
    data = demo.load_cases()
    good, other = data["cases"][0], data["cases"][1]
    bad = demo.closure_payload(dict(other, case=77), data["defaults"])
    bad["success_criteria"]["assessments"] = {"Not A Code!": "achieved"}
    messages = [demo.consent_envelope("consent.granted", good["office"], demo.case_id(good["case"])),
                demo.closure_envelope(good, data["defaults"]),
                make_envelope("case.closed", other["office"], bad, producer="intake")]
    deliveries = _deliveries([validate_envelope(json.loads(json.dumps(m, default=str))) for m in messages])
    BatchProcessor(registry, handlers.consumer_spec()).process(deliveries)
    assert [d.outcome for d in deliveries] == ["processed", "processed", "rejected"]
    assert "success criterion" in deliveries[2].reason
    with registry.engine.connect() as conn:
        assert len(conn.execute(select(tables.closures.c.case_pseudonym)).all()) == 1


def test_a_batch_of_only_new_cases_reads_and_writes_a_few_statements(two_registries):
    """The point of the batch: the statements per batch stay the same whatever the number of messages (on
    PostgreSQL, where each is a round trip; SQLite runs in the process, and SQLAlchemy sends it an INSERT ...
    RETURNING one row at a time to keep the order)."""
    from sqlalchemy import event
    registry, _ = two_registries
    if registry.engine.dialect.name != "postgresql":
        pytest.skip("round trips are PostgreSQL's")
    data = demo.load_cases()
    template = data["cases"][1]

    def batch(size, start):
        envelopes = []
        for i in range(size):
            case_uuid = str(uuid.uuid4())
            envelopes.append(demo.consent_envelope("consent.granted", template["office"], case_uuid))
            payload = demo.closure_payload(dict(template, case=start + i, candidate=start + i), data["defaults"])
            payload["case_id"] = case_uuid
            envelopes.append(make_envelope("case.closed", template["office"], payload, producer="intake"))
        loaded = [validate_envelope(json.loads(json.dumps(e, default=str))) for e in envelopes]
        return [Delivery(tag=i, message_id=str(m["message_id"]), envelope=m) for i, m in enumerate(loaded)]

    counts, statements = [], []

    def count(*args):
        statements.append(args[2])

    for size, start in ((10, 1000), (100, 2000)):
        deliveries = batch(size, start)
        statements.clear()
        event.listen(registry.engine, "before_cursor_execute", count)
        BatchProcessor(registry, handlers.consumer_spec()).process(deliveries)
        event.remove(registry.engine, "before_cursor_execute", count)
        assert {d.outcome for d in deliveries} == {"processed"}
        counts.append(len(statements))
    assert counts[1] <= counts[0] + 2, counts  # not 10 x more: a few statements per batch, not per message
    with registry.engine.connect() as conn:
        assert len(conn.execute(select(tables.closures.c.case_pseudonym)).all()) == 110
