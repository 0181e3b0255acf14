"""The notify API (bearer token): one's own notifications, mark-as-read, mail preferences, resolving a reminder
by action, the county contact's counts, and the dead letters for an admin."""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from shared.auth import NotFound
from shared.web import ApiBlueprint, current_platform, current_principal, error_response, roles_required

from . import notices

blp = ApiBlueprint("notify_api", __name__, url_prefix="/api/v1", description="Reminders, notifications and digests")


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class NotificationOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    title = fields.String()
    case_id = fields.String()
    case_ref = fields.String()
    rule = fields.String()
    reminder_id = fields.Integer()
    period = fields.Date()
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)
    resolution = fields.String(allow_none=True)
    resolvable = fields.Boolean()


class ListQuery(_Strict):
    unread = fields.Boolean(load_default=False)


class JsonBoolean(fields.Boolean):
    """JSON true or false only: marshmallow's Boolean would also take 0, 1, "yes" (and 0 == False in a set)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class PreferencesIn(_Strict):
    mode = fields.String(validate=validate.OneOf(notices.MODES, error="må være immediate eller daily"))
    unsubscribed = JsonBoolean()

    @validates_schema
    def _sets_something(self, data, **_kwargs):
        # An empty or missing body would change nothing yet answer 200: the caller's mistake, said out loud.
        if not data:
            raise ValidationError("Oppgi mode og/eller unsubscribed.", "mode")


class PreferencesOut(Schema):
    mode = fields.String()
    unsubscribed = fields.Boolean()


class ReminderOut(Schema):
    id = fields.Integer()
    rule = fields.String()
    case_id = fields.String()
    period = fields.Date()
    resolved_at = fields.DateTime(allow_none=True)
    resolution = fields.String(allow_none=True)
    resolved_by = fields.String(allow_none=True)


class OfficeCountsOut(Schema):
    office = fields.String()
    name = fields.String()
    opened = fields.Integer()
    closed = fields.Integer()
    overdue = fields.Integer()
    active = fields.Integer()


class DeadLetterOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    mail_key = fields.String()
    recipient_id = fields.String(allow_none=True)
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime()


class RetryOut(Schema):
    requeued = fields.Integer()


def _today():
    platform = current_platform()
    from flask import current_app
    return current_app.extensions["notify_config"].window.local(platform.clock.now()).date()


@blp.route("/notifications", methods=["GET"])
@blp.arguments(ListQuery, location="query")
@blp.response(200, NotificationOut(many=True))
def list_notifications(query):
    """The caller's own notifications, newest first."""
    principal = current_principal()
    with current_platform().engine.connect() as conn:
        return notices.list_for(conn, principal.subject, unread_only=query["unread"])


@blp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@blp.response(204)
def read_notification(notification_id):
    """Mark one of the caller's own notifications as read (another's answers 404)."""
    platform = current_platform()
    with platform.engine.begin() as conn:
        notices.mark_read(conn, current_principal().subject, notification_id, platform.clock.now())


@blp.route("/preferences", methods=["GET"])
@blp.response(200, PreferencesOut)
def get_preferences():
    with current_platform().engine.connect() as conn:
        return notices.preferences_of(conn, current_principal().subject)


@blp.route("/preferences", methods=["PUT"])
@blp.arguments(PreferencesIn)
@blp.response(200, PreferencesOut)
def put_preferences(data):
    """Immediate mail or a daily digest, and unsubscribing from mail (the in-app list stays)."""
    platform = current_platform()
    with platform.engine.begin() as conn:
        return notices.set_preferences(conn, current_principal().subject, platform.clock.now(), **data)


@blp.route("/reminders/<int:reminder_id>/resolve", methods=["POST"])
@blp.response(200, ReminderOut)
def resolve_reminder(reminder_id):
    """Resolve a reminder by its action (interview arranged); it then neither repeats nor escalates."""
    platform = current_platform()
    try:
        with platform.engine.begin() as conn:
            return notices.resolve_by_action(conn, current_principal(), reminder_id, platform.clock.now())
    except ValueError as error:
        return error_response(409, str(error))


@blp.route("/county", methods=["GET"])
@blp.response(200, OfficeCountsOut(many=True))
@roles_required("county_contact")
def county_counts():
    """Counts per office of the caller's county: opened and closed in the last 7 days, overdue, active."""
    with current_platform().engine.connect() as conn:
        return notices.county_overview(conn, current_principal(), _today())


@blp.route("/dead-letters", methods=["GET"])
@blp.response(200, DeadLetterOut(many=True))
@roles_required("admin")
def list_dead_letters():
    with current_platform().engine.connect() as conn:
        return notices.dead_letters(conn)


@blp.route("/dead-letters/retry", methods=["POST"])
@blp.response(200, RetryOut)
@roles_required("admin")
def retry_dead_letters():
    from .mailer import retry_dead
    return {"requeued": retry_dead(current_platform())}


__all__ = ["blp", "NotFound"]
