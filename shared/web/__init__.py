"""The web plumbing every service inherits: app factory base, auth, CSRF, headers, errors, health, metrics.

`create_service_app` builds a Flask app with all of it; a service adds its API blueprints (flask-smorest,
so the OpenAPI document comes from the schemas) and its page blueprint.

Every state-changing request is safe to repeat (`idempotency`): with an `Idempotency-Key` header or a page's
`_form_token` field (Jinja `form_token()`), a repeat gets the first answer and the effect happens once; views of a
versioned resource read the version the caller saw with `preconditions.expected_version` (428 without it).
"""
from __future__ import annotations

import hmac
import json
import logging
import math
import secrets
import sys
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from urllib.parse import urlsplit

import flask_smorest
from flask import Blueprint, Flask, current_app, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_smorest import Api
from jwt.utils import base64url_decode
from marshmallow import RAISE, Schema, ValidationError, fields, missing, pre_load
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import BaseConverter, IntegerConverter

from shared import limits
from shared.auth import (
    COOKIE_NAME,
    SERVICE_ROLE,
    AuthError,
    Forbidden,
    NotFound,
    Principal,
    mint_token,
    require_role,
    verify_token,
)
from shared.config import ConfigError, load_settings
from shared.logs import configure_logging, correlation_id, log_event
from shared.oidc import TokenRefused
from shared.platform import Platform

from . import cli, frame, health, i18n, keeping, metrics
from .bodies import (
    WHOLE_BODY,
    BodyRefused,
    DrainBody,
    PlatformRequest,
    StrictJSONProvider,
    TooLarge,
    refuse_oversized_data,
    strict_json_loads,
)
from .i18n import N_, translate, translate_messages
from .signin import ended_sessions, identity_provider, signin_blueprint

CSRF_COOKIE = "hybrid_csrf"
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
log = logging.getLogger("shared.web")

platform_blueprint = Blueprint("platform", __name__, template_folder="templates", static_folder="static",
                               static_url_path="/platform-static")


