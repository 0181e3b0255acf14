"""Helpers for notify's tests: a real SMTP server on loopback (aiosmtpd), events as intake and consent publish
them, and the personal-data scan every test SMTP server runs over every mail it received when it stops.

Import the fixture into a test module as `smtp_sink_fixture` (noqa: F401); tests take it as `smtp_sink`.
"""
from __future__ import annotations

import email
import hashlib
import re
import socket
import threading
import uuid
from datetime import UTC, date, datetime
from email import policy

import pytest
from aiosmtpd.controller import Controller
from stdnum.no import fodselsnummer

from services.notify import handlers
from shared.bus.consumer import apply_envelope
from shared.bus.envelope import make_envelope

# Personal data that exists in the world of these tests (intake holds it) and must never reach a mail.
CANDIDATE_NAMES = ("Aisha Kandidatsen", "Bjørn Testesen", "Kari Kandidat")
NATIONAL_IDS = ("15076500565", "01010750160", "31129900183")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler:
    def __init__(self, sink):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):
        if self.sink.before_accept is not None and self.sink.before_accept(self.sink, envelope) == "drop":
            return "451 try again later"
        with self.sink.lock:
            self.sink.raw.append(envelope.content)
        if self.sink.after_store is not None:
            self.sink.after_store(self.sink, envelope)
        return "250 OK"


class SmtpSink:
    """A real SMTP server on 127.0.0.1; `after_store` runs once the mail is stored, before the 250 reply."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.raw: list[bytes] = []
        self.lock = threading.Lock()
        self.before_accept = None
        self.after_store = None
        self.controller = None

    def start(self):
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self):
        with self.lock:
            return [email.message_from_bytes(raw, policy=policy.default) for raw in self.raw]

    def message_ids(self):
        return [m["Message-ID"] for m in self.messages]

    def env(self):
        return {"NOTIFY_SMTP_HOST": "127.0.0.1", "NOTIFY_SMTP_PORT": str(self.port)}


def personal_data_in(raw: bytes, names=CANDIDATE_NAMES) -> list[str]:
    """Every 11-digit token that passes the national-ID checksum, and every candidate name, in the whole mail
    (headers and every decoded part)."""
    message = email.message_from_bytes(raw, policy=policy.default)
    texts = [raw.decode("utf-8", "replace"), str(message["Subject"] or "")]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            texts.append(part.get_content())
    found = []
    for text in texts:
        for token in re.findall(r"(?<!\d)\d{11}(?!\d)", text):
            if fodselsnummer.is_valid(token):
                found.append(token)
        for name in names:
            if name.lower() in text.lower():
                found.append(name)
    return found


def assert_no_personal_data(sink: SmtpSink, allow_survey=False):
    for raw in list(sink.raw):
        found = personal_data_in(raw)
        assert found == [], f"personal data in a mail: {found} in {raw[:3000]!r}"


@pytest.fixture(name="smtp_sink")
def smtp_sink_fixture():
    """A started SMTP server; when the test ends, every mail it received is scanned for personal data."""
    sinks = []

    def start(port=None):
        sink = SmtpSink(port).start()
        sinks.append(sink)
        return sink
    yield start
    for sink in sinks:
        sink.stop()
    for sink in sinks:
        assert_no_personal_data(sink)


# ------------------------------------------------------------------ events as intake and consent publish them
def h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def envelope(event_type, office, payload, producer="intake", at=None):
    return make_envelope(event_type, office, payload, producer=producer,
                         occurred_at=at or datetime(2026, 1, 1, tzinfo=UTC))


def case_opened(case_id, opened_on: date, office="kristiansand", counsellor="kari-veileder", relation="colleague"):
    return envelope("case.opened", office, {
        "case_id": case_id, "candidate_hash": h("c" + str(case_id)), "opened_on": opened_on,
        "entry_point": "course_start", "counsellor_id": counsellor,
        "mentor_id": None if relation == "none" else uuid.uuid4(), "mentor_relation": relation,
        "employer_hash": h("e" + str(case_id))})


def contact_logged(case_id, on: date, party="mentor", office="kristiansand", contact_id=None, revision=1,
                   deleted=False):
    return envelope("case.contact_logged", office, {
        "case_id": case_id, "contact_id": contact_id or uuid.uuid4(), "revision": revision, "contact_date": on,
        "party": party, "form": "phone", "minutes": 15, "deleted": deleted})


def measure_changed(case_id, from_date, to_date, office="kristiansand", measure_id=None, deleted=False):
    return envelope("case.measure_changed", office, {
        "case_id": case_id, "measure_id": measure_id or uuid.uuid4(), "measure": "mentor_subsidy",
        "from_date": from_date, "to_date": to_date, "deleted": deleted})


def closure_payload(case_id, opened_on, closed_on, counsellor="kari-veileder"):
    return {
        "case_id": case_id, "version": 1, "candidate_hash": h("c" + str(case_id)), "counsellor_id": counsellor,
        "mentor_id": uuid.uuid4(), "employer_hash": h("e" + str(case_id)), "opened_on": opened_on,
        "closed_on": closed_on, "closure_reason": "measure_completed", "entry_point": "course_start",
        "industry": "retail", "initiator": "counsellor", "reasons": ["extra_follow_up"],
        "counsellor_knew_company": "no", "attachment_before": "none", "mentor_relation": "colleague",
        "mentor_measure_used": True, "measures": [],
        "contact": {"frequency_candidate": "weekly", "frequency_mentor": "weekly", "frequency_employer": "monthly",
                    "intensity": "even", "forms": ["phone"], "duration": "3_6_months", "contacts_logged": 3,
                    "minutes_total": 60},
        "attachment_after": "no_attachment", "attached_same_company": "no",
        "success_criteria": {"list_version": "2022-1", "assessments": {}},
        "feedback_mentor": "satisfied", "feedback_counsellor": "satisfied"}


def case_closed(case_id, opened_on, closed_on, office="kristiansand"):
    return envelope("case.closed", office, closure_payload(case_id, opened_on, closed_on))


def consent(status, case_id, purpose, at: datetime, office="kristiansand"):
    payload = {"case_id": case_id, "purpose": purpose, "template_version": 1, "effective_at": at}
    if status == "granted":
        payload["expires_on"] = None
    if status == "withdrawn":
        payload["data_policy"] = "erase"
    return envelope("consent." + status, office, payload, producer="consent", at=at)


def deliver_event(platform, env):
    """Through the bus consumer's own inbox + handler transaction (processed, duplicate or ignored; Reject raised)."""
    return apply_envelope(platform, handlers.consumer_spec(), env)


def notify_env(sink=None, **extra):
    env = {"NOTIFY_BACKOFF_SECONDS": "60", "NOTIFY_CLAIM_SECONDS": "1", "NOTIFY_LOOP_SECONDS": "1"}
    if sink is not None:
        env.update(sink.env())
    env.update(extra)
    return env


def test_the_scan_finds_a_national_id_and_a_name_hidden_in_html():
    """The scan can fail: a valid national ID in an HTML part and a candidate name in the subject are found."""
    from email.message import EmailMessage
    message = EmailMessage()
    message["Subject"] = "Påminnelse for " + CANDIDATE_NAMES[0]
    message.set_content("ingenting her 12345678901")
    message.add_alternative(f"<p>{NATIONAL_IDS[0]}</p>", subtype="html")
    found = personal_data_in(message.as_bytes())
    assert NATIONAL_IDS[0] in found and CANDIDATE_NAMES[0] in found
    assert "12345678901" not in found  # not a valid checksum
