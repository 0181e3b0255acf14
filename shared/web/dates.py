"""The pages' date field for marshmallow: reads dd.mm.åååå (and ISO) with shared.dates, refuses with its message."""
from __future__ import annotations

from marshmallow import ValidationError, fields

from shared.dates import DATE_FORMAT_MESSAGE, parse_date


class DateText(fields.Date):
    """A page form's date as typed (the API's schemas keep fields.Date, ISO only)."""

    def _deserialize(self, value, attr, data, **kwargs):
        parsed = parse_date(value)
        if parsed is None:
            raise ValidationError(DATE_FORMAT_MESSAGE)
        return parsed
