"""Mail: rendering (Norwegian, plain text and HTML, no personal data) and delivery over SMTP.

Delivery claims a mail with a lease, sends it, then marks it sent in a second transaction. The one window SMTP
cannot close is between the server's acceptance and that commit: a crash there sends the mail once more after
the lease runs out, with the same Message-ID (a hash of the mail's unique key), so a receiving system can drop
the repeat. Failures back off exponentially; after NOTIFY_MAX_ATTEMPTS a mail becomes a visible dead letter.
"""
from __future__ import annotations

import hashlib
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import and_, or_, select

from . import tables as t
from .intake_client import ContactUnavailable

TEMPLATES = Path(__file__).parent / "templates" / "mail"
_env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)

RULE_TEXT = {
    "closure_overdue": ("Sluttskjema mangler", "Saken har ikke hatt aktivitet eller tiltak på en stund og er ikke "
                        "avsluttet. Fyll ut sluttskjemaet (registreringsskjemaet) eller registrer ny aktivitet."),
    "mentor_contact_missing": ("Ingen kontakt med mentor", "Det er ikke logget kontakt med mentor på en stund. "
                               "Hybridmodellen forutsetter tett og jevn kontakt med mentor."),
    "consent_missing": ("Samtykke mangler", "Samtykke til at registreringsdata deles med forskerne er ikke "
                        "registrert for saken."),
    "project_end": ("Prosjektet nærmer seg slutt", "Prosjektet avsluttes snart. Send registreringsskjemaet for "
                    "saken, også om den fortsatt pågår."),
    "interview": ("Intervjuer skal avtales", "Et intervjutidspunkt i prosjektet nærmer seg. Avtal intervju med "
                  "mentor og arbeidsgiver, og marker intervjuet som avtalt i varslingslisten."),
    "employer_survey": ("Arbeidsgiverundersøkelse", "Invitasjon til arbeidsgiverundersøkelsen."),
}


def rule_title(rule):
    return RULE_TEXT[rule][0]


def case_ref(case_id: str) -> str:
    return "Sak " + case_id[:8]


_LETTERS_ONLY = str.maketrans("0123456789", "ghijklmnop")


def message_id(mail_key: str, domain: str) -> str:
    """Stable per mail key. Letters only (hex with its digits mapped to g–p): a run of eleven digits in a hash can
    pass the national-ID checksum by chance, and then no scan could tell it from a leak."""
    digest = hashlib.sha256(mail_key.encode()).hexdigest()[:40].translate(_LETTERS_ONLY)
    return f"<{digest}@{domain}>"


def unsubscribe_serializer(settings):
    return URLSafeSerializer(settings.auth_signing_key or settings.auth_verify_key, salt="notify-unsubscribe")


def unsubscribe_token(settings, user_id):
    return unsubscribe_serializer(settings).dumps({"u": user_id})


def user_from_unsubscribe_token(settings, token):
    try:
        return unsubscribe_serializer(settings).loads(token)["u"]
    except (BadSignature, KeyError, TypeError):
        return None


class Cancel(Exception):
    """The mail should no longer go out (reminder resolved, user unsubscribed or gone, consent withdrawn)."""


@dataclass
class Rendered:
    to: str
    subject: str
    text: str
    html: str
    unsubscribe_url: str | None = None


def _reminder_item(public_url, reminder, kind):
    title = rule_title(reminder["rule"])
    return {"title": title + (" (eskalert)" if kind == "escalation" else ""), "ref": case_ref(reminder["case_id"]),
            "text": RULE_TEXT[reminder["rule"]][1], "link": f"{public_url}/intake/saker/{reminder['case_id']}",
            "period": reminder["period"].strftime("%d.%m.%Y")}


