"""Privacy operations (issue #8 item 6) on SQLite and PostgreSQL, with the real broker between the services.

The world: person P has two cases in NAV Kristiansand (one closed with research consent, so it is in the registry;
one open, with reminders) and, under the same national ID, a case in NAV Bergen vest; person Q has a case in
Bergen vest only. Intake's events reach consent, notify and the registry through RabbitMQ; consent's events too.
Kristiansand's local contact then asks for P's data (access request), and erases it.
"""
from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, update

from services.consent import handlers as consent_handlers
from services.consent import service as consent_service
from services.consent import tables as ct
from services.consent.app import create_app as consent_app
from services.intake import tables as it
from services.intake.app import create_app as intake_app
from services.intake.testing import enter_case
from services.notify import handlers as notify_handlers
from services.notify import tables as nt
from services.notify.app import create_app as notify_app
from services.notify.service import sweep_once
from services.registry import handlers as registry_handlers
from services.registry import tables as rt
from services.registry.app import create_app as registry_app
from shared.auth import COOKIE_NAME
from shared.bus.consumer import apply_envelope, drain
from shared.bus.relay import relay_pending
from tests.fixtures.db import create_pg_database
from tests.fixtures.tokens import user_auth_header, user_token
from tests.integration.test_consent_helpers import PNG, consent_platform
from tests.integration.test_consent_helpers import record as record_consent

SECRET = "privacy-test-pseudonym-secret-0123456789abcdef"
P_NAME, Q_NAME, P_NOTE = "Pernille Personvernsen", "Quentin Annenkontorsen", "Snakket om helsa hennes"
CASE = {"opened_on": "2026-06-01", "entry_point": "course_start", "industry": "retail", "initiator": "counsellor",
        "reasons": ["extra_follow_up"], "counsellor_knew_company": "no", "attachment_before": "none",
        "mentor_relation": "colleague", "mentor_name": "Mentor Mentorsen"}
CLOSURE = {"closed_on": "2026-09-01", "closure_reason": "measure_completed", "attachment_after": "work_training",
           "attached_same_company": "yes", "feedback_mentor": "satisfied", "feedback_counsellor": "satisfied"}


@pytest.fixture
def databases(db_url, tmp_path):
    """One database per service, of the kind db_url names."""
    if db_url.startswith("sqlite"):
        yield {s: f"sqlite:///{tmp_path}/{s}.db" for s in ("intake", "consent", "notify", "registry")}
        return
    made = {"intake": (db_url, None)}
    for service in ("consent", "notify", "registry"):
        made[service] = create_pg_database()
    yield {s: url for s, (url, _drop) in made.items()}
    for _url, drop in made.values():
        if drop:
            drop()


@pytest.fixture
def world(databases, platform_factory, bus_vhost, live_server, monkeypatch):
    monkeypatch.setenv("REGISTRY_PSEUDONYM_SECRET", SECRET)
    consent = consent_platform(platform_factory, databases["consent"], env=bus_vhost.env("consent"))
    notify = platform_factory("notify", nt.all_tables(), databases["notify"], env=bus_vhost.env("notify"))
    registry = platform_factory("registry", rt.all_tables(), databases["registry"], env=bus_vhost.env("registry"))
    servers = {"consent": live_server(consent_app(platform=consent)),
               "notify": live_server(notify_app(platform=notify))}
    intake = platform_factory("intake", it.all_tables(), databases["intake"], env={
        **bus_vhost.env("intake"), "INTAKE_CONSENT_URL": servers["consent"].url,
        "INTAKE_NOTIFY_URL": servers["notify"].url})
    w = World(intake, consent, notify, registry, servers)
    w.p_closed = enter_case(intake, "kristiansand", "kari-veileder", {
        **CASE, "candidate_name": P_NAME, "contacts": [
            {"contact_date": "2026-06-10", "party": "candidate", "form": "phone", "minutes": 20, "note": P_NOTE}],
        "closure": CLOSURE}, seed=8101)
    w.national_id = w.p_closed["national_id"]
    w.p_open = enter_case(intake, "kristiansand", "kari-veileder", {
        **CASE, "candidate_name": P_NAME, "national_id": w.national_id}, seed=8102)
    w.p_bergen = enter_case(intake, "bergen-vest", "per-veileder", {
        **CASE, "candidate_name": P_NAME, "national_id": w.national_id, "closure": CLOSURE}, seed=8103)
    w.q_bergen = enter_case(intake, "bergen-vest", "per-veileder", {**CASE, "candidate_name": Q_NAME}, seed=8104)
    w.deliver_intake()
    for case, office in ((w.p_closed, "kristiansand"), (w.p_bergen, "bergen-vest")):
        record_consent(consent, case["case_id"], "candidate", {"research_registration": "granted"}, name=P_NAME,
                       document=PNG, national_id=w.national_id, office=office)
    record_consent(consent, w.p_closed["case_id"], "mentor", {"interviews": "granted"}, name="Mentor Mentorsen")
    w.deliver_consent()
    sweep_once(notify)  # reminders for P's open case (research consent missing)
    return w


