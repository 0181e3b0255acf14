"""Never lose a sent form to an ended session (issue #15): keep it, sign in, fill it in again.

A page form posted after the session ended (idle timeout or the absolute limit) or without a valid CSRF token is not
carried out. Its fields are kept on the server (shared.kept_forms: encrypted, keyed to the person, at most the
session's absolute lifetime) and the person goes through sign-in, the identity provider's redirect included, back to
the page the form was on. There the answers are filled in again (platform.js, from the page itself, never browser
storage) with a notice saying so: the person checks them and sends once more. They are re-shown rather than applied
because the person could not see what the form would do any more, and a CSRF refusal must never carry a request out.

Whose form it is comes from the session cookie: it lives the session's absolute lifetime in the browser while the
token inside expires at the idle timeout, so after an idle timeout the platform still reads, from a token it signed
itself, whom the form belongs to (never to let them in). A post that names nobody (no cookie, or a forged one) keeps
nothing. SameSite=Lax keeps the session cookie off another site's posts, so a forged cross-site form is never kept.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import jwt
from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from shared import kept_forms
from shared.auth import COOKIE_NAME
from shared.crypto import DecryptionError
from shared.logs import log_event

from .i18n import N_

# "A kept form may be waiting in this service": spares every other page view the lookup. One per service, as each
# keeps its forms in its own database and forgets the hint when it holds none.
HINT_COOKIE = "hybrid_kept_{service}"
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_NOT_KEPT_FIELDS = ("csrf_token", "_form_token")
# Forms whose answer is a cookie or a redirect, not a person's work: signing in and out, the language switch.
_NOT_KEPT_BLUEPRINTS = ("signin", "language", "frame", "keeping")
log = logging.getLogger("shared.web.keeping")
keeping_blueprint = Blueprint("keeping", __name__)


def _platform():
    return current_app.extensions["platform"]


def is_page_form_post() -> bool:
    return (request.method in ("POST", "PUT", "PATCH", "DELETE") and not request.path.startswith("/api/")
            and request.mimetype in _FORM_TYPES and request.url_rule is not None)


def _session_owner() -> tuple[str, str | None] | None:
    """(directory id, office) of the person whose session this is: the signed-in one, or the one named by the
    platform's own session token even though it has expired (its signature, issuer and audience still checked)."""
    principal = g.get("principal")
    if principal is not None:
        return (principal.subject, principal.office) if g.get("auth_via_cookie") else None
    token = request.cookies.get(COOKIE_NAME)
    settings = _platform().settings
    if not token or settings.auth_verify_key is None:
        return None
    try:
        claims = jwt.decode(token, settings.auth_verify_key, algorithms=[settings.auth_algorithm],
                            audience=settings.auth_audience, issuer=settings.auth_issuer,
                            options={"verify_exp": False, "require": ["exp", "iat", "sub", "iss", "aud"]})
    except jwt.PyJWTError:
        return None
    subject, office = claims.get("sub"), claims.get("office")
    if not isinstance(subject, str) or claims.get("scope"):
        return None
    return subject, office if isinstance(office, str) else None


def _landing_page() -> str:
    """The page the form was on, within this service: the Referer when it is one of this service's pages, else the
    address the form was sent to (a step's form posts to its own page); where that address is no page (a form
    re-shown with its mistakes at the address it posts to), the nearest page up its path."""
    referrer = urlsplit(request.referrer or "")
    here = urlsplit(request.host_url)
    root = request.script_root
    if referrer.netloc == here.netloc and referrer.path.startswith(root + "/"):
        page = _nearest_page(referrer.path[len(root):])
        return page + ("?" + referrer.query if referrer.query and page == referrer.path[len(root):] else "")
    return _nearest_page(request.path)


def _nearest_page(path: str) -> str:
    adapter = current_app.url_map.bind("localhost")
    while path not in ("", "/"):
        try:
            adapter.match(path, method="GET")
            return path
        except HTTPException:  # no such page, or a post-only address
            path = path.rsplit("/", 1)[0]
    return "/"


def keep_posted_form() -> bool:
    """Keep this post for the person whose session it came with; False if it names nobody or is not a page form."""
    if not is_page_form_post() or request.blueprint in _NOT_KEPT_BLUEPRINTS:
        return False
    owner = _session_owner()
    if owner is None:
        return False
    subject, office = owner
    platform = _platform()
    now = datetime.now(UTC)
    fields = [(name, value) for name, value in request.form.items(multi=True) if name not in _NOT_KEPT_FIELDS]
    files = [name for name, upload in request.files.items(multi=True) if upload.filename]
    case_id = (request.view_args or {}).get("case_id")
    try:
        with platform.engine.begin() as conn:
            kept_forms.purge_expired(conn, now)  # nothing is kept past its time, whether or not retention runs
            kept_forms.keep(conn, platform.keyring, subject=subject, office=office,
                            page=urlsplit(_landing_page()).path, action=request.script_root + request.path,
                            fields=fields, files=files, case_id=str(case_id) if case_id else None, now=now,
                            expires_at=now + timedelta(minutes=platform.settings.token_lifetime_minutes))
    except (DecryptionError, KeyError) as error:  # no keys for the office: nothing kept, never kept in clear
        log_event(log, "form not kept", level=logging.WARNING, reason=type(error).__name__)
        return False
    g.form_kept = True
    log_event(log, "form kept for after sign-in", fields=len(fields))
    return True


