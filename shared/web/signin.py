"""The one sign-in page (behind the proxy at /logg-inn): demo users from the directory.

In production the identity provider signs people in and this page is switched off (DEMO_SIGNIN=false);
the token's claims then come from the provider. Failed attempts are rate-limited per client address.
"""
from __future__ import annotations

import hmac
import os
import time
from collections import defaultdict, deque

from flask import Blueprint, current_app, g, redirect, render_template, request

from shared.auth import COOKIE_NAME

signin_blueprint = Blueprint("signin", __name__)

MAX_FAILURES = 5
WINDOW_SECONDS = 300
_failures: dict[str, deque] = defaultdict(deque)


def _too_many(address: str) -> bool:
    attempts = _failures[address]
    while attempts and attempts[0] < time.monotonic() - WINDOW_SECONDS:
        attempts.popleft()
    return len(attempts) >= MAX_FAILURES


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect after sign-in would be a phishing aid.
    if not target or not target.startswith("/") or target.startswith("//"):
        return current_app.config["PUBLIC_URL"] + "/"
    return target


@signin_blueprint.get("/logg-inn")
def signin_form():
    platform = current_app.extensions["platform"]
    with platform.engine.connect() as conn:
        users = platform.directory.users(conn) if platform.settings.demo_signin else []
    return render_template("signin.html", users=users, next=request.args.get("next", ""), error=None)


@signin_blueprint.post("/logg-inn")
def signin_submit():
    from shared.web import set_session_cookie  # here: shared.web imports this module while it loads
    platform = current_app.extensions["platform"]
    address = request.remote_addr or "?"
    with platform.engine.connect() as conn:
        users = platform.directory.users(conn) if platform.settings.demo_signin else []
        user = platform.directory.user(conn, request.form.get("user_id", ""))
    if _too_many(address):
        return render_template("signin.html", users=users, next="",
                               error="For mange mislykkede forsøk. Vent noen minutter og prøv igjen."), 429
    password = request.form.get("password", "")
    expected = os.environ.get("DEMO_PASSWORD", "demo")
    if not platform.settings.demo_signin or user is None or not hmac.compare_digest(password, expected):
        _failures[address].append(time.monotonic())
        return render_template("signin.html", users=users, next=request.form.get("next", ""),
                               error="Feil bruker eller passord."), 401
    response = redirect(_safe_next(request.form.get("next")))
    return set_session_cookie(response, {"subject": user["id"], "role": user["role"], "name": user["name"],
                                         "office": user["office_code"], "county": user["county_code"]})


@signin_blueprint.post("/logg-ut")
def signout():
    # Forget the caller for this request too, or the sliding-session hook would set the cookie again.
    g.principal = None
    response = redirect(current_app.config["PUBLIC_URL"] + "/logg-inn")
    response.delete_cookie(COOKIE_NAME, path="/")
    return response