def create_service_app(service: str, import_name: str, tables: dict, settings=None, platform=None,
                       api_title: str | None = None) -> Flask:
    if settings is None:
        try:
            settings = load_settings(service)
            if "gunicorn" in sys.modules:  # a web server, not a relay, consumer or one-off command
                refuse_unsafe_web_settings(settings)
        except ConfigError as error:
            # An operator needs the variable and what is wrong with it, not a stack trace.
            sys.stderr.write(f"{service}: configuration error: {error}\n")
            # 3 is gunicorn's "worker failed to boot": the master halts instead of restarting workers forever.
            raise SystemExit(3) from None
    configure_logging(service, settings.log_level)
    app = Flask(import_name)
    # Bodies enter within shared.limits, as strict JSON or a strict form; what a refusal leaves unread is drained.
    app.request_class = PlatformRequest
    app.json = StrictJSONProvider(app)
    app.wsgi_app = ProxyFix(DrainBody(app.wsgi_app), x_for=1, x_proto=1, x_host=1, x_prefix=1)
    # Ids in paths are checked by the route itself: a malformed or out-of-range id is a plain 404, never a
    # database error (a UUID column on PostgreSQL, a 64-bit integer on SQLite).
    app.url_map.converters["uid"] = UUIDStringConverter
    app.url_map.converters["int"] = BoundedIntConverter
    app.config.update(
        SERVICE=service,
        API_TITLE=api_title or f"{service} API",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        PUBLIC_URL=settings.public_url,
        MAX_CONTENT_LENGTH=limits.BODY_MAX_BYTES,
        MAX_FORM_MEMORY_SIZE=limits.FIELD_MAX_BYTES,
        JSON_SORT_KEYS=False,
    )
    app.extensions["platform"] = platform or Platform(settings, tables)
    api = app.extensions["smorest_api"] = PlatformApi(app, spec_kwargs={"components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}}, "security": [{"bearer": []}]})
    api.register_converter(UUIDStringConverter, lambda _converter: {"type": "string", "format": "uuid"})
    api.register_converter(BoundedIntConverter,
                           lambda _converter: {"type": "integer", "minimum": 0, "maximum": BoundedIntConverter.MAX})
    app.register_blueprint(platform_blueprint)
    app.register_blueprint(signin_blueprint)
    app.register_blueprint(keeping.keeping_blueprint)
    health.register(app)
    metrics.register(app, service)
    cli.register(app)
    _register_request_hooks(app)
    from . import idempotency  # after this module's helpers exist: it answers in their error format
    idempotency.register(app)
    _register_error_handlers(app)
    app.jinja_env.globals.update(csrf_token=csrf_token, principal=lambda: g.get("principal"),
                                 nav_links=nav_links, service_name=service)
    frame.register(app, nav_links)
    i18n.register(app)
    return app


def refuse_unsafe_web_settings(settings):
    """A web service outside local demo mode signs people in only through the identity provider, and keeps its
    sessions with a key of its own: a missing one stops start-up, naming it (the published development key is
    refused by load_settings itself)."""
    if settings.demo_mode:
        return
    if settings.auth_signing_key is None:
        raise ConfigError("AUTH_SIGNING_KEY must be set: the session key, a random secret of at least 32 characters")
    if settings.oidc is None:
        raise ConfigError("OIDC_ISSUER must be set: outside local demo mode people sign in through an OpenID "
                          "Connect provider")
    if not settings.oidc.client_secret:
        raise ConfigError("OIDC_CLIENT_SECRET must be set: the platform's client secret at the provider")


class StrictSchema(Schema):
    """The base of every HTTP schema: a field the schema does not name is refused (422), never silently dropped,
    and an integer field takes whole numbers only (marshmallow would store 30.7 as 30 and -0.5 as 0)."""

    class Meta:
        unknown = RAISE

    @pre_load
    def _whole_numbers_only(self, data, **_kwargs):
        if not isinstance(data, Mapping):
            return data  # not an object: marshmallow's own "Invalid input type"
        errors = {}
        for key, field in self._integer_fields():
            if key in data and not _whole_numbers_where_integers(field, data[key]):
                errors[key] = [WHOLE_NUMBER_MESSAGE]
        if errors:
            raise ValidationError(errors)
        return data


    def _integer_fields(self) -> list:
        """(key, field) of the fields that take an integer somewhere, found once per schema instance (a request's
        schema is built once): the check then skips every text, date and code field."""
        found = self.__dict__.get("_integer_fields_found")
        if found is None:
            found = self._integer_fields_found = [(field.data_key or name, field)
                                                  for name, field in self.load_fields.items()
                                                  if _takes_integers(field)]
        return found

    def load(self, data, *, many=None, partial=None, unknown=None):
        # A body of plain values (every request a form or a client sends as it should) is taken without
        # marshmallow's per-field machinery, which was a tenth of a closure submit's CPU; anything else, and every
        # refusal, is marshmallow's (`_load_plain`).
        if many is None and partial is None and unknown in (None, RAISE) and type(data) is dict:
            loaded = self._load_plain(data)
            if loaded is not None:
                return loaded
        return super().load(data, many=many, partial=partial, unknown=unknown)

    def _load_plain(self, data: dict) -> dict | None:
        """What `Schema.load` gives for `data`, when the schema is one of plain fields (text, a list of texts, a
        mapping of texts, an integer, a raw value; no validator, no hook of its own) and every value given is of
        exactly the field's type; None for anything else, which marshmallow then loads. A test holds the two to
        the same answers."""
        plan = self.__dict__.get("_plain_plan", False)
        if plan is False:
            plan = self._plain_plan = _plain_plan(self)
        if plan is None or not data.keys() <= plan[1]:
            return None
        loaded = {}
        for key, attribute, check, allow_none, required, default in plan[0]:
            if key in data:
                value = data[key]
                if value is None:
                    if not allow_none:
                        return None
                elif (value := check(value)) is None:
                    return None
                loaded[attribute] = value
            elif required:
                return None
            elif default is not missing:
                loaded[attribute] = default() if callable(default) else default
        return loaded


def _plain_plan(schema) -> tuple | None:
    """(per field: its key, attribute, value check, allow_none, required, load_default; the keys) for
    `StrictSchema._load_plain`, or None when a field or hook of the schema needs marshmallow."""
    hooks = {name for tag, entries in schema._hooks.items() for name, *_ in entries}
    if hooks - {"_whole_numbers_only"} or schema.many or schema.partial or schema.unknown != RAISE \
            or schema.dict_class is not dict:
        return None
    plan = []
    for name, field in schema.load_fields.items():
        check = _plain_check(field)
        attribute = field.attribute or name
        if check is None or field.validators or "." in attribute:
            return None
        plan.append((field.data_key or name, attribute, check, field.allow_none, field.required,
                     field.load_default))
    return plan, frozenset(key for key, *_ in plan)


def _plain_text(value):
    return value if type(value) is str else None


def _plain_integer(value):
    return value if type(value) is int else None  # a bool is not: type() is exact


def _plain_raw(value):
    return value


def _plain_check(field):
    """A function giving what `field` deserialises a plain value to, or None (when marshmallow must decide); None
    when the field is not a plain one."""
    kind = type(field)
    if kind is fields.String and not field.validators:
        return _plain_text
    if kind is fields.Integer and not field.strict and not field.validators:
        return _plain_integer
    if kind is fields.Raw:
        return _plain_raw
    if kind is fields.List and type(field.inner) is fields.String and not field.inner.validators \
            and not field.inner.allow_none:
        return lambda value: list(value) if type(value) is list and all(type(item) is str for item in value) \
            else None
    if kind is fields.Dict and type(field.key_field) is fields.String and not field.key_field.validators \
            and type(field.value_field) is fields.String and not field.value_field.validators:
        values_none = field.value_field.allow_none
        return lambda value: dict(value) if type(value) is dict and all(
            type(key) is str and (type(item) is str or (item is None and values_none))
            for key, item in value.items()) else None
    return None


WHOLE_NUMBER_MESSAGE = N_("Må være et heltall.")


def _takes_integers(field) -> bool:
    """Whether `_whole_numbers_where_integers` can refuse a value of this field."""
    if isinstance(field, fields.Integer):
        return True
    if isinstance(field, fields.List):
        return _takes_integers(field.inner)
    if isinstance(field, fields.Dict):
        return field.value_field is not None and _takes_integers(field.value_field)
    return False


def _whole_numbers_where_integers(field, value) -> bool:
    """False when an Integer field (or one inside a List or a Dict's values) is given a bool, a non-finite number
    or a number with a fraction. Text ("5", as a query string gives it) is left to the field to parse."""
    if isinstance(field, fields.Integer):
        return not isinstance(value, bool) and not (isinstance(value, float)
                                                    and not (math.isfinite(value) and value.is_integer()))
    if isinstance(field, fields.List) and isinstance(value, list):
        return all(_whole_numbers_where_integers(field.inner, item) for item in value)
    if isinstance(field, fields.Dict) and field.value_field is not None and isinstance(value, Mapping):
        return all(_whole_numbers_where_integers(field.value_field, item) for item in value.values())
    return True


class ErrorOut(Schema):
    """The body of every API error (`error_response`), as the OpenAPI document declares it for 4xx/5xx."""

    code = fields.Raw(required=True, metadata={
        "description": "The HTTP status, or a word for a domain refusal (e.g. not_eligible, invalid, conflict)",
        "oneOf": [{"type": "integer"}, {"type": "string"}]})
    status = fields.String(required=True, metadata={"description": "The HTTP status phrase"})
    message = fields.String(required=True, metadata={"description": "What went wrong, in Norwegian"})
    errors = fields.Dict(metadata={"description": "Messages per field"})


class PlatformApi(Api):
    ERROR_SCHEMA = ErrorOut


class StrictArgumentsParser(FlaskParser):
    """Query strings are held to their schema as bodies are: the schema's own `unknown` applies (RAISE for the
    services' strict schemas), where webargs would silently drop an unknown query parameter (a misspelt filter
    would then return everything)."""

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": None, "querystring": None}
    DEFAULT_VALIDATION_MESSAGE = N_("Ugyldig verdi.")

    def _raw_load_json(self, req):
        # The one strict JSON loader (shared.web.bodies); an empty body is no body, as webargs has it.
        if not is_json_request(req):
            return missing
        data = req.get_data(cache=True)
        return strict_json_loads(data) if data else missing

    def _handle_invalid_json_error(self, error, req, *args, **kwargs):
        raise BodyRefused({WHOLE_BODY: [N_("Ugyldig JSON.")]}) from error

    def load_querystring(self, req, schema):
        # A parameter given twice where one value is expected: webargs would quietly take the first.
        by_name = {field.data_key or name: field for name, field in schema.fields.items()}
        repeated = sorted(name for name in req.args if len(req.args.getlist(name)) > 1
                          and not isinstance(by_name.get(name), tuple(self.KNOWN_MULTI_FIELDS)))
        if repeated:
            raise ValidationError({name: [N_("Oppgi parameteren bare én gang.")] for name in repeated})
        return super().load_querystring(req, schema)


class ApiBlueprint(flask_smorest.Blueprint):
    """Every service's API blueprint: flask-smorest's, parsing arguments with `StrictArgumentsParser`."""

    ARGUMENTS_PARSER = StrictArgumentsParser()


class UUIDStringConverter(BaseConverter):
    """`<uid:case_id>`: a canonical UUID, handed to the view as a lower-case string."""

    regex = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

    def to_python(self, value):
        return value.lower()


class BoundedIntConverter(IntegerConverter):
    """`<int:id>` limited to what a 64-bit integer column holds."""

    MAX = 2**63 - 1

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", self.MAX)
        super().__init__(url_map, *args, **kwargs)


def current_platform() -> Platform:
    return current_app.extensions["platform"]


# ---------------------------------------------------------------- auth on requests
def current_principal():
    principal = g.get("principal")
    if principal is None:
        raise AuthError(g.get("auth_error") or "sign-in required")
    return principal


def roles_required(*roles):
    """Decorator: the caller must be signed in with one of these roles (403 otherwise).

    It only marks the view; `_require_declared_roles` enforces it in the before-request hook, i.e. after
    authentication and before flask-smorest parses any argument. A caller of another role therefore gets 403
    whatever it sent (never a 422 that shows its request was read), wherever the decorator sits among the others
    (flask-smorest's wrappers copy the mark)."""

    def decorator(view):
        view.allowed_roles = tuple(roles)
        return view
    return decorator


def service_scope_required(scope):
    """Decorator: a machine endpoint for another service. Only a bearer token of the role `service` carrying
    `scope` passes (every person role, admin included, gets 403); `_confine_service_tokens` enforces it."""

    def decorator(view):
        view.service_scope = scope
        return view
    return decorator


def _load_principal():
    settings = current_platform().settings
    header = request.headers.get("Authorization", "")
    g.principal, g.auth_error, g.auth_via_cookie = None, None, False
    token = None
    if header.startswith("Bearer "):
        token = header[7:].strip()
    elif request.cookies.get(COOKIE_NAME):
        token = request.cookies[COOKIE_NAME]
        g.auth_via_cookie = True
    if not token:
        return
    try:
        unverified = _unverified_claims(token)
        if g.auth_via_cookie:
            principal = _session_principal(settings, token)
        elif settings.oidc is not None and unverified.get("iss") == settings.oidc.issuer:
            principal = _provider_principal(settings, token)
        elif settings.oidc is not None and unverified.get("sid"):
            # A session begun at the provider, passed on by a service asking its peers on the person's behalf
            # (intake's access request): checked exactly as the cookie is.
            principal = _session_principal(settings, token)
        elif settings.demo_mode:
            principal = verify_token(settings, token)  # the local issuer (`auth mint`): local demo mode only
        else:
            raise AuthError("only the identity provider's tokens are accepted")
    except (AuthError, TokenRefused) as error:
        g.auth_error = str(error)
        return
    g.principal = principal


_CLAIMS_READ: dict[str, dict] = {}  # token -> its claims as read, for the next request with the same token
_CLAIMS_READ_MAX = 1024


def _unverified_claims(token: str) -> dict:
    """Only to choose the check a token gets; nothing is trusted before that check. The claims segment read as it
    is (PyJWT's unverified decode builds its options and checks the header first: about as long as the check), and
    kept for the token's next request (a client sends the same token until it expires; reading it again was a
    twentieth of a closure submit's CPU). Callers only read the mapping."""
    claims = _CLAIMS_READ.get(token)
    if claims is None:
        claims = _read_claims(token)
        if len(_CLAIMS_READ) >= _CLAIMS_READ_MAX:
            _CLAIMS_READ.clear()  # many tokens at once (an attack, or a very large office): start again
        _CLAIMS_READ[token] = claims
    return claims


def _read_claims(token: str) -> dict:
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        claims = json.loads(base64url_decode(parts[1]))
    except ValueError:  # not base64url, not UTF-8, not JSON
        return {}
    return claims if isinstance(claims, dict) else {}


def _session_principal(settings, token: str) -> Principal:
    """The platform's own session (the cookie): its token, the absolute limit since sign-in, and for a session
    begun at the identity provider the deny list of ended sessions and the directory as it is now."""
    principal = verify_token(settings, token)
    if principal.auth_time is not None:
        # Absolute session limit: a sliding cookie never outlives the token lifetime since sign-in.
        if datetime.now(UTC) - principal.auth_time > timedelta(minutes=settings.token_lifetime_minutes):
            raise AuthError("session expired")
    if principal.session_id is None or settings.oidc is None:
        return principal
    if ended_sessions().is_ended(principal.session_id):
        raise AuthError("session ended at the identity provider")
    with current_platform().engine.connect() as conn:
        user = current_platform().directory.user(conn, principal.subject)
    if user is None:
        raise AuthError("no longer in the directory")
    return _directory_principal(user, principal.expires_at, principal.auth_time, principal.session_id)


def _directory_principal(user: dict, expires_at, auth_time, session_id=None) -> Principal:
    return Principal(subject=user["id"], role=user["role"], name=user["name"], office=user["office_code"],
                     county=user["county_code"] if user["role"] == "county_contact" else None,
                     expires_at=expires_at, auth_time=auth_time, session_id=session_id)


def _provider_principal(settings, token: str) -> Principal:
    """An access token of the identity provider: a person (the identity claim, looked up in the directory on every
    request, so a removal or a new role applies at once) or a registered service client with its scopes."""
    claims = identity_provider().verify_access_token(token)
    expires_at = datetime.fromtimestamp(claims["exp"], UTC)
    identity = claims.get(settings.oidc.identity_claim)
    if isinstance(identity, str):
        with current_platform().engine.connect() as conn:
            user = current_platform().directory.user_by_nav_ident(conn, identity)
        if user is None:
            raise Forbidden("this person is not in the project's directory")
        auth_time = datetime.fromtimestamp(claims.get("auth_time", claims["iat"]), UTC)
        return _directory_principal(user, expires_at, auth_time)
    service = settings.oidc.service_clients.get(claims.get("azp") or claims.get("client_id"))
    scopes = tuple(claims.get("scope", "").split()) if isinstance(claims.get("scope"), str) else ()
    if service is None or not scopes:
        raise AuthError("the token names no person and no service")
    return Principal(subject=f"service-{service}", role=SERVICE_ROLE, name=f"service {service}",
                     expires_at=expires_at, scopes=scopes)


def set_session_cookie(response, principal_like: dict, auth_time=None):
    settings = current_platform().settings
    token = mint_token(settings, lifetime_minutes=settings.session_idle_minutes, auth_time=auth_time, **principal_like)
    # The token expires at the idle timeout; the cookie lives the absolute lifetime, so a form sent after an idle
    # timeout still names its person and is kept for them (shared.web.keeping), never lost.
    response.set_cookie(COOKIE_NAME, token, httponly=True, samesite="Lax", secure=settings.secure_cookies,
                        path="/", max_age=settings.token_lifetime_minutes * 60)
    return response


def _refresh_session_cookie(response):
    """Idle timeout: each page request by a cookie session slides its expiry forward."""
    principal = g.get("principal")
    if not (principal and g.get("auth_via_cookie")) or response.status_code >= 400:
        return
    if request.path.startswith(("/api/", "/healthz", "/readyz", "/metrics", "/platform-static")):
        return
    if current_platform().settings.auth_signing_key is None:
        return
    set_session_cookie(response, {"subject": principal.subject, "role": principal.role, "name": principal.name,
                                  "office": principal.office, "county": principal.county,
                                  "session_id": principal.session_id},
                       auth_time=principal.auth_time)


def _require_api_caller():
    """Every API operation needs a valid token, checked before any schema sees the request: an unknown caller
    gets 401, never a 422 that shows the request was parsed (the OpenAPI document at /api/openapi.json stays
    public; an unknown /api/v path stays 404)."""
    if request.path.startswith("/api/v") and request.url_rule is not None and g.principal is None:
        raise AuthError(g.get("auth_error") or "sign-in required")


def _confine_service_tokens():
    """A view marked `service_scope_required` opens for a service bearer token with that scope only; a service
    token opens nothing else (no page, no person endpoint, no public page)."""
    if request.url_rule is None:
        return  # no such path: 404 for everyone
    scope = getattr(current_app.view_functions.get(request.endpoint), "service_scope", None)
    if scope is not None:
        if not current_principal().has_scope(scope) or g.auth_via_cookie:
            raise Forbidden(f"this needs a service token with the scope {scope}")
    elif g.get("principal") is not None and g.principal.role == SERVICE_ROLE:
        raise Forbidden("a service token is accepted only by the internal endpoints of its scope")


def _require_declared_roles():
    """The role check of a view marked with `roles_required`, before the view's arguments are parsed."""
    view = current_app.view_functions.get(request.endpoint) if request.url_rule is not None else None
    allowed = getattr(view, "allowed_roles", None)
    if allowed is None:
        return
    require_role(current_principal(), *allowed)


# ---------------------------------------------------------------- CSRF (double submit)
class CsrfRefused(Forbidden):
    """A form or call without the CSRF cookie's token: refused (403); a page form is kept and leads on to sign-in."""


def csrf_token() -> str:
    token = request.cookies.get(CSRF_COOKIE) or g.get("new_csrf")
    if not token:
        token = g.new_csrf = secrets.token_urlsafe(32)
    return token


def _check_csrf():
    """Cookie-authenticated or anonymous form posts must echo the CSRF cookie; bearer API calls need not."""
    if request.method not in UNSAFE_METHODS or request.headers.get("Authorization", "").startswith("Bearer "):
        return
    view = current_app.view_functions.get(request.endpoint) if request.url_rule is not None else None
    if getattr(view, "csrf_exempt", False):
        return
    if request.path.startswith("/api/") and not request.cookies:
        return  # no cookie at all, so no ambient credential to forge: the caller meets the API's 401 instead
    expected = request.cookies.get(CSRF_COOKIE, "")
    given = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token", "")
    if not expected or not hmac.compare_digest(expected, given):
        raise CsrfRefused("CSRF token missing or wrong; reload the page and try again")


# ---------------------------------------------------------------- hooks
def _register_request_hooks(app):
    @app.before_request
    def _before():
        g.started = time.perf_counter()
        cid = request.headers.get("X-Correlation-Id") or str(uuid.uuid4())
        g.correlation_token = correlation_id.set(cid[:100])
        refuse_oversized_data(request)
        _load_principal()
        _check_csrf()
        _require_api_caller()
        _confine_service_tokens()
        _require_declared_roles()

    @app.after_request
    def _after(response):
        if g.get("new_csrf"):
            response.set_cookie(CSRF_COOKIE, g.new_csrf, httponly=True, samesite="Strict",
                                secure=current_platform().settings.secure_cookies, path="/")
        _refresh_session_cookie(response)
        keeping.after_request(response)
        headers = response.headers
        headers.setdefault("Content-Security-Policy", _content_security_policy(current_platform().settings))
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if current_platform().settings.secure_cookies:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if g.get("principal") is not None:
            headers.setdefault("Cache-Control", "no-store")
        headers["X-Correlation-Id"] = correlation_id.get() or ""
        return response

    @app.teardown_request
    def _teardown(_exc):
        token = g.pop("correlation_token", None)
        if token is not None:
            correlation_id.reset(token)


_POLICIES: dict = {}  # settings -> its Content-Security-Policy (built once, not per answer)


def _content_security_policy(settings) -> str:
    policy = _POLICIES.get(id(settings))
    if policy is None or policy[0] is not settings:
        if len(_POLICIES) >= 64:  # tests build many apps; a service has one
            _POLICIES.clear()
        policy = _POLICIES[id(settings)] = (settings, _build_content_security_policy(settings))
    return policy[1]


def _build_content_security_policy(settings) -> str:
    # Signing out posts to /logg-ut, which redirects to the provider: form-action must allow its origin.
    form_action = "'self'"
    if settings.oidc is not None:
        issuer = urlsplit(settings.oidc.issuer)
        form_action += f" {issuer.scheme}://{issuer.netloc}"
    return ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            f"frame-ancestors 'none'; form-action {form_action}; base-uri 'none'")


# ---------------------------------------------------------------- errors
def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_body(status: int, message: str, errors=None, code=None) -> dict:
    """The platform's error format (ErrorOut); the proxy's own error pages are rendered from it too."""
    body = {"code": code or status, "status": _status_phrase(status), "message": message}
    if errors:
        body["errors"] = errors
    return body


def error_response(status: int, message: str, errors=None, code=None):
    """The error in the request's language: a message id (a service's bokmål text) is translated here."""
    return jsonify(error_body(status, translate(message), translate_messages(errors), code)), status


def _status_phrase(status):
    return HTTPStatus(status).phrase


NORWEGIAN_MESSAGES = {
    400: N_("Forespørselen kunne ikke leses."),
    404: N_("Fant ikke det du ba om."),
    405: N_("Metoden er ikke tillatt her."),
    413: N_("Forespørselen er for stor."),
    422: N_("Ugyldige data: se feltene."),
}
# In place of werkzeug's English descriptions, where a view raised the error without a text of its own.
WERKZEUG_DESCRIPTIONS = {
    401: N_("Innlogging kreves."),
    403: N_("Ingen tilgang."),
    406: N_("Svaret finnes ikke i et format forespørselen godtar."),
    408: N_("Forespørselen tok for lang tid."),
    409: N_("Forespørselen er i konflikt med det som er lagret."),
    410: N_("Det du ba om, finnes ikke lenger."),
    411: N_("Forespørselen mangler lengden på innholdet."),
    412: N_("Forutsetningen i forespørselen holder ikke."),
    414: N_("Adressen er for lang."),
    415: N_("Innholdstypen støttes ikke."),
    416: N_("Det forespurte området finnes ikke."),
    417: N_("Forventningen i forespørselen kan ikke oppfylles."),
    428: N_("Forespørselen må ha en forutsetning."),
    429: N_("For mange forespørsler. Vent litt og prøv igjen."),
    431: N_("Hodefeltene i forespørselen er for store."),
    500: N_("Intern feil."),
    501: N_("Ikke støttet."),
    502: N_("Feil fra en annen tjeneste."),
    503: N_("Tjenesten er ikke tilgjengelig nå."),
    504: N_("En annen tjeneste svarte ikke i tide."),
}


def _error_message(error: HTTPException) -> str:
    """The error's text in the request's language: the platform's own for the common codes, the view's own text,
    or a Norwegian one in place of werkzeug's default description."""
    if error.code in NORWEGIAN_MESSAGES:
        return translate(NORWEGIAN_MESSAGES[error.code])
    if error.description and error.description != type(error).description:
        return translate(error.description)
    return translate(WERKZEUG_DESCRIPTIONS.get(error.code, N_("Feil.")))


def _register_error_handlers(app):
    @app.errorhandler(AuthError)
    def _unauthenticated(error):
        if wants_json():
            response, status = error_response(401, translate(N_("Innlogging kreves:")) + " " + str(error))
            response.headers["WWW-Authenticate"] = 'Bearer realm="hybrid"'
            return response, status
        if keeping.is_page_form_post():
            return keeping.ended_session_response()  # the answers kept, sign-in, back to the form
        target = request.script_root + (request.full_path if request.query_string else request.path)
        reason = "utlopt" if request.cookies.get(COOKIE_NAME) else None
        return redirect(url_for("signin.signin_form", next=target, grunn=reason))

    @app.errorhandler(CsrfRefused)
    def _csrf_refused(error):
        if wants_json() or not keeping.is_page_form_post():
            return _forbidden(error)
        return keeping.refused_csrf_response()

    @app.errorhandler(Forbidden)
    def _forbidden(error):
        if wants_json():
            return error_response(403, translate(N_("Ingen tilgang:")) + " " + str(error))
        return render_template("error.html", status=403,
                               message=translate(N_("Du har ikke tilgang til denne siden."))), 403

    @app.errorhandler(NotFound)
    def _not_found(error):
        if wants_json():
            return error_response(404, translate(N_("Fant ikke det du ba om.")))
        return render_template("error.html", status=404, message=translate(N_("Fant ikke siden eller saken."))), 404

    @app.errorhandler(HTTPException)
    def _http(error):
        if wants_json():
            data = getattr(error, "data", None) or {}
            messages = data.get("messages") if isinstance(data, dict) else None
            errors = None
            if messages:
                # flask-smorest groups by location (json, query, form); callers care about the fields. A body
                # that is not JSON at all has a list of messages for the whole location instead.
                errors = {}
                for location, location_errors in messages.items():
                    if isinstance(location_errors, dict):
                        errors.update(location_errors)
                    else:
                        errors[location] = location_errors
            response, status = error_response(error.code, _error_message(error), errors)
            if isinstance(error, MethodNotAllowed) and error.valid_methods:
                response.headers["Allow"] = ", ".join(error.valid_methods)  # RFC 9110: a 405 names what is allowed
            return response, status
        return render_template("error.html", status=error.code, message=_error_message(error)), error.code

    # More specific than a service's own 413 handler (consent's speaks of the document): a body or a field.
    app.register_error_handler(TooLarge, _http)

    @app.errorhandler(Exception)
    def _unexpected(error):
        # No stack trace, no message text that might carry data: a reference the operator finds in the log.
        reference = correlation_id.get()
        log_event(log, "unhandled error", level=logging.ERROR, error_type=type(error).__name__, path=request.path)
        if wants_json():
            return error_response(500, gettext("Intern feil. Referanse: %(reference)s", reference=reference))
        return render_template("error.html", status=500,
                               message=gettext("Noe gikk galt. Referanse: %(reference)s", reference=reference)), 500


# The pages each role works with, in the order of the header's menu; the first is the role's home page.
_NAV_BY_ROLE = {
    "counsellor": [(N_("Saker"), "/intake/"), (N_("Samtykker"), "/consent/"), (N_("Varsler"), "/notify/")],
    "local_contact": [(N_("Saker"), "/intake/"), (N_("Kontoroversikt"), "/intake/oversikt"),
                      (N_("Samtykker"), "/consent/"), (N_("Varsler"), "/notify/"),
                      (N_("Personvern"), "/intake/personvern")],
    "county_contact": [(N_("Fylkesoversikt"), "/notify/fylke"), (N_("Varsler"), "/notify/")],
    "researcher": [(N_("Forskningsdata"), "/registry/")],
    "admin": [(N_("Prosjekt"), "/intake/admin"), (N_("Samtykkemaler"), "/consent/maler"), (N_("Varsler"), "/notify/")],
}


def nav_links():
    principal = g.get("principal")
    if principal is None:
        return []
    base = current_platform().settings.public_url
    return [(label, base + path) for label, path in _NAV_BY_ROLE.get(principal.role, [])]


def home_url(role: str) -> str | None:
    """The role's home page (the first of its menu), as a public URL; None for a role without pages."""
    links = _NAV_BY_ROLE.get(role)
    return current_platform().settings.public_url + links[0][1] if links else None