def render_mail(conn, platform, mail, contacts) -> Rendered:
    """Build the mail from ids, codes and counts. The survey invitation alone carries a contact detail."""
    public_url = platform.settings.public_url
    base = {"public_url": public_url, "list_url": public_url + "/notify/"}
    if mail["kind"] == "survey":
        reminder = conn.execute(select(t.reminders).where(t.reminders.c.id == mail["reminder_id"])).mappings().first()
        case = conn.execute(select(t.cases).where(t.cases.c.case_id == reminder["case_id"])).mappings().first()
        if reminder["resolved_at"] is not None or case is None or case["survey_consent"] != "granted":
            raise Cancel("employer survey consent no longer granted")
        from .sweep import load_project
        project = load_project(conn)
        contact = contacts.employer_contact(reminder["case_id"])
        context = dict(base, ref=case_ref(reminder["case_id"]), contact=contact, project=project,
                       closed_on=case["closed_on"].strftime("%d.%m.%Y"))
        return Rendered(project["survey_address"], f"Arbeidsgiverundersøkelse: {case_ref(reminder['case_id'])}",
                        _env.get_template("survey.txt").render(**context),
                        _env.get_template("survey.html").render(**context))
    users = t.platform["users"]
    user = conn.execute(select(users).where(users.c.id == mail["recipient_id"])).mappings().first()
    if user is None:
        raise Cancel("recipient no longer in the directory")
    pref = conn.execute(select(t.preferences).where(t.preferences.c.user_id == user["id"])).mappings().first()
    if pref and pref["unsubscribed"]:
        raise Cancel("recipient unsubscribed")
    unsubscribe_url = f"{public_url}/notify/avmeld/{unsubscribe_token(platform.settings, user['id'])}"
    base["unsubscribe_url"] = unsubscribe_url
    if mail["kind"] == "notice":
        row = conn.execute(select(t.notifications.c.kind, t.reminders).select_from(
            t.notifications.join(t.reminders, t.reminders.c.id == t.notifications.c.reminder_id))
            .where(t.notifications.c.id == mail["notification_id"])).mappings().first()
        if row is None or row["resolved_at"] is not None:
            raise Cancel("reminder resolved")
        item = _reminder_item(public_url, row, row["kind"])
        subject = f"{item['title']}: {item['ref']}"
        context = dict(base, items=[item], intro="Du har en påminnelse fra hybridmodell-prosjektet.")
    elif mail["kind"] == "digest":
        rows = conn.execute(select(t.notifications.c.kind, t.reminders).select_from(
            t.notifications.join(t.reminders, t.reminders.c.id == t.notifications.c.reminder_id))
            .where(t.notifications.c.digest_key == mail["mail_key"], t.reminders.c.resolved_at.is_(None))
            .order_by(t.notifications.c.id)).mappings().all()
        if not rows:
            raise Cancel("every reminder of the digest is resolved")
        items = [_reminder_item(public_url, row, row["kind"]) for row in rows]
        subject = f"Daglig oversikt: {len(items)} påminnelse{'r' if len(items) != 1 else ''}"
        context = dict(base, items=items, intro="Dette er din daglige oversikt over åpne påminnelser.")
    elif mail["kind"] == "county":
        payload = mail["payload"]
        offices = t.platform["offices"]
        names = dict(conn.execute(select(offices.c.code, offices.c.name)
                                  .where(offices.c.county_code == payload["county"])).all())
        rows = [dict(o, name=names.get(o["office"], o["office"])) for o in payload["offices"]]
        subject = f"Ukeoversikt for kontorene i fylket ({payload['week']})"
        context = dict(base, rows=rows, week=payload["week"], county_url=public_url + "/notify/fylke")
        return Rendered(user["email"], subject, _env.get_template("county.txt").render(**context),
                        _env.get_template("county.html").render(**context), unsubscribe_url)
    else:
        raise Cancel(f"unknown mail kind {mail['kind']}")
    return Rendered(user["email"], subject, _env.get_template("notice.txt").render(**context),
                    _env.get_template("notice.html").render(**context), unsubscribe_url)


def build_message(rendered: Rendered, mail_key: str, smtp_config, now: datetime) -> EmailMessage:
    message = EmailMessage()
    message["From"] = smtp_config.sender
    message["To"] = rendered.to
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(mail_key, smtp_config.message_id_domain)
    message["Auto-Submitted"] = "auto-generated"
    if rendered.unsubscribe_url:
        message["List-Unsubscribe"] = f"<{rendered.unsubscribe_url}>"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


class SmtpSender:
    """One SMTP session for a delivery batch: plain, STARTTLS or implicit TLS, optional auth."""

    def __init__(self, config, ssl_context=None):
        self.config = config
        self.ssl_context = ssl_context or ssl.create_default_context(cafile=config.ca_file)
        self.client = None

    def _connect(self):
        c = self.config
        if c.security == "tls":
            client = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=self.ssl_context)
        else:
            client = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
        try:
            if c.security == "starttls":
                client.starttls(context=self.ssl_context)
            if c.username:
                client.login(c.username, c.password)
        except BaseException:
            client.close()
            raise
        return client

    def send(self, message: EmailMessage):
        if self.client is None:
            self.client = self._connect()
        try:
            self.client.send_message(message)
        except (smtplib.SMTPServerDisconnected, OSError):
            self.close()
            raise

    def close(self):
        if self.client is not None:
            try:
                self.client.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self.client = None


@dataclass
class DeliveryResult:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    cancelled: int = 0
    outside_hours: bool = False
    errors: list = field(default_factory=list)


