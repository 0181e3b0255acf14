"""Every state-changing request is safe to repeat: the first answer is replayed, the effect happens once.

A POST, PUT, PATCH or DELETE by a signed-in caller that carries a key claims a row of the service's
`request_replays` (`shared.replays`) before its view runs, and records the view's answer there afterwards:

- API clients send `Idempotency-Key: <1-255 visible ASCII characters>`; pages carry a hidden `_form_token` field,
  a fresh random token from the Jinja global `form_token()` on every rendering of a form. The header wins when a
  request has both.
- A repeat by the same caller (principal subject; service tokens too) with the same key and the same request
  (SHA-256 of method, path with query, and body) gets the first answer again: status, body, and the headers
  `REPLAYED_HEADERS`, marked `Idempotent-Replayed: true`; the view does not run.
- The same key with another request: 422 (`idempotency_key_reused`). A malformed key: 400.
- A repeat while the first still runs waits up to `REPLAY_WAIT_SECONDS` (3 s) for its answer and replays it, so a
  double click gets the first redirect; after that, 409 (`request_in_progress`) with `Retry-After`.
- Answers of 5xx and of "ask again" statuses (`ASK_AGAIN`: 408, 409, 412, 425, 428, 429) are not kept: the claim
  is released and a retry runs the view anew. Every other answer (2xx, 3xx, other 4xx) is kept for 24 hours on the
  platform clock; expired rows are purged lazily by the next claims (at most once a minute per process).
- A claim whose process died (a worker killed mid-request) is taken over after `LEASE` (longer than gunicorn's
  timeout, so the first process is gone by then).
- Nothing in the table is readable without the keyring: caller and key, and the request's digest, are keyed hashes;
  the answer is a `shared.crypto` blob bound to its row. The office's keys serve an office caller; a caller without
  an office (admin, researcher, county contact, service token) uses the keyring's `_platform` entry
  (`shared.replays.PLATFORM_KEYS`, made by `flask keys init`). Where the caller's keys are missing, a keyed request
  is refused with 503 before its view runs: it is never carried out unprotected.
- The case id of the URL (`case_id`), or else a top-level `case_id` of the JSON or form body, is kept beside the row,
  so `shared.replays.erase_replays(conn, case_ids)` removes the answers about erased cases.

Not replayed: requests without a signed-in caller (the API answers them 401 anyway), the sign-in and sign-out
posts (their answer is a cookie), and views marked `not_replayed` (a POST that only reads, whose answer must not be
kept: a search by national ID, an access request).
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import time
import uuid
from datetime import timedelta

from apispec import BasePlugin
from flask import Response, current_app, g, make_response, render_template, request
from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from shared.crypto import DecryptionError, UnknownKeyError, decrypt, encrypt
from shared.db import read_only
from shared.logs import log_event
from shared.replays import PLATFORM_KEYS, purge_expired

from . import UNSAFE_METHODS, current_platform, error_response, wants_json

HEADER = "Idempotency-Key"
FORM_FIELD = "_form_token"
REPLAYED_HEADERS = ("Content-Type", "Location", "ETag", "Last-Modified", "Content-Disposition")
ASK_AGAIN = frozenset({408, 409, 412, 425, 428, 429})
KEPT_FOR = timedelta(hours=24)
LEASE = timedelta(seconds=120)
PURGE_EVERY_SECONDS = 60.0
_POLL_SECONDS = 0.05
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]{1,255}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_NOT_HASHED_FIELDS = ("csrf_token", FORM_FIELD)
_EXEMPT_BLUEPRINTS = ("signin",)
log = logging.getLogger("shared.web.idempotency")


def register(app) -> None:
    """Hook replays into a service app: called by `create_service_app` after the platform's own request hooks, so
    authentication, CSRF and the role check come first (a refused request claims nothing)."""
    app.config.setdefault("REPLAY_WAIT_SECONDS", 3.0)
    app.extensions["request_replays"] = {"purged_at": None}
    app.before_request(_replay_or_claim)
    app.after_request(_record_answer)
    app.teardown_request(_release_unrecorded_claim)
    app.jinja_env.globals["form_token"] = form_token
    api = app.extensions.get("smorest_api")
    if api is not None:
        api.spec.components.parameter("IdempotencyKey", "header", IDEMPOTENCY_KEY_PARAMETER)
        api.spec.plugins = (*api.spec.plugins, _IdempotencyKeyDocumented(app))


def form_token() -> str:
    """A fresh token for one rendering of a form: `<input type="hidden" name="_form_token" value="{{ form_token() }}">`.
    A second post of the same rendered form then gets the first post's answer."""
    return secrets.token_urlsafe(24)


def not_replayed(view):
    """Decorator for a POST that changes nothing and whose answer must not be kept (it holds a person's data beyond
    what the case's erasure reaches): the key is accepted and ignored."""
    view.not_replayed = True
    return view