def relay_all(platform, attempts=5):
    """Publish the whole outbox (a relay run can end early on a loaded machine, e.g. a refused connection)."""
    outbox = platform.tables["outbox"]
    for _ in range(attempts):
        relay_pending(platform)
        with platform.engine.connect() as conn:
            if not conn.execute(select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))).scalar():
                return
    raise AssertionError("the outbox was not published")


class World:
    def __init__(self, intake, consent, notify, registry, servers):
        self.intake, self.consent, self.notify, self.registry, self.servers = intake, consent, notify, registry, servers
        self.app = intake_app(platform=intake)
        self.client = self.app.test_client()

    def deliver_intake(self):
        relay_all(self.intake)
        for platform, spec in ((self.consent, consent_handlers.consumer_spec()),
                               (self.notify, notify_handlers.consumer_spec()),
                               (self.registry, registry_handlers.consumer_spec())):
            drain(platform, spec, idle_seconds=0.2)

    def deliver_consent(self):
        relay_all(self.consent)
        drain(self.registry, registry_handlers.consumer_spec(), idle_seconds=0.2)
        drain(self.notify, notify_handlers.consumer_spec(), idle_seconds=0.2)

    def headers(self, user_id="lise-kontakt"):
        return user_auth_header(self.intake, user_id)

    def post(self, path, body, user_id="lise-kontakt", headers=None):
        return self.client.post(path, json=body, headers={**self.headers(user_id), **(headers or {})})

    def seen(self, user_id="lise-kontakt"):
        """The version of the person's cases as the access document shows it (its ETag), for an erasure."""
        access = self.post("/api/v1/privacy/access", {"national_id": self.national_id}, user_id)
        assert access.status_code == 200, access.get_json()
        return {"If-Match": access.headers["ETag"]}


def page_client(w, user_id="lise-kontakt"):
    """A browser's way in: the sign-in cookie, so the forms' CSRF and `_form_token` fields count."""
    client = w.app.test_client()
    client.set_cookie(COOKIE_NAME, user_token(w.intake, user_id), path="/")
    return client


def form_fields(html, form_id):
    """The hidden fields of the rendered form `form_id`: what a browser sends back with the visible ones."""
    form = re.search(rf'<form\b[^>]*id="{form_id}"[^>]*>(.*?)</form>', html, re.S).group(1)
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def count(platform, table, *where):
    with platform.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar()


def log_rows(platform, table):
    with platform.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table).order_by(table.c.at, table.c.id)).mappings()]


def snapshot(w):
    """Row counts of every table of every service: 'nothing changed' made checkable."""
    result = {}
    for name, platform in (("intake", w.intake), ("consent", w.consent), ("notify", w.notify),
                           ("registry", w.registry)):
        for table_name, table in platform.tables.items():
            result[f"{name}.{table_name}"] = count(platform, table)
    return result


def assert_no_person(text: str, w):
    for secret in (w.national_id, P_NAME, "Pernille", "Personvernsen", P_NOTE, w.p_closed["candidate_hash"]):
        assert secret not in text, secret


