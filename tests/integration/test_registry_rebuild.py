"""The registry rebuilt from the events kept upstream (issue #19 point 2), on PostgreSQL: intake's and consent's
outboxes hold the events as the services wrote them (an erasure took the erased case's rows there, as intake and
consent do); the registry took them through the bus handlers; `outbox export` of both, replayed by `registry
rebuild`, gives the same rows and tables, with a new secret the same rows under new pseudonyms; an erased case stays
gone, cut releases stay as they were, and a message still in a queue becomes a no-op."""
from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from services.registry import demo, handlers, service, tables
from services.registry.domain.pseudonyms import Pseudonymiser
from shared import privacy as shared_privacy
from shared.bus import store as bus_store
from shared.bus.envelope import make_envelope
from shared.clock import FixedClock
from shared.platform import new_metadata, platform_tables

SECRET = "rebuild-test-secret-" + "b" * 40
NEW_SECRET = "rebuild-test-new-secret-" + "n" * 40
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
# Columns that say when the registry did something, not what it holds: a replay does it at another time.
WHEN = {"closures": {"accepted_at", "change_seq"}, "versions": {"accepted_at"}, "consents": {"updated_at"},
        "waiting": {"received_at"}}
PSEUDONYM_KINDS = {"case_pseudonym": "case", "candidate_pseudonym": "candidate",
                   "counsellor_pseudonym": "counsellor", "mentor_pseudonym": "mentor",
                   "employer_pseudonym": "employer"}
PAYLOAD_FIELDS = {"case": "case_id", "candidate": "candidate_hash", "counsellor": "counsellor_id",
                  "mentor": "mentor_id", "employer": "employer_hash"}


class Upstream:
    """Intake's and consent's databases: their outboxes keep the sent events, as the services keep them."""

    def __init__(self, platform_factory, tmp_path):
        self.intake = platform_factory("intake", platform_tables(new_metadata()), f"sqlite:///{tmp_path}/intake.db")
        self.consent = platform_factory("consent", platform_tables(new_metadata()),
                                        f"sqlite:///{tmp_path}/consent.db")
        self.clock = T0

    def emit(self, envelope) -> dict:
        """Written to its producer's outbox (and marked sent, as the relay does), `occurred_at` a minute on."""
        self.clock += timedelta(minutes=1)
        envelope = dict(envelope, occurred_at=self.clock.isoformat())
        producer = self.intake if envelope["producer"] == "intake" else self.consent
        with producer.engine.begin() as conn:
            bus_store.add_event(conn, producer.tables["outbox"], envelope)
            outbox = producer.tables["outbox"]
            conn.execute(outbox.update().values(sent_at=self.clock))
        return envelope

    def erase(self, case_uuid):
        """What intake's and consent's erasure do to their outboxes: the sent events naming the case go."""
        for producer in (self.intake, self.consent):
            outbox = producer.tables["outbox"]
            with producer.engine.begin() as conn:
                for office in {c["office"] for c in demo.load_cases()["cases"]}:
                    conn.execute(delete(outbox).where(shared_privacy.sent_events_about(conn, outbox, office,
                                                                                       [case_uuid])))

    def export(self) -> list[list[bytes]]:
        """`outbox export` of each service."""
        sources = []
        for producer in (self.intake, self.consent):
            with producer.engine.connect() as conn:
                sources.append([body + b"\n" for body in bus_store.outbox_bodies(conn, producer.tables["outbox"])])
        return sources


