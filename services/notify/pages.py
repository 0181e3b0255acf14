"""Norwegian pages: my notifications (mark as read, resolve), mail settings, unsubscribe, county overview,
dead letters for the admin."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from marshmallow import ValidationError

from shared.web import N_, current_platform, current_principal, roles_required
from shared.web.paging import page_of

from . import access, service
from .domain.wording import rule_title
from .mailer import user_from_unsubscribe_token
from .schemas import PreferencesForm

pages = Blueprint("notify_pages", __name__, template_folder="templates")

MESSAGES = {"lest": N_("Varselet er markert som lest."), "alle": N_("Alle varsler er markert som lest."),
            "lagret": N_("Innstillingene er lagret."), "lost": N_("Påminnelsen er markert som løst.")}
RESOLUTIONS = {"closure_submitted": N_("Sluttskjema levert"), "consent_registered": N_("Samtykke registrert"),
               "mentor_contact_logged": N_("Kontakt med mentor logget"),
               "case_active_again": N_("Ny aktivitet i saken"), "consent_withdrawn": N_("Samtykke trukket"),
               "interview_arranged": N_("Intervju avtalt"), "survey_sent": N_("Invitasjon sendt")}


def _today():
    return service.local_today(current_platform(), current_app.extensions["notify_config"])


def _index(message=None, errors=None, status=200):
    principal = current_principal()
    with current_platform().engine.connect() as conn:
        total, unread = service.count_for(conn, principal.subject)
        page = page_of(total)
        items = service.list_for(conn, principal.subject, limit=page.size, offset=page.offset)
        prefs = service.preferences_of(conn, principal.subject)
    return render_template("notify/index.html", items=items, prefs=prefs, unread=unread, resolutions=RESOLUTIONS,
                           message=message, errors=errors or {}, page=page), status


def _back_to_list(message):
    """Back to the page of the list the action was on (the form sends its number), with the message."""
    side = request.form.get("side", "")
    return redirect(url_for("notify_pages.index", melding=message,
                            side=side if side.isdigit() and side != "1" else None))


@pages.get("/")
def index():
    return _index(message=MESSAGES.get(request.args.get("melding")))


@pages.post("/varsler/<int:notification_id>/lest")
def mark_read(notification_id):
    platform = current_platform()
    with platform.engine.begin() as conn:
        service.mark_read(conn, current_principal().subject, notification_id, platform.clock.now())
    return _back_to_list("lest")


@pages.post("/varsler/lest")
def mark_all_read():
    platform = current_platform()
    with platform.engine.begin() as conn:
        service.mark_all_read(conn, current_principal().subject, platform.clock.now())
    return redirect(url_for("notify_pages.index", melding="alle"))


@pages.post("/paminnelser/<int:reminder_id>/avtalt")
def resolve(reminder_id):
    platform = current_platform()
    with platform.engine.begin() as conn:
        service.resolve_by_action(conn, current_principal(), reminder_id, platform.clock.now())
    return _back_to_list("lost")


@pages.post("/innstillinger")
def save_preferences():
    schema = PreferencesForm()
    try:
        form = schema.load({name: request.form[name] for name in schema.fields if name in request.form})
    except ValidationError as error:
        return _index(errors={name: messages[0] for name, messages in error.messages.items()}, status=422)
    platform = current_platform()
    with platform.engine.begin() as conn:
        service.set_preferences(conn, current_principal().subject, platform.clock.now(), **form)
    return redirect(url_for("notify_pages.index", melding="lagret"))


@pages.get("/avmeld/<token>")
def unsubscribe_form(token):
    """The link in every mail: a confirmation page (a GET never changes anything; mail scanners follow links)."""
    user_id = user_from_unsubscribe_token(current_platform().settings, token)
    return render_template("notify/unsubscribe.html", token=token, valid=user_id is not None, done=False), \
        200 if user_id else 404


@pages.post("/avmeld/<token>")
def unsubscribe(token):
    platform = current_platform()
    user_id = user_from_unsubscribe_token(platform.settings, token)
    with platform.engine.begin() as conn:
        done = service.unsubscribe(conn, platform.directory, user_id, platform.clock.now())
    return render_template("notify/unsubscribe.html", token=token, valid=done, done=done), 200 if done else 404


@pages.get("/fylke")
@roles_required(*access.COUNTY_OVERVIEW)
def county():
    principal = current_principal()
    platform = current_platform()
    today = _today()
    with platform.engine.connect() as conn:
        rows = service.county_overview(conn, platform.directory, principal, today)
    return render_template("notify/county.html", rows=rows, county=principal.county, today=today)


@pages.get("/feilede")
@roles_required(*access.DEAD_LETTERS)
def dead_letters():
    with current_platform().engine.connect() as conn:
        rows = service.dead_letters(conn)
        counts = service.mail_status_counts(conn)
    return render_template("notify/dead.html", rows=rows, counts=counts)


@pages.post("/feilede/prov-igjen")
@roles_required(*access.DEAD_LETTERS)
def retry_dead():
    service.retry_dead(current_platform())
    return redirect(url_for("notify_pages.dead_letters"))


@pages.app_context_processor
def _helpers():
    return {"rule_title": rule_title}