# ---------------------------------------------------------------- access request
def test_access_request_gathers_every_service_and_is_audited_without_the_person(world):
    w = world
    response = w.post("/api/v1/privacy/access", {"national_id": w.national_id})
    assert response.status_code == 200, response.get_json()
    doc = response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    # Intake: both Kristiansand cases, decrypted, never Bergen vest's case of the same person.
    assert sorted(c["id"] for c in doc["cases"]) == sorted([w.p_closed["case_id"], w.p_open["case_id"]])
    closed = next(c for c in doc["cases"] if c["id"] == w.p_closed["case_id"])
    assert closed["candidate_name"] == P_NAME and closed["national_id"] == w.national_id
    assert closed["mentor_name"] == "Mentor Mentorsen" and closed["employer"]["name"] == "Demo Bedrift 8101 AS"
    assert [c["note"] for c in closed["contacts"]] == [P_NOTE]
    assert [v["version"] for v in closed["closures"]] == [1]
    assert closed["closures"][0]["record"]["closed_on"] == "2026-09-01"
    assert [h["action"] for h in closed["history"]][:2] == ["opened", "contact_logged"]
    assert closed["history"][0]["snapshot"]["candidate_name"] == P_NAME
    assert "candidate_hash" not in closed and "candidate_fnr" not in closed
    # Consent: the candidate's form in full with the scan; the mentor's by role and decisions only.
    consents = {c["case_id"]: c for c in doc["consents"]}
    assert set(consents) == {w.p_closed["case_id"], w.p_open["case_id"]}  # consent knows both cases
    assert consents[w.p_open["case_id"]]["records"] == []
    records = {r["signer_role"]: r for r in consents[w.p_closed["case_id"]]["records"]}
    assert records["candidate"]["signer_name"] == P_NAME
    assert records["candidate"]["signer_national_id"] == w.national_id
    assert base64.b64decode(records["candidate"]["documents"][0]["content_base64"]) == PNG
    assert records["mentor"]["signer_name"] is None and records["mentor"]["documents"][0]["content_base64"] is None
    assert [d["purpose"] for d in records["mentor"]["decisions"]] == ["interviews"]
    trail = consents[w.p_closed["case_id"]]["audit_trail"]
    assert [(a["action"], a["actor"]) for a in trail] == [("access_export", "lise-kontakt")]
    # Notify: case references only, with the open case's reminder.
    notes = {c["case_id"]: c for c in doc["notifications"]}
    assert set(notes) == {w.p_closed["case_id"], w.p_open["case_id"]}
    assert "consent_missing" in [r["rule"] for r in notes[w.p_open["case_id"]]["reminders"]]
    # Registry: not part of it, and why.
    assert doc["registry"]["included"] is False and "pseudonym" in doc["registry"]["explanation"]
    assert doc["counts"]["intake.cases"] == 2 and doc["counts"]["consent.documents"] == 2
    assert doc["counts"]["notify.reminders"] >= 1

    # One audit row per service, all with the same request id, counts and no person.
    request_id = doc["request_id"]
    for platform, table in ((w.intake, it.privacy_log), (w.consent, ct.privacy_log), (w.notify, nt.privacy_log)):
        rows = log_rows(platform, table)
        assert [(r["request_id"], r["action"], r["office"], r["actor"], r["outcome"]) for r in rows] == [
            (request_id, "access_export", "kristiansand", "lise-kontakt", "completed")]
        assert_no_person(json.dumps(rows, default=str), w)
    assert log_rows(w.intake, it.privacy_log)[0]["counts"]["consent.records"] == 2
    # The consent audit chain still verifies after the export's entries.
    with w.consent.engine.connect() as conn:
        assert consent_service.verify_audit(conn) == {"kristiansand": []}