@pytest.fixture
def world(platform_factory, pg_url, tmp_path, monkeypatch):
    """The registry on PostgreSQL fed through its handlers, and upstream outboxes holding the same events.

    The report's 21 cases with consent; case 3 corrected; case 5 never granted (waiting); case 7 withdrawn with
    `erase`; case 9 withdrawn under the research exemption (marked); a release cut; then case 11 erased by its
    office (which withdraws the release's files); a guest office's closure refused."""
    monkeypatch.setenv("REGISTRY_PSEUDONYM_SECRET", SECRET)
    registry = platform_factory("registry", tables.all_tables(), pg_url)
    upstream = Upstream(platform_factory, tmp_path)
    data = demo.load_cases()
    cases = {c["case"]: c for c in data["cases"]}

    def deliver(envelope):
        return handlers.process(registry, upstream.emit(envelope))

    for number, case in cases.items():
        if number != 5:
            assert deliver(demo.consent_envelope("consent.granted", case["office"], demo.case_id(number))) == "granted"
        assert deliver(demo.closure_envelope(case, data["defaults"])) == ("waiting" if number == 5 else "accepted")
    payload = demo.closure_payload(cases[3], data["defaults"], version=2)
    payload.update(attachment_after="permanent_with_wage_subsidy", supersedes_version=1)
    assert deliver(make_envelope("case.corrected", cases[3]["office"], payload, producer="intake")) == "accepted"
    assert deliver(demo.consent_envelope("consent.withdrawn", cases[7]["office"], demo.case_id(7),
                                         data_policy="erase")) == "erased"
    assert deliver(demo.consent_envelope("consent.withdrawn", cases[9]["office"], demo.case_id(9),
                                         data_policy="research_exemption")) == "marked"
    guest = dict(cases[4], office="drammen", counsellor_id="geir-veileder")
    assert deliver(demo.closure_envelope(guest, data["defaults"])) == "refused"
    release = service.cut_release(registry, "admin")
    before_erasure = upstream.export()
    # Intake's erasure: the case's sent events go, then its case.erased is written (and later sent).
    upstream.erase(demo.case_id(11))
    erased = make_envelope("case.erased", cases[11]["office"], {
        "request_id": str(uuid.uuid4()), "case_ids": [demo.case_id(11)], "data_policy": "erase"}, producer="intake")
    assert deliver(erased) == "erased"
    return registry, upstream, release, before_erasure


def _snapshot(platform, keep_times=False):
    """Every ingest table as a multiset of rows (the change feed as what changed for which case)."""
    shot = {}
    with platform.engine.connect() as conn:
        for name in ("closures", "versions", "consents", "waiting"):
            drop = set() if keep_times else WHEN[name]
            shot[name] = Counter(tuple(sorted((k, str(v)) for k, v in dict(row).items() if k not in drop))
                                 for row in conn.execute(select(tables.OWN[name])).mappings())
        shot["changes"] = Counter((r.case_pseudonym, r.change, r.version)
                                  for r in conn.execute(select(tables.changes)))
        shot["log"] = [tuple(r) for r in conn.execute(select(tables.log).order_by(tables.log.c.id))]
        shot["privacy_log"] = sorted(tuple(map(str, r)) for r in conn.execute(select(tables.privacy_log)))
        shot["releases"] = [tuple(map(str, r)) for r in conn.execute(select(tables.releases))]
        shot["release_rows"] = sorted(tuple(map(str, r)) for r in conn.execute(select(tables.release_rows)))
        shot["release_files"] = sorted((r.release_id, r.name, r.part, r.content is None)
                                       for r in conn.execute(select(tables.release_files)))
    return shot


def _pseudonym(platform, number) -> str:
    with platform.engine.connect() as conn:
        return service.ingest_context(platform, conn).pseudonymiser.pseudonym("case", demo.case_id(number))


def _holds(platform, case_pseudonym) -> bool:
    with platform.engine.connect() as conn:
        return any(conn.execute(select(table.c.case_pseudonym).where(table.c.case_pseudonym == case_pseudonym))
                   .first() for table in (tables.closures, tables.versions, tables.waiting))


