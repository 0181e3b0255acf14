"""Every HTTP schema of notify (API and page forms), on shared.web.StrictSchema: a field a schema does not name is
refused. (The access request's input and the erasure receipt are the platform's own, in shared.privacy.)"""
from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from shared.web import N_, StrictSchema
from shared.web.i18n import LANGUAGES

from .domain.rules import MODES

MODE_CHOICE = N_("Velg enten «Med en gang» eller «Daglig oppsummering».")
LANGUAGE_CHOICE = N_("Velg bokmål (nb), nynorsk (nn) eller engelsk (en).")


class JsonBoolean(fields.Boolean):
    """JSON true or false only: marshmallow's Boolean would also take 0, 1, "yes" (and 0 == False in a set)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class Checkbox(fields.Field):
    """An HTML checkbox: ticked sends "on"; anything else, or nothing, is unticked."""

    def _deserialize(self, value, attr, data, **kwargs):
        return value == "on"


# ---------------------------------------------------------------------------------------------- API
class NotificationOut(StrictSchema):
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


class ListQuery(StrictSchema):
    unread = fields.Boolean(load_default=False)


class PreferencesIn(StrictSchema):
    mode = fields.String(validate=validate.OneOf(MODES, error=N_("må være immediate eller daily")))
    unsubscribed = JsonBoolean()
    language = fields.String(validate=validate.OneOf(LANGUAGES, error=LANGUAGE_CHOICE),
                             metadata={"description": "the language of the mails to you: nb, nn or en"})

    @validates_schema
    def _sets_something(self, data, **_kwargs):
        # An empty or missing body would change nothing yet answer 200: the caller's mistake, said out loud.
        if not data:
            raise ValidationError(N_("Oppgi mode, unsubscribed og/eller language."), "mode")


class PreferencesOut(StrictSchema):
    mode = fields.String()
    unsubscribed = fields.Boolean()
    language = fields.String(metadata={"description": "the language of the mails: nb, nn or en"})


class ReminderOut(StrictSchema):
    id = fields.Integer()
    rule = fields.String()
    case_id = fields.String()
    period = fields.Date()
    resolved_at = fields.DateTime(allow_none=True)
    resolution = fields.String(allow_none=True)
    resolved_by = fields.String(allow_none=True)


class OfficeCountsOut(StrictSchema):
    office = fields.String()
    name = fields.String()
    opened = fields.Integer()
    closed = fields.Integer()
    overdue = fields.Integer()
    active = fields.Integer()


class DeadLetterOut(StrictSchema):
    id = fields.Integer()
    kind = fields.String()
    mail_key = fields.String()
    recipient_id = fields.String(allow_none=True)
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime()


class RetryOut(StrictSchema):
    requeued = fields.Integer()


class NotifyAccessOut(StrictSchema):
    cases = fields.List(fields.Dict(), required=True, metadata={
        "description": "per case: schedule (dates and codes), contacts, measures, consent states, reminders"})
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


# ---------------------------------------------------------------------------------------------- page forms
class PreferencesForm(StrictSchema):
    """The mail settings on the notification page (the page loads the fields named here; the CSRF token is checked
    before)."""

    mode = fields.String(required=True, validate=validate.OneOf(MODES, error=MODE_CHOICE),
                         error_messages={"required": MODE_CHOICE})
    unsubscribed = Checkbox(load_default=False)
    language = fields.String(load_default=None, validate=validate.OneOf(LANGUAGES, error=LANGUAGE_CHOICE))