def test_bad_input_nobody_another_offices_person_or_a_silent_service_change_nothing(world):
    w = world
    before = snapshot(w)
    malformed = w.post("/api/v1/privacy/access", {"national_id": "1234567890"})
    assert malformed.status_code == 422
    assert malformed.get_json()["errors"]["national_id"] == ["Fødselsnummeret må ha 11 siffer."]
    wrong_checksum = w.post("/api/v1/privacy/erasure", {"national_id": w.national_id[:-1] + str(
        (int(w.national_id[-1]) + 1) % 10), "confirm": True, "expected_version": 1})
    assert wrong_checksum.status_code == 422
    assert "kontrollsifrene" in wrong_checksum.get_json()["errors"]["national_id"][0]
    nobody = w.post("/api/v1/privacy/access", {"national_id": "15076500565"})
    assert nobody.status_code == 404
    assert nobody.get_json()["errors"]["national_id"] == ["Fant ingen saker for dette fødselsnummeret ved kontoret."]
    # Q is Bergen vest's: to Kristiansand's local contact Q is nobody (same answer), for access and erasure alike.
    q_fnr = w.q_bergen["national_id"]
    other = w.post("/api/v1/privacy/access", {"national_id": q_fnr})
    assert (other.status_code, other.get_json()) == (404, nobody.get_json())
    other_erase = w.post("/api/v1/privacy/erasure", {"national_id": q_fnr, "confirm": True, "expected_version": 1})
    assert (other_erase.status_code, other_erase.get_json()) == (404, nobody.get_json())
    unconfirmed = w.post("/api/v1/privacy/erasure", {"national_id": w.national_id, "expected_version": 1})
    assert unconfirmed.status_code == 422 and list(unconfirmed.get_json()["errors"]) == ["confirm"]
    # Roles: a counsellor of the office, an admin: refused; consent does not hand another office's case out.
    assert w.post("/api/v1/privacy/access", {"national_id": w.national_id}, "kari-veileder").status_code == 403
    erasure_by_admin = w.post("/api/v1/privacy/erasure", {"national_id": w.national_id, "confirm": True}, "admin")
    assert erasure_by_admin.status_code == 403
    consent_client = consent_app(platform=w.consent).test_client()
    foreign = consent_client.post("/api/v1/privacy/access", headers=w.headers(), json={
        "request_id": str(uuid.uuid4()), "case_ids": [w.p_bergen["case_id"]]})
    assert foreign.status_code == 200 and foreign.get_json()["cases"] == []
    after = snapshot(w)
    after.pop("consent.privacy_log")  # the consent call above is itself audited (0 cases)
    before.pop("consent.privacy_log")
    assert after == before

    # A service that cannot give its part: no partial document, the attempt audited as failed.
    w.app.extensions["privacy_peers"].urls["notify"] = "http://127.0.0.1:9"  # nothing listens there
    response = w.post("/api/v1/privacy/access", {"national_id": w.national_id})
    assert response.status_code == 503
    assert response.get_json()["message"] == "Varslingstjenesten svarer ikke. Prøv igjen om litt."
    assert [r["outcome"] for r in log_rows(w.intake, it.privacy_log)] == ["failed:notify"]