# ---------------------------------------------------------------- before the view
def _replay_or_claim():
    if request.method not in UNSAFE_METHODS or request.url_rule is None or g.get("principal") is None:
        return None
    if request.blueprint in _EXEMPT_BLUEPRINTS or \
            getattr(current_app.view_functions.get(request.endpoint), "not_replayed", False):
        return None
    key, source = _key_of_request()
    if key is None:
        return None
    if not _VISIBLE_ASCII.fullmatch(key):
        return _refusal(400, "Idempotency-Key må være 1–255 synlige ASCII-tegn (uten mellomrom)." if source == HEADER
                        else "Skjemaet kunne ikke leses. Last siden på nytt og send igjen.", "invalid_idempotency_key")
    platform = current_platform()
    principal = g.principal
    keys = principal.office or PLATFORM_KEYS
    try:
        platform.keyring.current_version(keys)
    except UnknownKeyError:
        log_event(log, "no keys for request replays", level=logging.ERROR, keys=keys)
        return _refusal(503, "Tjenesten kan ikke ta imot denne forespørselen nå. Prøv igjen senere.",
                        "replays_unavailable")
    lookup = platform.keyring.keyed_hash(keys, f"{principal.subject}\x1f{key}")
    fingerprint = platform.keyring.keyed_hash(keys, _request_digest())
    wait_until = time.monotonic() + current_app.config["REPLAY_WAIT_SECONDS"]
    row = _claim(platform, keys, lookup, fingerprint)
    while row is not None:
        if row.fingerprint != fingerprint:
            return _refusal(422, f"{HEADER} er alt brukt til en annen forespørsel. Bruk en ny nøkkel for en ny "
                            "forespørsel." if source == HEADER else
                            "Dette skjemaet er alt sendt med andre verdier. Last siden på nytt og send igjen.",
                            "idempotency_key_reused")
        if row.status is not None:
            return _replay(platform, keys, row)
        if time.monotonic() >= wait_until:
            response = _refusal(409, "En lik forespørsel er fortsatt under behandling. Vent litt og prøv igjen.",
                                "request_in_progress")
            response.headers["Retry-After"] = "1"
            return response
        time.sleep(_POLL_SECONDS)
        row = _read(platform, lookup)
        if row is None:  # the first was not kept (5xx, ask again): this one runs
            row = _claim(platform, keys, lookup, fingerprint)
    return None


def _key_of_request() -> tuple[str | None, str | None]:
    if HEADER in request.headers:
        return request.headers[HEADER], HEADER
    # Only a page's form post carries the token; an API client's body is never parsed here before its view.
    if g.get("auth_via_cookie") and request.mimetype in _FORM_TYPES and FORM_FIELD in request.form:
        return request.form[FORM_FIELD], FORM_FIELD
    return None, None


def _request_digest() -> str:
    """SHA-256 of method, path with query and body; a form's fields and files in a canonical order (the body of a
    form post is already parsed by the CSRF check, and its boundary differs between two posts of the same form)."""
    digest = hashlib.sha256()

    def part(data: bytes):
        digest.update(b"%d:" % len(data) + data)
    part(request.method.encode())
    part(request.path.encode("utf-8", "surrogateescape"))
    part(request.query_string)
    if request.mimetype in _FORM_TYPES:
        for name, value in sorted(request.form.items(multi=True)):
            if name not in _NOT_HASHED_FIELDS:
                part(name.encode("utf-8", "surrogateescape"))
                part(value.encode("utf-8", "surrogateescape"))
        for name, storage in sorted(request.files.items(multi=True), key=lambda item: item[0]):
            part(name.encode("utf-8", "surrogateescape"))
            part((storage.filename or "").encode("utf-8", "surrogateescape"))
            part(_file_digest(storage.stream))
    else:
        part(request.get_data(cache=True))
    return digest.hexdigest()


def _file_digest(stream) -> bytes:
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(1 << 16), b""):
        digest.update(chunk)
    stream.seek(0)
    return digest.digest()


def _case_of_request() -> str | None:
    """The case the request is about: the URL's `case_id`, or a top-level `case_id` of the body."""
    candidate = (request.view_args or {}).get("case_id")
    if candidate is None and request.mimetype in _FORM_TYPES:
        candidate = request.form.get("case_id")
    elif candidate is None and request.is_json:
        try:
            body = json.loads(request.get_data(cache=True))
        except (ValueError, RecursionError):
            body = None  # the view answers for a body it cannot read
        candidate = body.get("case_id") if isinstance(body, dict) else None
    return candidate.lower() if isinstance(candidate, str) and _UUID.fullmatch(candidate) else None