def signin_url(reason: str) -> str:
    """Sign-in, then back to the page the form was on."""
    return url_for("signin.signin_form", next=request.script_root + _landing_page(), grunn=reason)


def ended_session_response():
    """The answer to a page form posted after the session ended: kept, then sign-in and back."""
    kept = keep_posted_form()
    response = redirect(signin_url("tatt-vare" if kept else "utlopt"))
    return _with_hint(response) if kept else response


def refused_csrf_response():
    """The answer to a page form whose CSRF token is missing or wrong (the browser lost its cookie, or the page is
    very old): nothing is carried out (403), the answers are kept for the person, and the page leads on through
    sign-in back to the form, never to a bare refusal."""
    if request.blueprint == "signin":
        target = url_for("signin.signin_form", next=request.form.get("next") or None)
        kept = False
    else:
        kept = keep_posted_form()
        target = signin_url("tatt-vare" if kept else "utlopt")
    body = render_template("form_refused.html", kept=kept, target=target)
    response = current_app.make_response((body, 403))
    return _with_hint(response) if kept else response


def hint_cookie() -> str:
    return HINT_COOKIE.format(service=current_app.config["SERVICE"])


def _with_hint(response):
    settings = _platform().settings
    response.set_cookie(hint_cookie(), "1", max_age=settings.token_lifetime_minutes * 60, httponly=True,
                        samesite="Lax", secure=settings.secure_cookies, path="/")
    return response


# ---------------------------------------------------------------- after sign-in: the page fills it in again
def kept_form_here() -> dict | None:
    """Jinja global: the form the signed-in person kept for this page, or None (base.html hands it to platform.js)."""
    if "kept_form_here" in g:
        return g.kept_form_here
    found = None
    principal = g.get("principal")
    if principal is not None and request.method == "GET" and request.cookies.get(hint_cookie()):
        platform = _platform()
        try:
            with platform.engine.connect() as conn:
                found = kept_forms.kept_for(conn, platform.keyring, principal.subject, request.path,
                                            datetime.now(UTC))
        except DecryptionError:
            found = None
        if found is not None:
            found = {"id": found["id"], "action": found["action"], "fields": found["fields"], "files": found["files"],
                     "discard": url_for("keeping.discard_kept_form")}
    g.kept_form_here = found
    return found


def after_request(response):
    """A kept form sent again successfully is forgotten; the hint goes when nothing is kept any more."""
    # The path first: an API call never has a kept form (and is the hot path: a closure submit).
    if request.path.startswith(("/api/", "/platform-static", "/healthz", "/readyz", "/metrics")):
        return response
    principal = g.get("principal")
    if principal is None or not request.cookies.get(hint_cookie()) or g.get("form_kept"):
        return response
    platform = _platform()
    now = datetime.now(UTC)
    with platform.engine.begin() as conn:
        if is_page_form_post() and response.status_code < 400:
            kept_forms.discard(conn, platform.keyring, principal.subject, action=request.script_root + request.path)
        left = kept_forms.has_any(conn, platform.keyring, principal.subject, now)
    if not left:
        response.delete_cookie(hint_cookie(), path="/")
    return response


@keeping_blueprint.post("/okt/forleng")
def extend_session():
    """The idle-timeout warning's "Forleng" (WCAG 2.2.1): a signed-in request, so the after-request hook gives the
    session cookie a new idle window; the answer says how long the session now lasts."""
    from . import current_principal, frame  # here: shared.web imports this module while it loads
    current_principal()
    return frame.session_timing() or {}, 200, {"Cache-Control": "no-store"}


@keeping_blueprint.post("/skjema-tatt-vare/forkast")
def discard_kept_form():
    """"Forkast svarene" on a page that filled in a kept form: the person does not want it back."""
    from . import current_principal  # here: shared.web imports this module while it loads
    principal = current_principal()
    platform = _platform()
    with platform.engine.begin() as conn:
        kept_forms.discard(conn, platform.keyring, principal.subject, form_id=request.form.get("skjema", ""))
    page = request.form.get("side")
    # Back to the page, a local one of this service only (never an address from elsewhere).
    if not page or not page.startswith(request.script_root + "/") or page.startswith("//"):
        page = request.script_root + "/"
    return redirect(page)


SIGNIN_NOTICES = {
    "tatt-vare": N_("Du ble logget ut før skjemaet ble sendt, så det er ikke sendt. Svarene dine er tatt vare på: "
                    "logg inn, så kommer du tilbake til skjemaet med svarene fylt inn."),
    "utlopt": N_("Du er logget ut fordi du ikke har vært aktiv på en stund. Logg inn for å fortsette."),
}
