"""Dates as people type them on the pages: dd.mm.åååå (also d.m.åååå), ISO accepted too. Pure: no Flask.

The pages show date fields as text (the browser's own date input follows its locale, e.g. 12/03/2026), so the server
reads what was typed; the JSON API keeps ISO dates through its schemas."""
from __future__ import annotations

import re
from datetime import date

from shared.text import N_

# The one message for a date that cannot be read, the same on every page (translated where it is shown).
DATE_FORMAT_MESSAGE = N_("Skriv datoen som dd.mm.åååå, for eksempel 03.12.2026.")
DATE_HINT = N_("dd.mm.åååå")

_NORWEGIAN = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_date(text) -> date | None:
    """The date in `text`, or None when it is not a real date in dd.mm.åååå, d.m.åååå or åååå-mm-dd."""
    if isinstance(text, date):
        return text
    if not isinstance(text, str):
        return None
    text = text.strip()
    try:
        if match := _NORWEGIAN.fullmatch(text):
            return date(int(match[3]), int(match[2]), int(match[1]))
        if _ISO.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:  # 31.02., month 13 and the like
        return None
    return None


def shown(value) -> str:
    """A date as the field shows it (dd.mm.åååå); text that is not a date is shown as it was typed."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    parsed = parse_date(value) if _ISO.fullmatch(str(value).strip()) else None
    return parsed.strftime("%d.%m.%Y") if parsed else str(value)
