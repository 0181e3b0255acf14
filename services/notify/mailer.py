"""Mail as notify sends it (an adapter, kept apart from the use cases): the plain text + HTML rendered from ids, codes
and counts (no personal data; the survey invitation alone carries the employer's contact) in the recipient's
language (bokmål, nynorsk or English from the project's catalogue: a person of NAV's choice in the notify
preferences, the survey address's in the project settings), the message with its stable Message-ID, the signed
unsubscribe link, and one SMTP session per delivery batch. What goes out and when is decided in service.py
(deliver_due)."""
from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from babel.support import Translations
from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import Environment, FileSystemLoader, select_autoescape

from shared.text import N_, Text, render
from shared.web.i18n import DEFAULT_LANGUAGE, LANGUAGES, TRANSLATIONS

from .domain.delivery import message_id
from .domain.wording import case_ref, notification_title, rule_text

TEMPLATES = Path(__file__).parent / "templates" / "mail"
_languages: dict[str, tuple[Environment, Translations]] = {}


def mail_language(chosen: str | None) -> str:
    """A recorded choice if it is one of the three languages, else bokmål."""
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def _language(language: str) -> tuple[Environment, Translations]:
    """The templates and the catalogue of one language (made once: the worker renders outside any request)."""
    if language not in _languages:
        translations = Translations.load(str(TRANSLATIONS), [language])  # bokmål: none, the ids are bokmål
        env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                          trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.i18n"])
        env.policies["ext.i18n.trimmed"] = True  # as the pages' templates are extracted (babel.cfg)
        env.install_gettext_translations(translations, newstyle=True)
        env.globals["language"] = language
        _languages[language] = (env, translations)
    return _languages[language]


def unsubscribe_serializer(settings):
    return URLSafeSerializer(settings.auth_signing_key or settings.auth_verify_key, salt="notify-unsubscribe")


def unsubscribe_token(settings, user_id):
    return unsubscribe_serializer(settings).dumps({"u": user_id})


def user_from_unsubscribe_token(settings, token):
    try:
        return unsubscribe_serializer(settings).loads(token)["u"]
    except (BadSignature, KeyError, TypeError):
        return None


@dataclass
class Rendered:
    to: str
    subject: str
    text: str
    html: str
    unsubscribe_url: str | None = None


def _base(settings) -> dict:
    return {"public_url": settings.public_url, "list_url": settings.public_url + "/notify/"}


def _unsubscribe_url(settings, user) -> str:
    return f"{settings.public_url}/notify/avmeld/{unsubscribe_token(settings, user['id'])}"


def _reminder_item(public_url, reminder, kind, translations):
    return {"title": render(notification_title(reminder["rule"], kind), translations.gettext),
            "ref": render(case_ref(reminder["case_id"]), translations.gettext),
            "text": render(rule_text(reminder["rule"]), translations.gettext),
            "link": f"{public_url}/intake/saker/{reminder['case_id']}",
            "period": reminder["period"].strftime("%d.%m.%Y")}


def _render(env, template, to, subject, context, unsubscribe_url=None) -> Rendered:
    return Rendered(to, subject, env.get_template(f"{template}.txt").render(**context),
                    env.get_template(f"{template}.html").render(**context), unsubscribe_url)


def survey_mail(settings, case_id: str, closed_on, project: dict, contact) -> Rendered:
    """The invitation to the project's survey address, with the employer's contact details, in the language the
    project settings record for that address (`survey_language`; bokmål without one)."""
    env, translations = _language(mail_language(project.get("survey_language")))
    context = dict(_base(settings), ref=render(case_ref(case_id), translations.gettext), contact=contact,
                   project=project, closed_on=closed_on.strftime("%d.%m.%Y"))
    subject = render(Text(N_("Arbeidsgiverundersøkelse: {ref}"), ref=case_ref(case_id)), translations.gettext)
    return _render(env, "survey", project["survey_address"], subject, context)


def notice_mail(settings, user, item, language: str = DEFAULT_LANGUAGE) -> Rendered:
    """One notification (`item`: its kind with its reminder's columns), in the recipient's chosen language."""
    env, translations = _language(mail_language(language))
    unsubscribe_url = _unsubscribe_url(settings, user)
    rendered = _reminder_item(settings.public_url, item, item["kind"], translations)
    context = dict(_base(settings), unsubscribe_url=unsubscribe_url, items=[rendered],
                   intro=translations.gettext(N_("Du har en påminnelse fra hybridmodell-prosjektet.")))
    return _render(env, "notice", user["email"], f"{rendered['title']}: {rendered['ref']}", context,
                   unsubscribe_url)


def digest_mail(settings, user, items, language: str = DEFAULT_LANGUAGE) -> Rendered:
    """A daily digest of the open reminders among the user's waiting notifications."""
    env, translations = _language(mail_language(language))
    unsubscribe_url = _unsubscribe_url(settings, user)
    rendered = [_reminder_item(settings.public_url, item, item["kind"], translations) for item in items]
    subject = translations.ngettext("Daglig oversikt: %(num)d påminnelse", "Daglig oversikt: %(num)d påminnelser",
                                    len(rendered)) % {"num": len(rendered)}
    context = dict(_base(settings), unsubscribe_url=unsubscribe_url, items=rendered,
                   intro=translations.gettext(N_("Dette er din daglige oversikt over åpne påminnelser.")))
    return _render(env, "notice", user["email"], subject, context, unsubscribe_url)


def county_mail(settings, user, payload: dict, office_names: dict, language: str = DEFAULT_LANGUAGE) -> Rendered:
    """The weekly counts per office of the county contact's county (counts only, no case references)."""
    env, translations = _language(mail_language(language))
    unsubscribe_url = _unsubscribe_url(settings, user)
    rows = [dict(o, name=office_names.get(o["office"], o["office"])) for o in payload["offices"]]
    context = dict(_base(settings), unsubscribe_url=unsubscribe_url, rows=rows, week=payload["week"],
                   county_url=settings.public_url + "/notify/fylke")
    subject = render(Text(N_("Ukeoversikt for kontorene i fylket ({week})"), week=payload["week"]),
                     translations.gettext)
    return _render(env, "county", user["email"], subject, context, unsubscribe_url)


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
