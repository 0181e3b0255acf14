"""Norwegian pages: my notifications (mark as read, resolve), mail settings, unsubscribe, county overview,
dead letters for the admin."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from shared.web import current_platform, current_principal, roles_required

from . import notices
from .mailer import rule_title, user_from_unsubscribe_token

pages = Blueprint("notify_pages", __name__, template_folder="templates")

MESSAGES = {"lest": "Varselet er markert som lest.", "alle": "Alle varsler er markert som lest.",
            "lagret": "Innstillingene er lagret.", "lost": "Påminnelsen er markert som løst."}
RESOLUTIONS = {"closure_submitted": "Sluttskjema levert", "consent_registered": "Samtykke registrert",
               "mentor_contact_logged": "Kontakt med mentor logget", "case_active_again": "Ny aktivitet i saken",
               "consent_withdrawn": "Samtykke trukket", "interview_arranged": "Intervju avtalt",
               "survey_sent": "Invitasjon sendt"}


def _today():
    return current_app.extensions["notify_config"].window.local(current_platform().clock.now()).date()


@pages.get("/")
def index():
    principal = current_principal()
    platform = current_platform()
    with platform.engine.connect() as conn:
        items = notices.list_for(conn, principal.subject)
        prefs = notices.preferences_of(conn, principal.subject)
    unread = sum(1 for i in items if i["read_at"] is None)
    return render_template("notify/index.html", items=items, prefs=prefs, unread=unread,
                           resolutions=RESOLUTIONS, message=MESSAGES.get(request.args.get("melding")), errors={})


@pages.post("/varsler/<int:notification_id>/lest")
def mark_read(notification_id):
    platform = current_platform()
    with platform.engine.begin() as conn:
        notices.mark_read(conn, current_principal().subject, notification_id, platform.clock.now())
    return redirect(url_for("notify_pages.index", melding="lest"))


@pages.post("/varsler/lest")
def mark_all_read():
    platform = current_platform()
    with platform.engine.begin() as conn:
        notices.mark_all_read(conn, current_principal().subject, platform.clock.now())
    return redirect(url_for("notify_pages.index", melding="alle"))


@pages.post("/paminnelser/<int:reminder_id>/avtalt")
def resolve(reminder_id):
    platform = current_platform()
    with platform.engine.begin() as conn:
        notices.resolve_by_action(conn, current_principal(), reminder_id, platform.clock.now())
    return redirect(url_for("notify_pages.index", melding="lost"))


@pages.post("/innstillinger")
def save_preferences():
    principal = current_principal()
    platform = current_platform()
    mode = request.form.get("mode", "")
    errors = {}
    if mode not in notices.MODES:
        errors["mode"] = "Velg enten «Med en gang» eller «Daglig oppsummering»."
    if errors:
        with platform.engine.connect() as conn:
            items = notices.list_for(conn, principal.subject)
            prefs = notices.preferences_of(conn, principal.subject)
        return render_template("notify/index.html", items=items, prefs=prefs, resolutions=RESOLUTIONS, message=None,
                               unread=sum(1 for i in items if i["read_at"] is None), errors=errors), 422
    with platform.engine.begin() as conn:
        notices.set_preferences(conn, principal.subject, platform.clock.now(), mode=mode,
                                unsubscribed=request.form.get("unsubscribed") == "on")
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
        if user_id is None or platform.directory.user(conn, user_id) is None:
            return render_template("notify/unsubscribe.html", token=token, valid=False, done=False), 404
        notices.set_preferences(conn, user_id, platform.clock.now(), unsubscribed=True)
    return render_template("notify/unsubscribe.html", token=token, valid=True, done=True)


@pages.get("/fylke")
@roles_required("county_contact")
def county():
    principal = current_principal()
    platform = current_platform()
    with platform.engine.connect() as conn:
        rows = notices.county_overview(conn, principal, _today())
    return render_template("notify/county.html", rows=rows, county=principal.county, today=_today())


@pages.get("/feilede")
@roles_required("admin")
def dead_letters():
    with current_platform().engine.connect() as conn:
        rows = notices.dead_letters(conn)
        counts = notices.mail_status_counts(conn)
    return render_template("notify/dead.html", rows=rows, counts=counts)


@pages.post("/feilede/prov-igjen")
@roles_required("admin")
def retry_dead():
    from .mailer import retry_dead as requeue
    requeue(current_platform())
    return redirect(url_for("notify_pages.dead_letters"))


@pages.app_context_processor
def _helpers():
    return {"rule_title": rule_title}