# ---------------------------------------------------------------- erasure
def test_erasure_deletes_in_every_service_over_the_broker_and_audits_counts(world):
    w = world
    p_ids = [w.p_closed["case_id"], w.p_open["case_id"]]
    seen = w.seen()  # see, then erase
    assert count(w.registry, rt.closures) == 2  # P's closed cases in Kristiansand and in Bergen vest
    response = w.post("/api/v1/privacy/erasure", {"national_id": w.national_id, "confirm": True}, headers=seen)
    assert response.status_code == 200, response.get_json()
    receipt = response.get_json()
    assert sorted(receipt["case_ids"]) == sorted(p_ids)
    assert receipt["deleted"]["cases"] == 2 and receipt["deleted"]["contacts"] == 1
    assert receipt["deleted"]["closures"] == 1 and receipt["deleted"]["outbox_events"] >= 4

    # Intake: nothing of P in Kristiansand, not even the sent events carrying the keyed hash; the rest untouched.
    for table in (it.cases, it.contacts, it.measures, it.closures, it.history, it.disclosures):
        column = table.c.id if table is it.cases else table.c.case_id
        assert count(w.intake, table, column.in_(p_ids)) == 0
    assert count(w.intake, it.cases) == 2  # P's and Q's Bergen vest cases
    outbox = w.intake.tables["outbox"]
    with w.intake.engine.connect() as conn:
        bodies = [bytes(b) for (b,) in conn.execute(select(outbox.c.body).order_by(outbox.c.id))]
    assert not any(w.p_closed["candidate_hash"].encode() in b and b"kristiansand" in b for b in bodies)
    assert any(w.p_bergen["case_id"].encode() in b for b in bodies)
    erased = [json.loads(b) for b in bodies if b'"case.erased"' in b]
    assert len(erased) == 1 and erased[0]["payload"]["data_policy"] == "erase"
    assert_no_person(json.dumps(erased), w)

    # Over the broker: consent, notify and the registry act on case.erased.
    w.deliver_intake()
    for table in (ct.records, ct.cases):
        assert count(w.consent, table, table.c.case_id.in_(p_ids)) == 0
    assert count(w.consent, ct.documents) == 1 and count(w.consent, ct.records) == 1  # Bergen vest's form
    assert count(w.consent, ct.status, ct.status.c.subject_key.in_(p_ids)) == 0
    with w.consent.engine.connect() as conn:  # the audit log is append-only: its entry (ids only) outlives the scan
        assert consent_service.verify_audit(conn) == {"kristiansand": []}
    assert count(w.consent, ct.audit_log) == 1
    for table in (nt.cases, nt.reminders, nt.consents):
        assert count(w.notify, table, table.c.case_id.in_(p_ids)) == 0
    assert count(w.notify, nt.cases) == 2
    with w.registry.engine.connect() as conn:
        changes = [r[0] for r in conn.execute(select(rt.changes.c.change).order_by(rt.changes.c.seq))]
    assert count(w.registry, rt.closures) == 1 and changes[-1] == "withdrawn_erased"

    request_id = receipt["request_id"]
    expected = {"consent": {"cases": 2, "records": 2, "documents": 2}, "notify": {"cases": 2},
                "registry": {"closures": 1}}
    for name, platform, table in (("consent", w.consent, ct.privacy_log), ("notify", w.notify, nt.privacy_log),
                                  ("registry", w.registry, rt.privacy_log)):
        rows = [r for r in log_rows(platform, table) if r["action"] == "erasure"]
        assert [(r["request_id"], r["office"]) for r in rows] == [(request_id, "kristiansand")], name
        for kind, n in expected[name].items():
            assert rows[0]["counts"][kind] == n, (name, kind, rows[0]["counts"])
        assert_no_person(json.dumps(rows, default=str), w)

    # The receipt, through intake, on the local contact's token: every service done.
    status = w.client.get(f"/api/v1/privacy/erasures/{request_id}", headers=w.headers()).get_json()
    assert {s: v["state"] for s, v in status["services"].items()} == {"consent": "completed", "notify": "completed"}
    assert status["services"]["consent"]["deleted"]["documents"] == 2
    assert w.client.get(f"/api/v1/privacy/erasures/{request_id}", headers=w.headers("anne-kontakt")).status_code == 404

    # The same event again (new message id) and a consent event still in flight: nothing comes back.
    again = dict(erased[0], message_id=str(uuid.uuid4()))
    for platform, spec in ((w.consent, consent_handlers.consumer_spec()), (w.notify, notify_handlers.consumer_spec())):
        assert apply_envelope(platform, spec, again) == "processed"
    late = w.consent.event("consent.granted", "kristiansand", {
        "case_id": uuid.UUID(w.p_open["case_id"]), "subject_ref": None, "purpose": "research_registration",
        "template_version": 1, "effective_at": w.consent.clock.now(), "expires_on": None})
    apply_envelope(w.notify, notify_handlers.consumer_spec(), late)
    assert count(w.notify, nt.consents, nt.consents.c.case_id.in_(p_ids)) == 0
    assert len([r for r in log_rows(w.notify, nt.privacy_log) if r["action"] == "erasure"]) == 1

    # Under the research exemption (project setting), Bergen vest's erasure of the same person keeps what the
    # researchers have, marked, and bars the case.
    project = w.intake.tables["project"]
    with w.intake.engine.begin() as conn:
        settings = conn.execute(select(project.c.settings)).scalar()
        conn.execute(update(project).values(settings={**settings, "withdrawal_policy": "research_exemption"}))
    response = w.post("/api/v1/privacy/erasure", {"national_id": w.national_id, "confirm": True}, "anne-kontakt",
                      headers=w.seen("anne-kontakt"))
    assert response.status_code == 200 and response.get_json()["data_policy"] == "research_exemption"
    assert "forskningsunntaket" in response.get_json()["registry"]
    w.deliver_intake()
    with w.registry.engine.connect() as conn:
        assert [r[0] for r in conn.execute(select(rt.closures.c.status))] == ["withdrawn_marked"]
    row = [r for r in log_rows(w.registry, rt.privacy_log) if r["office"] == "bergen-vest"][0]
    assert row["outcome"] == "research_exemption" and row["counts"]["marked"] == 1
    assert count(w.intake, it.cases) == 1 and count(w.consent, ct.records) == 0  # Q's case is all that is left