def _wall():
    """Leases are about processes, not about the business calendar: wall time, not the settable clock."""
    return datetime.now(UTC)


def _claim(platform, config, limit):
    m = t.mails
    now = platform.clock.now()
    wall = _wall()
    free = or_(m.c.claimed_until.is_(None), m.c.claimed_until < wall)
    claimed = []
    with platform.engine.begin() as conn:
        ids = [row.id for row in conn.execute(select(m.c.id).where(m.c.status == "pending", m.c.next_attempt_at <= now,
                                                                  free).order_by(m.c.id).limit(limit))]
        for mail_id in ids:
            taken = conn.execute(m.update().where(m.c.id == mail_id, m.c.status == "pending", free)
                                 .values(claimed_until=wall + timedelta(seconds=config.claim_seconds))).rowcount
            if taken:
                claimed.append(mail_id)
    return claimed


def _finish(platform, mail_id, **values):
    m = t.mails
    with platform.engine.begin() as conn:
        conn.execute(m.update().where(m.c.id == mail_id).values(claimed_until=None, **values))
        if values.get("status") == "sent":
            mail = conn.execute(select(m.c.kind, m.c.reminder_id).where(m.c.id == mail_id)).first()
            if mail.kind == "survey":
                conn.execute(t.reminders.update().where(t.reminders.c.id == mail.reminder_id,
                                                        t.reminders.c.resolved_at.is_(None))
                             .values(resolved_at=platform.clock.now(), resolution="survey_sent", resolved_by="notify"))


def backoff(config, attempts: int) -> timedelta:
    return timedelta(seconds=min(config.backoff_max_seconds, config.backoff_seconds * 2 ** max(attempts - 1, 0)))


def deliver_due(platform, config, contacts, limit: int = 200, sender=None) -> DeliveryResult:
    """Send what is due, if it is a working day within office hours."""
    result = DeliveryResult()
    now = platform.clock.now()
    if not config.window.is_open(now):
        result.outside_hours = True
        return result
    sender = sender or SmtpSender(config.smtp)
    claimed = _claim(platform, config, limit)
    done = set()
    try:
        for mail_id in claimed:
            done.add(mail_id)
            outcome = None
            # Render in a short read transaction and close it before writing (SQLite has one writer at a time).
            with platform.engine.connect() as conn:
                mail = conn.execute(select(t.mails).where(t.mails.c.id == mail_id)).mappings().first()
                try:
                    rendered = render_mail(conn, platform, mail, contacts)
                except (Cancel, ContactUnavailable) as reason:
                    outcome = reason
            if isinstance(outcome, Cancel):
                _finish(platform, mail_id, status="cancelled", last_error=str(outcome))
                result.cancelled += 1
                continue
            if isinstance(outcome, ContactUnavailable):
                _fail(platform, config, mail, str(outcome), result)
                continue
            message = build_message(rendered, mail["mail_key"], config.smtp, now)
            try:
                sender.send(message)
            except (smtplib.SMTPException, OSError) as error:
                _fail(platform, config, mail, f"SMTP: {type(error).__name__}: {error}"[:500], result)
                if not isinstance(error, smtplib.SMTPRecipientsRefused):
                    break  # the server is down or unhappy: leave the rest for the next round
                continue
            _finish(platform, mail_id, status="sent", sent_at=platform.clock.now(), attempts=mail["attempts"] + 1,
                    last_error=None)
            result.sent += 1
    finally:
        sender.close()
        untried = [mail_id for mail_id in claimed if mail_id not in done]
        if untried:  # left for the next round: release them now rather than when the lease runs out
            with platform.engine.begin() as conn:
                conn.execute(t.mails.update().where(t.mails.c.id.in_(untried)).values(claimed_until=None))
    return result


def _fail(platform, config, mail, error, result):
    attempts = mail["attempts"] + 1
    result.errors.append(error)
    if attempts >= config.max_attempts:
        _finish(platform, mail["id"], status="dead", attempts=attempts, last_error=error)
        result.dead += 1
    else:
        _finish(platform, mail["id"], attempts=attempts, last_error=error,
                next_attempt_at=platform.clock.now() + backoff(config, attempts))
        result.failed += 1


def retry_dead(platform, mail_ids=None) -> int:
    """An operator puts dead letters back in the queue (after fixing SMTP or intake)."""
    m = t.mails
    condition = [m.c.status == "dead"]
    if mail_ids:
        condition.append(m.c.id.in_(mail_ids))
    with platform.engine.begin() as conn:
        return conn.execute(m.update().where(and_(*condition)).values(
            status="pending", attempts=0, next_attempt_at=platform.clock.now(), claimed_until=None)).rowcount