def _claim(platform, keys, lookup, fingerprint):
    """Claim the row for this caller and key (None), or return the row a first request holds."""
    replays = platform.tables["replays"]
    now = platform.clock.now()
    claim = uuid.uuid4().hex
    with platform.engine.begin() as conn:
        _purge_if_due(conn, now)
        conn.execute(delete(replays).where(replays.c.lookup == lookup, or_(
            replays.c.expires_at <= now, and_(replays.c.status.is_(None), replays.c.lease_until <= now))))
        insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(replays)
        claimed = conn.execute(insert.values(
            lookup=lookup, fingerprint=fingerprint, claim=claim, status=None, response=None,
            case_id=_case_of_request(), created_at=now, lease_until=now + LEASE, expires_at=now + KEPT_FOR,
        ).on_conflict_do_nothing(index_elements=[replays.c.lookup])).rowcount == 1
        if not claimed:
            return conn.execute(select(replays).where(replays.c.lookup == lookup)).first()
    g.replay_claim = {"lookup": lookup, "claim": claim, "keys": keys}
    return None


def _read(platform, lookup):
    replays = platform.tables["replays"]
    with platform.engine.connect() as conn, read_only(conn).begin():
        return conn.execute(select(replays).where(replays.c.lookup == lookup)).first()


def _purge_if_due(conn, now) -> None:
    state = current_app.extensions["request_replays"]
    if state["purged_at"] is None or time.monotonic() - state["purged_at"] >= PURGE_EVERY_SECONDS:
        state["purged_at"] = time.monotonic()
        purge_expired(conn, now)


def _replay(platform, keys, row):
    try:
        plain = decrypt(platform.keyring, keys, row.response, replay=row.lookup)
    except DecryptionError:
        log_event(log, "a kept answer does not open", level=logging.ERROR, keys=keys)
        return _refusal(503, "Tjenesten kan ikke ta imot denne forespørselen nå. Prøv igjen senere.",
                        "replays_unavailable")
    headers, _, body = plain.partition(b"\n")
    g.replayed = True
    response = Response(body, status=row.status, headers=json.loads(headers))
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _refusal(status: int, message: str, code: str) -> Response:
    """A refusal in the platform's error format (JSON for the API, the error page for pages)."""
    if wants_json():
        response, _ = error_response(status, message, code=code)
        response.status_code = status
        return response
    return make_response(render_template("error.html", status=status, message=message), status)


# ---------------------------------------------------------------- after the view
def _record_answer(response):
    claim = g.pop("replay_claim", None)
    if claim is None:
        return response
    platform = current_platform()
    replays = platform.tables["replays"]
    mine = and_(replays.c.lookup == claim["lookup"], replays.c.claim == claim["claim"])
    try:
        with platform.engine.begin() as conn:
            if response.status_code >= 500 or response.status_code in ASK_AGAIN:
                conn.execute(delete(replays).where(mine))
                return response
            response.direct_passthrough = False  # a file or stream is read into memory once, to be kept
            headers = [(name, value) for name, value in response.headers.items() if name in REPLAYED_HEADERS]
            plain = json.dumps(headers).encode() + b"\n" + response.get_data()
            conn.execute(update(replays).where(mine).values(
                status=response.status_code,
                response=encrypt(platform.keyring, claim["keys"], plain, replay=claim["lookup"])))
    except Exception as error:  # noqa: BLE001  (the view's effect is done: its answer still goes to the client)
        # The claim stays held until its lease ends, so a repeat meanwhile gets 409 rather than a second effect.
        log_event(log, "answer not kept for replay", level=logging.ERROR, error_type=type(error).__name__)
    return response


def _release_unrecorded_claim(_error):
    """A request that ended without an answer (an exception past every handler): its view did not finish, so a
    retry may run it."""
    claim = g.pop("replay_claim", None)
    if claim is None:
        return
    platform = current_platform()
    replays = platform.tables["replays"]
    try:
        with platform.engine.begin() as conn:
            conn.execute(delete(replays).where(replays.c.lookup == claim["lookup"],
                                               replays.c.claim == claim["claim"]))
    except Exception as error:  # noqa: BLE001  (the claim then ends with its lease)
        log_event(log, "claim not released", level=logging.ERROR, error_type=type(error).__name__)


# ---------------------------------------------------------------- OpenAPI
IDEMPOTENCY_KEY_PARAMETER = {
    "name": HEADER,
    "description": "Optional: 1-255 visible ASCII characters, new for every intended change. A repeat with the "
                   "same key and the same request gets the first answer again (`Idempotent-Replayed: true`) "
                   "within 24 hours; the same key with another request gets 422, a repeat while the first still "
                   "runs gets 409 after a short wait.",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
}


class _IdempotencyKeyDocumented(BasePlugin):
    """apispec plugin: every POST, PUT, PATCH and DELETE operation of the service names the header."""

    def __init__(self, app):
        self.app = app

    def operation_helper(self, path=None, operations=None, rule=None, **kwargs):
        view = self.app.view_functions.get(rule.endpoint) if rule is not None else None
        if getattr(view, "not_replayed", False):
            return
        for method, operation in (operations or {}).items():
            if method.upper() in UNSAFE_METHODS:
                operation.setdefault("parameters", []).append("IdempotencyKey")
