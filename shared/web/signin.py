"""Signing in and out (behind the proxy at /logg-inn, /logg-inn/callback, /logg-ut, /logget-ut).

With an OpenID Connect provider (OIDC_ISSUER): /logg-inn sends the browser to the provider (authorization code with
PKCE, state and nonce; Authlib), and /logg-inn/callback exchanges the code, checks the ID token (shared.oidc), looks
the person up in the directory by the identity claim (NAVident) and starts the platform's own session: a cookie
holding a token signed with the platform's session key (AUTH_SIGNING_KEY) that names the directory user and the
provider's session (`sid`). Each request reads role and office from the directory again. Sign-out ends the session
here and at the provider (RP-initiated logout); the provider's back-channel logout (/logg-ut/backchannel) puts the
`sid` on the deny list every service reads.

There is no password page of the platform's own: people sign in at the provider only (its login page checks the
password). An app without a provider (in-process, local demo mode only) shows a page saying so; its callers bring
tokens of `flask auth mint`.
"""
from __future__ import annotations

import hmac
import logging
from urllib.parse import urlencode

from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from flask import Blueprint, current_app, g, redirect, render_template, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from shared.auth import COOKIE_NAME
from shared.logs import log_event
from shared.oidc import EndedSessions, Provider, TokenRefused

from .i18n import N_
from .keeping import SIGNIN_NOTICES

signin_blueprint = Blueprint("signin", __name__)
log = logging.getLogger("shared.web.signin")

LOGIN_COOKIE = "hybrid_login"  # state, nonce, PKCE verifier and the page to return to, for one sign-in
LOGIN_SECONDS = 600


def csrf_exempt(view):
    """A POST from a server, not a browser (the provider's back-channel logout): no CSRF cookie to echo."""
    view.csrf_exempt = True
    return view


def identity_provider(app=None) -> Provider | None:
    app = app or current_app
    settings = app.extensions["platform"].settings
    if settings.oidc is None:
        return None
    if "oidc_provider" not in app.extensions:
        app.extensions["oidc_provider"] = Provider(settings.oidc)
    return app.extensions["oidc_provider"]


def ended_sessions(app=None) -> EndedSessions:
    app = app or current_app
    if "ended_sessions" not in app.extensions:
        app.extensions["ended_sessions"] = EndedSessions(app.extensions["platform"].settings.oidc.session_denylist_url)
    return app.extensions["ended_sessions"]


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect after sign-in would be a phishing aid.
    if not target or not target.startswith("/") or target.startswith("//"):
        return current_app.config["PUBLIC_URL"] + "/"
    return target


def _login_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.extensions["platform"].settings.auth_signing_key, salt="hybrid-login")


@signin_blueprint.get("/logg-inn")
def signin_form():
    platform = current_app.extensions["platform"]
    provider = identity_provider()
    if provider is not None:
        return _start_provider_signin(platform.settings, provider)
    # No provider: an in-process app of local demo mode, whose callers bring `flask auth mint` tokens.
    return render_template("signin.html", notice=SIGNIN_NOTICES.get(request.args.get("grunn", "")))


def _start_provider_signin(settings, provider: Provider):
    client = provider.client(redirect_uri=settings.public_url + "/logg-inn/callback")
    verifier, nonce = generate_token(48), generate_token(24)
    uri, state = client.create_authorization_url(provider.metadata["authorization_endpoint"], code_verifier=verifier,
                                                 nonce=nonce)
    response = redirect(uri)
    target = request.args.get("next")
    pending = {"state": state, "nonce": nonce, "verifier": verifier, "next": _safe_next(target) if target else None}
    response.set_cookie(LOGIN_COOKIE, _login_serializer().dumps(pending), max_age=LOGIN_SECONDS, httponly=True,
                        samesite="Lax", secure=settings.secure_cookies, path="/logg-inn")
    return response


