"""The version a caller saw, for views that change a versioned resource (a closure, a correction, a withdrawal, an
erasure): a repeat or a race must not act on a version its sender never saw.

A view reads the expected version with `expected_version()` (from `If-Match: "v3"` or `W/"v3"`, or a form or body
field `expected_version`) before it changes anything; without one the caller gets 428 Precondition Required. It then
compares with the current version in the same transaction as the change and calls `require_version`, which answers
409 naming the current version on a mismatch. Reads of the resource send `ETag: "v<version>"` (`version_etag`,
`set_version_etag`), which a client echoes as `If-Match`.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

from flask import request
from werkzeug.exceptions import BadRequest, Conflict, PreconditionRequired, UnprocessableEntity

from shared.text import N_, Text

FIELD = "expected_version"
_VERSION_ETAG = re.compile(r'\s*(?:W/)?"v(\d{1,18})"\s*')
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
THE_CASE = Text(N_("Saken"))  # what changed, in a 409, unless the view names another resource


def version_etag(version: int) -> str:
    """The ETag of a resource at `version`: `"v3"` (strong: the version names the whole representation)."""
    return f'"v{int(version)}"'


def set_version_etag(response, version: int):
    response.headers["ETag"] = version_etag(version)
    return response


def expected_version(data: Mapping | None = None, field: str = FIELD) -> int:
    """The version the caller saw: `If-Match`, else `field` of `data` (the view's parsed body) or of the posted form.

    Absent: 428 with a Norwegian message. A malformed `If-Match` (not one ETag of this platform, e.g. `*` or a list):
    400 naming the header. A malformed field: 422 naming the field. Both given and different: 400."""
    from_header = _from_if_match(request.headers.get("If-Match"))
    from_field = _from_field(data, field)
    if from_header is not None and from_field is not None and from_header != from_field:
        raise _header_error(Text(N_("If-Match og feltet {field} oppgir ulike versjoner: send bare én."), field=field))
    version = from_header if from_header is not None else from_field
    if version is None:
        raise PreconditionRequired(Text(N_(
            'Oppgi versjonen du så: send If-Match med sakens ETag (for eksempel "v3") eller feltet {field}. Slik '
            "blir en gjentatt eller samtidig innsending ikke registrert to ganger."), field=field))
    return version


def require_version(expected: int, current: int, what: Text = THE_CASE) -> None:
    """409 when the caller saw another version than the current one (call it inside the change's transaction)."""
    if expected != current:
        raise Conflict(Text(N_("{what} er endret siden du hentet den (du så versjon {expected}, nå er den versjon "
                               "{current}). Hent den på nytt og prøv igjen."), what=what, expected=expected,
                            current=current))


def _from_if_match(value: str | None) -> int | None:
    if value is None:
        return None
    match = _VERSION_ETAG.fullmatch(value)
    if match is None:
        raise _header_error('If-Match må være én ETag fra tjenesten, for eksempel "v3".')
    return int(match.group(1))


def _from_field(data: Mapping | None, field: str) -> int | None:
    if data is not None:
        value = data.get(field)
    elif request.mimetype in _FORM_TYPES:
        value = request.form.get(field)
    else:
        value = None
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**18:
        return value
    error = UnprocessableEntity()
    error.data = {"messages": {"form" if data is None else "json": {
        field: ["Versjonen må være et helt tall (den du så)."]}}}
    raise error


def _header_error(message: str) -> BadRequest:
    error = BadRequest(message)
    error.data = {"messages": {"headers": {"If-Match": [message]}}}
    return error