def test_an_erasure_acts_on_the_version_the_local_contact_saw_and_takes_the_kept_answers_along(world):
    w = world
    p_ids = [w.p_closed["case_id"], w.p_open["case_id"]]
    erase = {"national_id": w.national_id, "confirm": True}
    before = snapshot(w)
    missing = w.post("/api/v1/privacy/erasure", erase)
    assert missing.status_code == 428 and "expected_version" in missing.get_json()["message"]
    assert snapshot(w) == before

    seen = w.seen()
    document = w.post("/api/v1/privacy/access", {"national_id": w.national_id}).get_json()
    assert seen == {"If-Match": f'"v{document["version"]}"'}
    # A counsellor changes P's open case after the local contact looked (with a key: its answer is kept); an
    # answer about Q's case in Bergen vest is kept too.
    kari, per = user_auth_header(w.intake, "kari-veileder"), user_auth_header(w.intake, "per-veileder")
    assert w.client.put(f"/api/v1/cases/{w.p_open['case_id']}/plan", json={"plan_tasks": "Lager"},
                        headers={**kari, "Idempotency-Key": "plan-p-1"}).status_code == 200
    assert w.client.put(f"/api/v1/cases/{w.q_bergen['case_id']}/plan", json={"plan_tasks": "Lager"},
                        headers={**per, "Idempotency-Key": "plan-q-1"}).status_code == 200
    replays = w.intake.tables["replays"]
    assert count(w.intake, replays, replays.c.case_id.in_(p_ids)) == 1

    stale = w.post("/api/v1/privacy/erasure", erase, headers=seen)
    assert stale.status_code == 409
    assert f"nå er den versjon {document['version'] + 1}" in stale.get_json()["message"]
    assert count(w.intake, it.cases, it.cases.c.id.in_(p_ids)) == 2

    now = {**w.seen(), "Idempotency-Key": "erase-p-1"}
    first = w.post("/api/v1/privacy/erasure", erase, headers=now)
    repeat = w.post("/api/v1/privacy/erasure", erase, headers=now)
    assert (first.status_code, repeat.status_code) == (200, 200)
    assert repeat.headers["Idempotent-Replayed"] == "true" and repeat.get_json() == first.get_json()
    assert count(w.intake, w.intake.tables["outbox"], w.intake.tables["outbox"].c.event_type == "case.erased") == 1
    assert count(w.intake, replays, replays.c.case_id.in_(p_ids)) == 0  # went with the cases
    assert count(w.intake, replays, replays.c.case_id == w.q_bergen["case_id"]) == 1