@signin_blueprint.get("/logg-inn/callback")
def signin_callback():
    from shared.web import home_url, set_session_cookie  # here: shared.web imports this module while it loads
    platform = current_app.extensions["platform"]
    provider = identity_provider()
    if provider is None:
        return render_template("error.html", status=404, message=N_("Fant ikke siden.")), 404
    try:
        pending = _login_serializer().loads(request.cookies.get(LOGIN_COOKIE, ""), max_age=LOGIN_SECONDS)
    except BadSignature:
        return _signin_failed(N_("Innloggingen ble ikke fullført i tide. Prøv igjen."), "no pending sign-in")
    if request.args.get("error") or not hmac.compare_digest(request.args.get("state", ""), pending["state"]):
        return _signin_failed(N_("Innloggingen ble avbrutt. Prøv igjen."), "provider error or state mismatch")
    client = provider.client(redirect_uri=platform.settings.public_url + "/logg-inn/callback", state=pending["state"])
    try:
        tokens = client.fetch_token(provider.metadata["token_endpoint"], code=request.args.get("code", ""),
                                    code_verifier=pending["verifier"], timeout=10)
        claims = provider.verify_id_token(tokens.get("id_token", ""), pending["nonce"])
    except (OAuthError, TokenRefused, ValueError) as error:
        return _signin_failed(N_("Innloggingen kunne ikke bekreftes. Prøv igjen."), type(error).__name__)
    identity = claims.get(platform.settings.oidc.identity_claim)
    with platform.engine.connect() as conn:
        user = platform.directory.user_by_nav_ident(conn, identity) if isinstance(identity, str) else None
    if user is None:
        log_event(log, "sign-in of a person not in the directory", level=logging.WARNING)
        response = current_app.make_response((render_template(
            "error.html", status=403, message=N_("Du er logget inn hos NAV, men er ikke registrert som bruker av "
                                             "prosjektets tjenester. Kontakt prosjektadministratoren.")), 403))
        response.delete_cookie(LOGIN_COOKIE, path="/logg-inn")
        return response
    # Where the person was going, else the role's home page.
    response = redirect(pending["next"] or home_url(user["role"]) or platform.settings.public_url + "/")
    response.delete_cookie(LOGIN_COOKIE, path="/logg-inn")
    log_event(log, "signed in", user=user["id"])
    return set_session_cookie(response, {"subject": user["id"], "role": user["role"], "name": user["name"],
                                         "office": user["office_code"], "county": user["county_code"],
                                         "session_id": claims.get("sid")})


def _signin_failed(message: str, reason: str):
    log_event(log, "sign-in failed", level=logging.WARNING, reason=reason)
    response = current_app.make_response((render_template("error.html", status=400, message=message), 400))
    response.delete_cookie(LOGIN_COOKIE, path="/logg-inn")
    return response


@signin_blueprint.post("/logg-ut")
def signout():
    settings = current_app.extensions["platform"].settings
    principal = g.get("principal")
    # Forget the caller for this request too, or the sliding-session hook would set the cookie again.
    g.principal = None
    provider = identity_provider()
    if provider is None:
        response = redirect(settings.public_url + "/logg-inn")
    else:
        if principal is not None and principal.session_id:
            ended_sessions().end(principal.session_id)
        query = urlencode({"client_id": settings.oidc.client_id,
                           "post_logout_redirect_uri": settings.public_url + "/logget-ut"})
        response = redirect(f"{provider.metadata['end_session_endpoint']}?{query}")
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


@signin_blueprint.get("/logget-ut")
def signed_out():
    return render_template("error.html", status=200, message="Du er logget ut."), 200


@signin_blueprint.post("/logg-ut/backchannel")
@csrf_exempt
def backchannel_logout():
    provider = identity_provider()
    if provider is None:
        return render_template("error.html", status=404, message=N_("Fant ikke siden.")), 404
    try:
        claims = provider.verify_logout_token(request.form.get("logout_token", ""))
    except TokenRefused as error:
        log_event(log, "back-channel logout refused", level=logging.WARNING, reason=str(error))
        return {"error": "invalid_request"}, 400, {"Cache-Control": "no-store"}
    ended_sessions().end(claims["sid"])
    log_event(log, "session ended by the provider")
    return "", 200, {"Cache-Control": "no-store"}

