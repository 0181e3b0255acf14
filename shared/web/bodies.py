"""How a request's body enters a service: within the limits of shared.limits, as strict JSON or a strict form.

`PlatformRequest` (every service's request class) holds a body to its limit by kind (an upload form may be as large
as a document and its fields, anything else as large as data), parses forms strictly and reads JSON through
`strict_json_loads`. `DrainBody` reads what the app left unread of a body before the answer goes out, so that a
refusal (413, 401, ...) reaches a proxy that is still sending instead of a reset connection (the proxy's 502).

Every refusal is a `BodyRefused` (400) naming the field where there is one, in the platform's error format.
"""
from __future__ import annotations

import json
import math
import re
from urllib.parse import parse_qsl

from flask import Request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge
from werkzeug.formparser import FormDataParser
from werkzeug.wsgi import LimitedStream

from shared import limits

WHOLE_BODY = "json"  # the key of a message about the body as a whole (flask-smorest's location name)
_INT64 = 2**63
_UNREADABLE_TEXT = re.compile("[\x00\ud800-\udfff\ufffd]")


class BodyRefused(BadRequest):
    """A body that is not what the platform accepts; `data["messages"]` groups the messages as flask-smorest does."""

    def __init__(self, errors: dict[str, list[str]], location: str = "json"):
        super().__init__("Forespørselen kunne ikke leses.")
        self.data = {"messages": {location: errors}}


class TooLarge(RequestEntityTooLarge):
    """A body or a form field over its limit that is not an upload: the answer names the part, never a document
    (a service's own 413 handler speaks of the file it takes)."""

    def __init__(self, where: str, limit: int):
        super().__init__()
        self.data = {"messages": {where: [f"Største tillatte størrelse er {limits.human_size(limit)}."]}}


def refuse_oversized_data(request) -> None:
    """A body that is not an upload form, declared larger than DATA_MAX_BYTES: refused before anything reads it."""
    if request.mimetype != "multipart/form-data" and (request.content_length or 0) > limits.DATA_MAX_BYTES:
        where = "form" if request.mimetype == "application/x-www-form-urlencoded" else WHOLE_BODY
        raise TooLarge(where, limits.DATA_MAX_BYTES)


# ---------------------------------------------------------------- JSON
class _Refused:
    """Put in place of a value the parser must not hand on; `_problems` reports it with its field."""

    def __init__(self, message: str):
        self.message = message


class _WithDuplicates(dict):
    def __init__(self, pairs, duplicates):
        super().__init__(pairs)
        self.duplicates = duplicates


def _object(pairs):
    seen, duplicates = set(), []
    for key, _value in pairs:
        if key in seen:
            duplicates.append(key)
        seen.add(key)
    return _WithDuplicates(pairs, duplicates) if duplicates else dict(pairs)


def _integer(text: str):
    # Python refuses to parse more than 4,300 digits with a ValueError, not a JSON error; no id or count the
    # platform keeps is outside a 64-bit integer.
    value = int(text) if len(text) <= 20 else None
    if value is None or not -_INT64 <= value < _INT64:
        return _Refused("Tallet er for stort.")
    return value


def _float(text: str):
    value = float(text)
    return value if math.isfinite(value) else _Refused("Tallet er for stort.")


def _constant(name: str):
    return _Refused(f"{name} er ikke et tall i JSON.")


def _too_deep_at(text: str) -> str | None:
    """The top-level field (or WHOLE_BODY) where arrays and objects nest deeper than JSON_MAX_DEPTH, else None.

    Checked before parsing: the standard parser recurses once per level and fails with a RecursionError."""
    if text.count("[") + text.count("{") <= limits.JSON_MAX_DEPTH:
        return None  # not enough brackets (in strings or not) to nest that deep: no need to tokenise every string
    depth, field = 0, WHOLE_BODY
    for token in re.finditer(r'"(?:[^"\\]|\\.)*"(\s*:)?|[\[\]{}]', text):
        lexeme = token.group()
        if lexeme in "[{":
            depth += 1
            if depth > limits.JSON_MAX_DEPTH:
                return field
        elif lexeme in "]}":
            depth -= 1
        elif token.group(1) and depth == 1:
            try:
                field = json.loads(lexeme[:-len(token.group(1))])
            except ValueError:
                field = WHOLE_BODY
    return None


def _text_problem(text: str) -> str | None:
    found = _UNREADABLE_TEXT.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "Teksten inneholder et NUL-tegn."
    return "Teksten inneholder tegn som ikke er gyldig Unicode."