def test_reads_of_a_person_are_never_kept_for_a_repeat(world):
    w = world
    replays = w.intake.tables["replays"]
    key = {"Idempotency-Key": "read-1"}
    for path, body, user in (("/api/v1/privacy/access", {"national_id": w.national_id}, "lise-kontakt"),
                             ("/api/v1/cases/search", {"national_id": w.national_id}, "kari-veileder")):
        answers = [w.post(path, body, user, headers=key) for _ in range(2)]
        assert [a.status_code for a in answers] == [200, 200], path
        assert all("Idempotent-Replayed" not in a.headers for a in answers), path
    client = page_client(w)
    access = form_fields(client.get("/personvern").get_data(as_text=True), "access-form")
    for path in ("/personvern/innsyn", "/sok"):
        for _ in range(2):
            assert client.post(path, data={**access, "national_id": w.national_id}).status_code in (200, 302), path
    assert count(w.intake, replays) == 0
    assert [r["action"] for r in log_rows(w.intake, it.privacy_log)] == ["access_export"] * 4  # each one made


def test_the_erase_page_names_what_it_showed_and_a_double_click_erases_once(world):
    w = world
    client = page_client(w)
    access = form_fields(client.get("/personvern").get_data(as_text=True), "access-form")
    shown = client.post("/personvern/innsyn", data={**access, "national_id": w.national_id}).get_data(as_text=True)
    start = form_fields(shown, "erase-start-form")
    page = client.post("/personvern/sletting", data=start).get_data(as_text=True)
    confirm = form_fields(page, "erase-form")
    version = w.post("/api/v1/privacy/access", {"national_id": w.national_id}).get_json()["version"]
    assert confirm["expected_version"] == str(version) and f"versjon {version}" in page
    without = {name: value for name, value in confirm.items() if name != "expected_version"}
    assert client.post("/personvern/sletting", data={**without, "confirm": "ja"}).status_code == 428

    first = client.post("/personvern/sletting", data={**confirm, "confirm": "ja"})
    second = client.post("/personvern/sletting", data={**confirm, "confirm": "ja"})
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert "/personvern/sletting/" in first.headers["Location"]
    assert [r["action"] for r in log_rows(w.intake, it.privacy_log)].count("erasure") == 1
    replays = w.intake.tables["replays"]
    # The confirmation page was kept under one of P's case ids and went with the cases; what is kept is the
    # erasure's answer, the receipt's address (no person in it).
    assert count(w.intake, replays) == 1
    assert count(w.intake, replays, replays.c.case_id.in_([w.p_closed["case_id"], w.p_open["case_id"]])) == 0


