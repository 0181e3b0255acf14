"""The notify API (bearer token): one's own notifications, mark-as-read, mail preferences, resolving a reminder
by action, the county contact's counts, and the dead letters for an admin."""
from __future__ import annotations

from flask import current_app

from shared.web import ApiBlueprint, current_platform, current_principal, error_response, roles_required

from . import access, service
from .domain import NotResolvableByHand
from .schemas import (
    DeadLetterOut,
    ListQuery,
    NotificationOut,
    OfficeCountsOut,
    PreferencesIn,
    PreferencesOut,
    ReminderOut,
    RetryOut,
)

blp = ApiBlueprint("notify_api", __name__, url_prefix="/api/v1", description="Reminders, notifications and digests")


@blp.route("/notifications", methods=["GET"])
@blp.arguments(ListQuery, location="query")
@blp.response(200, NotificationOut(many=True))
def list_notifications(query):
    """The caller's own notifications, newest first."""
    principal = current_principal()
    with current_platform().engine.connect() as conn:
        return service.list_for(conn, principal.subject, unread_only=query["unread"])


@blp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@blp.response(204)
def read_notification(notification_id):
    """Mark one of the caller's own notifications as read (another's answers 404)."""
    platform = current_platform()
    with platform.engine.begin() as conn:
        service.mark_read(conn, current_principal().subject, notification_id, platform.clock.now())


@blp.route("/preferences", methods=["GET"])
@blp.response(200, PreferencesOut)
def get_preferences():
    with current_platform().engine.connect() as conn:
        return service.preferences_of(conn, current_principal().subject)


@blp.route("/preferences", methods=["PUT"])
@blp.arguments(PreferencesIn)
@blp.response(200, PreferencesOut)
def put_preferences(data):
    """Immediate mail or a daily digest, and unsubscribing from mail (the in-app list stays)."""
    platform = current_platform()
    with platform.engine.begin() as conn:
        return service.set_preferences(conn, current_principal().subject, platform.clock.now(), **data)


@blp.route("/reminders/<int:reminder_id>/resolve", methods=["POST"])
@blp.response(200, ReminderOut)
def resolve_reminder(reminder_id):
    """Resolve a reminder by its action (interview arranged); it then neither repeats nor escalates."""
    platform = current_platform()
    try:
        with platform.engine.begin() as conn:
            return service.resolve_by_action(conn, current_principal(), reminder_id, platform.clock.now())
    except NotResolvableByHand as error:
        return error_response(409, str(error))


@blp.route("/county", methods=["GET"])
@blp.response(200, OfficeCountsOut(many=True))
@roles_required(*access.COUNTY_OVERVIEW)
def county_counts():
    """Counts per office of the caller's county: opened and closed in the last 7 days, overdue, active."""
    platform = current_platform()
    today = service.local_today(platform, current_app.extensions["notify_config"])
    with platform.engine.connect() as conn:
        return service.county_overview(conn, platform.directory, current_principal(), today)


@blp.route("/dead-letters", methods=["GET"])
@blp.response(200, DeadLetterOut(many=True))
@roles_required(*access.DEAD_LETTERS)
def list_dead_letters():
    with current_platform().engine.connect() as conn:
        return service.dead_letters(conn)


@blp.route("/dead-letters/retry", methods=["POST"])
@blp.response(200, RetryOut)
@roles_required(*access.DEAD_LETTERS)
def retry_dead_letters():
    return {"requeued": service.retry_dead(current_platform())}