def test_rebuild_from_upstream_outboxes_gives_the_same_tables_and_leaves_releases_and_erasures_alone(world):
    registry, upstream, release, _before_erasure = world
    before = _snapshot(registry)
    newest_before = service.newest_change(registry)
    assert len(before["closures"]) == 18  # 21 cases: 5 waits, 7 and 11 erased (9 marked stays)

    envelopes = handlers.read_events(upstream.export())
    summary = handlers.rebuild(registry, envelopes)

    after = _snapshot(registry)
    for name in ("closures", "versions", "consents", "waiting"):
        assert after[name] == before[name], name
    assert summary["tables"]["closures"] == 18 and summary["tables"]["waiting"] == 1
    # The change feed: the same, but for the acceptance of case 11, whose events intake's erasure took; its
    # erasure notice is given again for a researcher who has not pulled it yet.
    erased = _pseudonym(registry, 11)
    assert before["changes"][(erased, "closed", 1)] == 1
    assert after["changes"] == before["changes"] - Counter({(erased, "closed", 1): 1})
    # The change feed goes on above every number researchers may hold as their cursor.
    with registry.engine.connect() as conn:
        assert min(conn.execute(select(tables.changes.c.seq)).scalars()) > newest_before
    # Releases (the erased case's files already withdrawn) are exactly as they were cut and withdrawn.
    for name in ("releases", "release_rows", "release_files"):
        assert after[name] == before[name], name
    assert any(r[0] == release["id"] and "withdrawn" in r for r in after["releases"])
    # The logs keep what happened when; the rebuild adds its own line.
    assert after["log"][:-1] == before["log"] and after["privacy_log"] == before["privacy_log"]
    assert after["log"][-1][3:7] == ("registry.rebuild", None, "accepted", "rebuilt")
    for number in (7, 11):
        assert not _holds(registry, _pseudonym(registry, number))


def test_a_message_still_queued_at_the_rebuild_is_a_no_op_when_it_arrives(world):
    registry, upstream, _release, _before_erasure = world
    data = demo.load_cases()
    late = dict(data["cases"][0], case=99, candidate="late")
    queued = [upstream.emit(demo.consent_envelope("consent.granted", late["office"], demo.case_id(99))),
              upstream.emit(demo.closure_envelope(late, data["defaults"]))]
    summary = handlers.rebuild(registry, handlers.read_events(upstream.export()))
    assert summary["tables"]["closures"] == 19 and summary["inbox_added"] == 2
    before = _snapshot(registry, keep_times=True)
    assert [handlers.process(registry, envelope) for envelope in queued] == ["redelivery", "redelivery"]
    assert _snapshot(registry, keep_times=True) == before


def _rekeyed(shot, old: Pseudonymiser, new: Pseudonymiser, envelopes):
    """The tables with every pseudonym under the old secret replaced by the same value's under the new one."""
    mapping = {}
    for envelope in envelopes:
        payload = envelope["payload"]
        for case_id in payload.get("case_ids", ()):  # case.erased
            mapping[old.pseudonym("case", str(case_id))] = new.pseudonym("case", str(case_id))
        for kind, field in PAYLOAD_FIELDS.items():
            if payload.get(field) is not None:
                mapping[old.pseudonym(kind, str(payload[field]))] = new.pseudonym(kind, str(payload[field]))
    assert mapping
    def rekey(value: str) -> str:  # a column, or the row inside `record` (versions, waiting)
        for before, after in mapping.items():
            value = value.replace(before, after)
        return value

    out = {}
    for name in ("closures", "consents", "waiting", "versions"):
        out[name] = Counter(tuple((k, rekey(v)) for k, v in row) for row in shot[name])
    out["changes"] = Counter((mapping[case], change, version) for (case, change, version) in shot["changes"])
    return out


def test_a_new_secret_gives_the_same_rows_under_new_pseudonyms(world, monkeypatch):
    registry, upstream, _release, _before_erasure = world
    before = _snapshot(registry)
    # Case 11's entries go with its events (erased upstream); under new pseudonyms its old notice means nothing.
    erased = _pseudonym(registry, 11)
    before["changes"] = Counter({key: n for key, n in before["changes"].items() if key[0] != erased})
    monkeypatch.setenv("REGISTRY_PSEUDONYM_SECRET", NEW_SECRET)
    monkeypatch.setenv("REGISTRY_PREVIOUS_SECRET", SECRET)
    envelopes = handlers.read_events(upstream.export())
    handlers.rebuild(registry, envelopes, previous_secret_ref="env:REGISTRY_PREVIOUS_SECRET")
    after = _snapshot(registry)
    code = registry.directory.project_settings(registry.engine.connect())["code"]
    old, new = Pseudonymiser(code, SECRET.encode()), Pseudonymiser(code, NEW_SECRET.encode())
    expected = _rekeyed(before, old, new, envelopes)
    for name in ("closures", "versions", "consents", "waiting", "changes"):
        assert after[name] == expected[name], name
    old_pseudonyms = {v for row in before["closures"] for k, v in row if k in PSEUDONYM_KINDS and v != "None"}
    everything = str(after["closures"]) + str(after["versions"]) + str(after["changes"])
    assert old_pseudonyms and not any(p in everything for p in old_pseudonyms)
    for number in (7, 11):
        assert not _holds(registry, new.pseudonym("case", demo.case_id(number)))