def _problems(value, path: str, found: dict[str, list[str]]):
    def add(where, message):
        found.setdefault(where or WHOLE_BODY, []).append(message)

    if isinstance(value, _Refused):
        add(path, value.message)
    elif isinstance(value, str):
        problem = _text_problem(value)
        if problem:
            add(path, problem)
    elif isinstance(value, dict):
        for key in getattr(value, "duplicates", ()):
            add(f"{path}.{key}" if path else key, "Feltet er oppgitt mer enn én gang.")
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            problem = _text_problem(key)
            if problem:
                add(path, "Et feltnavn: " + problem[0].lower() + problem[1:])
            _problems(item, where, found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _problems(item, f"{path}.{index}" if path else str(index), found)


def strict_json_loads(data: bytes | str):
    """Parse a JSON body or raise BodyRefused: strict UTF-8, at most JSON_MAX_DEPTH deep, no duplicate keys, no
    NaN/Infinity, no number beyond a double or a 64-bit integer, no lone surrogate or NUL in any string."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise BodyRefused({WHOLE_BODY: ["Innholdet er ikke gyldig UTF-8."]}) from None
    too_deep = _too_deep_at(data)
    if too_deep is not None:
        raise BodyRefused({too_deep: [f"Verdien er nøstet dypere enn {limits.JSON_MAX_DEPTH} nivåer."]})
    refused = []  # the parser's refusals (a duplicate key, a number out of range, NaN): then the walk finds where

    def noted(parse):
        def hook(given):
            value = parse(given)
            if type(value) is _Refused or type(value) is _WithDuplicates:
                refused.append(value)
            return value
        return hook

    try:
        value = json.loads(data, object_pairs_hook=noted(_object), parse_int=noted(_integer),
                           parse_float=noted(_float), parse_constant=noted(_constant))
    except json.JSONDecodeError as error:
        raise BodyRefused({WHOLE_BODY: [f"Ugyldig JSON (linje {error.lineno}, kolonne {error.colno})."]}) from None
    # A NUL, a lone surrogate or U+FFFD in a decoded string is in the text as it is or written as a \u escape; a
    # body with neither (nearly every body) needs no walk through its strings.
    if not refused and "\\u" not in data and _UNREADABLE_TEXT.search(data) is None:
        return value
    found: dict[str, list[str]] = {}
    _problems(value, "", found)
    if found:
        raise BodyRefused(found)
    return value


class StrictJSONProvider(DefaultJSONProvider):
    """The app's JSON: `request.get_json()` (and so every reader of a request's JSON) parses strictly."""

    def loads(self, s, **kwargs):
        return strict_json_loads(s)


# ---------------------------------------------------------------- forms
class StrictFormDataParser(FormDataParser):
    """URL-encoded forms are decoded strictly: werkzeug would drop a whole form with invalid UTF-8 silently, or keep
    an undecodable percent-escape as the text '%FF'."""

    def _parse_urlencoded(self, stream, mimetype, content_length, options):
        try:
            items = parse_qsl(stream.read().decode("utf-8"), keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            raise BodyRefused({"form": ["Skjemaet er ikke gyldig UTF-8."]}, location="form") from None
        return stream, self.cls(items), self.cls()


class PlatformRequest(Request):
    """Every service's request: limits by kind of body, strict forms (see the module's docstring). A field of a
    multipart form is held to FIELD_MAX_BYTES by the app's MAX_FORM_MEMORY_SIZE."""

    form_data_parser_class = StrictFormDataParser

    @property
    def _is_upload(self) -> bool:
        return self.mimetype == "multipart/form-data"

    @property
    def max_content_length(self) -> int | None:
        configured = super().max_content_length
        return configured if self._is_upload else min(configured or limits.DATA_MAX_BYTES, limits.DATA_MAX_BYTES)

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value

    def _load_form_data(self) -> None:
        try:
            super()._load_form_data()
        except RequestEntityTooLarge:
            if (self.content_length or 0) > (self.max_content_length or 0):
                raise
            # The body is within its limit, so one field is over FIELD_MAX_BYTES (or there are too many parts).
            raise TooLarge("form", limits.FIELD_MAX_BYTES) from None
        # A multipart field is decoded with replacement characters for invalid UTF-8; refuse instead.
        found = {}
        for name, value in self.form.items(multi=True):
            problem = _text_problem(value) or _text_problem(name)
            if problem:
                found.setdefault(name if not _text_problem(name) else "form", []).append(problem)
        if found:
            self.__dict__["form"] = self.parameter_storage_class()  # nobody reads the refused form after this
            raise BodyRefused(found, location="form")


# ---------------------------------------------------------------- the unread rest of a body
class DrainBody:
    """WSGI middleware: after the app has answered, read and discard what it left of the request body (up to
    BODY_MAX_BYTES, the most a proxy forwards). The server then closes a connection with nothing unread, so a
    proxy still sending the body gets the answer instead of a reset."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        body = _counted_input(environ)
        try:
            return self.app(environ, start_response)
        finally:
            if body is not None:
                _discard(body)


def _discard(body: LimitedStream) -> None:
    try:
        while body.read(64 * limits.KIB):
            pass
    except (OSError, HTTPException):  # the client went away, or a chunked body goes on past the limit
        pass


def _counted_input(environ) -> LimitedStream | None:
    """Wrap wsgi.input so that what is read of it is counted and the rest can be discarded; None: nothing to do."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    chunked = environ.get("wsgi.input_terminated", False) and not length
    if not (0 < length <= limits.BODY_MAX_BYTES or chunked):
        return None
    stream = LimitedStream(environ["wsgi.input"], limits.BODY_MAX_BYTES if chunked else length, is_max=chunked)
    environ["wsgi.input"] = stream
    return stream