def test_the_erase_page_shows_the_cases_again_when_they_changed_after_it_was_shown(world):
    w = world
    client = page_client(w)
    access = form_fields(client.get("/personvern").get_data(as_text=True), "access-form")
    shown = client.post("/personvern/innsyn", data={**access, "national_id": w.national_id}).get_data(as_text=True)
    confirm = form_fields(client.post("/personvern/sletting", data=form_fields(shown, "erase-start-form"))
                          .get_data(as_text=True), "erase-form")
    assert w.client.put(f"/api/v1/cases/{w.p_open['case_id']}/plan", json={"plan_tasks": "Lager"},
                        headers=user_auth_header(w.intake, "kari-veileder")).status_code == 200
    refused = client.post("/personvern/sletting", data={**confirm, "confirm": "ja"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 409 and "er endret siden du hentet den" in html
    assert form_fields(html, "erase-form")["expected_version"] == str(int(confirm["expected_version"]) + 1)
    assert count(w.intake, it.cases, it.cases.c.id == w.p_open["case_id"]) == 1


# ---------------------------------------------------------------- retention
def _last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def test_retention_removes_case_data_only_past_the_retention_date_and_is_idempotent(world):
    w = world
    apps = {"intake": (w.app, w.intake, it.privacy_log),
            "consent": (consent_app(platform=w.consent), w.consent, ct.privacy_log),
            "notify": (notify_app(platform=w.notify), w.notify, nt.privacy_log),
            "registry": (registry_app(platform=w.registry), w.registry, rt.privacy_log)}
    before = snapshot(w)
    for app, _platform, _log in apps.values():
        result = app.test_cli_runner().invoke(args=["privacy", "retention"])
        assert result.exit_code == 0, result.output
        assert "retention date 2029-12-31 not passed (today 2026-11-26): nothing removed" in result.output
        assert _last_json(result.output)["removed"] == {}
    assert snapshot(w) == before

    for _app, platform, _log in apps.values():
        platform.clock.set(datetime(2030, 1, 2, 9, 0, tzinfo=UTC))
    dry = {name: _last_json(app.test_cli_runner().invoke(args=["privacy", "retention", "--dry-run"]).output)
           for name, (app, _p, _l) in apps.items()}
    assert snapshot(w) == before  # a dry run counts and changes nothing
    assert dry["intake"]["removed"]["cases"] == 4 and dry["consent"]["removed"]["records"] == 3
    assert dry["notify"]["removed"]["cases"] == 4 and dry["registry"]["removed"]["closures"] == 2

    for name, (app, platform, log) in apps.items():
        result = app.test_cli_runner().invoke(args=["privacy", "retention", "--actor", "admin"])
        assert result.exit_code == 0, result.output
        assert _last_json(result.output)["removed"] == dry[name]["removed"], name
        again = _last_json(app.test_cli_runner().invoke(args=["privacy", "retention"]).output)
        assert set(again["removed"].values()) == {0}, (name, again)  # safe to re-run: nothing left
        rows = log_rows(platform, log)
        assert [(r["action"], r["office"], r["actor"]) for r in rows] == [("retention", None, "admin")] * 2
        assert sorted((r["counts"] for r in rows), key=lambda c: -sum(c.values())) == [
            dry[name]["removed"], again["removed"]]
    after = snapshot(w)
    for key in ("intake.cases", "intake.contacts", "intake.history", "intake.closures", "consent.records",
                "consent.documents", "consent.decisions", "consent.status", "consent.cases", "notify.cases",
                "notify.reminders", "notify.notifications", "notify.consents", "registry.closures",
                "registry.versions", "registry.changes", "registry.consents"):
        assert after[key] == 0, key
    with w.intake.engine.connect() as conn:
        outbox = w.intake.tables["outbox"]
        assert conn.execute(select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_not(None))).scalar() == 0
    # What is not case data stays: the directory, the consent templates, the users' mail preferences.
    assert after["consent.templates"] == before["consent.templates"] > 0
    assert after["intake.users"] == before["intake.users"] > 0


# ---------------------------------------------------------------- the command line
def test_cli_access_and_erasure_act_for_a_local_contact_and_never_echo_the_number(world, tmp_path):
    w = world
    runner = w.app.test_cli_runner()
    refused = runner.invoke(args=["privacy", "access", "--as", "kari-veileder"], input=w.national_id + "\n")
    assert refused.exit_code == 1 and "not a local contact" in refused.output
    output = tmp_path / "innsyn.json"
    done = runner.invoke(args=["privacy", "access", "--as", "lise-kontakt", "--output", str(output)],
                         input=w.national_id + "\n")
    assert done.exit_code == 0, done.output
    assert w.national_id not in done.output
    assert oct(output.stat().st_mode & 0o777) == "0o600"
    assert len(json.loads(output.read_text())["cases"]) == 2
    nobody = runner.invoke(args=["privacy", "erase", "--as", "lise-kontakt", "--yes"], input="15076500565\n")
    assert nobody.exit_code == 1 and "Fant ingen saker" in nobody.output
    before = snapshot(w)
    unconfirmed = runner.invoke(args=["privacy", "erase", "--as", "lise-kontakt"], input=w.national_id + "\n")
    assert unconfirmed.exit_code == 1 and "Bekreft" in unconfirmed.output
    assert snapshot(w) == before
    erased = runner.invoke(args=["privacy", "erase", "--as", "lise-kontakt", "--yes"], input=w.national_id + "\n")
    assert erased.exit_code == 0, erased.output
    assert _last_json(erased.output)["deleted"]["cases"] == 2
    log = runner.invoke(args=["privacy", "log", "--office", "kristiansand"])
    entries = [json.loads(line) for line in log.output.strip().splitlines()]
    assert sorted(e["action"] for e in entries) == ["access_export", "erasure"]
    assert_no_person(log.output + erased.output, w)