def test_an_erased_case_whose_events_are_still_upstream_stays_gone_and_nothing_changes(world):
    """Upstream lost the erasure (its case.erased is missing, the case's closure and consent are back): the
    rebuild refuses rather than bring the case back, and leaves every table as it was."""
    registry, _upstream, _release, before_erasure = world
    before = _snapshot(registry, keep_times=True)
    with pytest.raises(handlers.RebuildRefused, match="1 case"):
        handlers.rebuild(registry, handlers.read_events(before_erasure))
    assert _snapshot(registry, keep_times=True) == before


def test_past_the_retention_date_there_is_nothing_to_rebuild(world):
    registry, upstream, _release, _before_erasure = world
    before = _snapshot(registry, keep_times=True)
    registry.clock = FixedClock(datetime(2030, 1, 2, tzinfo=UTC))
    with pytest.raises(handlers.RebuildRefused, match="retention"):
        handlers.rebuild(registry, handlers.read_events(upstream.export()))
    assert _snapshot(registry, keep_times=True) == before


def test_an_erasure_after_a_rebuild_under_a_new_secret_reaches_the_releases_cut_before_it(world, monkeypatch):
    """A release cut under the old secret holds the old pseudonyms (researchers have them); a person erased after
    the rebuild under a new secret is still found there: the release's files are withdrawn, the re-cut leaves the
    row out, its erratum names the pseudonym the researchers know, and the download log names who to tell."""
    registry, upstream, _release, _before_erasure = world
    [first] = service.recut_withdrawn(registry, "admin")  # case 11's erasure withdrew r1v1: r1v2 is published
    current = first["release"]["id"]
    old = _pseudonym(registry, 4)
    assert old.encode() in service.download(registry, current, "cases.csv", "rune-forsker")
    with registry.engine.connect() as conn:
        kept = {r.case_pseudonym for r in conn.execute(select(tables.release_rows).where(
            tables.release_rows.c.erased_from.is_(None)))}

    monkeypatch.setenv("REGISTRY_PSEUDONYM_SECRET", NEW_SECRET)
    monkeypatch.setenv("REGISTRY_PREVIOUS_SECRET", SECRET)
    summary = handlers.rebuild(registry, handlers.read_events(upstream.export()),
                               previous_secret_ref="env:REGISTRY_PREVIOUS_SECRET")
    assert summary["release_cases_linked"] == len(kept) and summary["release_cases_not_replayed"] == 0
    registry.__dict__.pop("_registry_ingest", None)  # the consumer restarted with the new secret
    assert _pseudonym(registry, 4) != old

    case4 = next(c for c in demo.load_cases()["cases"] if c["case"] == 4)
    withdrawal = demo.consent_envelope("consent.withdrawn", case4["office"], demo.case_id(4), data_policy="erase")
    assert handlers.process(registry, upstream.emit(withdrawal)) == "erased"
    with pytest.raises(service.ReleaseError) as gone:
        service.download(registry, current, "cases.csv", "rune-forsker")
    assert gone.value.status == 410
    [done] = service.recut_withdrawn(registry, "admin")
    record = done["release"]
    assert record["notes"]["recut_of"] == current and done["tell"] == ["rune-forsker"]
    assert {"case_pseudonym": old, "change": "withdrawn_erased", "seq": None} in record["notes"]["errata"]
    assert record["notes"]["cases"] == len(kept) - 1
    for name in ("cases.csv", "measures.csv", "assessments.csv", "cases.json", "measures.json"):
        assert old.encode() not in service.download(registry, record["id"], name, "rune-forsker"), name
    with registry.engine.connect() as conn:  # the link went with the erasure
        assert not conn.execute(select(tables.release_aliases).where(
            tables.release_aliases.c.release_pseudonym == old)).first()
