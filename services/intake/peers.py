"""Consent's and notify's parts of an access request, and their erasure receipts, asked over HTTP.

Asked on the local contact's own token (on behalf of the person at the screen): consent and notify check the role
and the office themselves, as for any call of theirs, so there is no machine token able to read every office's
consents. Contract (both services):
    POST {base}/api/v1/privacy/access          {"request_id": uuid, "case_ids": [uuid, ...]}
        200 {"cases": [...], "counts": {kind: n}}   (only the caller's office's cases; unknown ids left out)
    GET  {base}/api/v1/privacy/erasures/<request_id>
        200 {"request_id", "at", "case_count", "deleted": {kind: n}}, 404 not (yet) done or another office's
The case home page asks consent, on the counsellor's token, for the case's consents per purpose:
    GET  {consent}/api/v1/cases/<case_id>
        200 {"purposes": [{"purpose", "state", "granted", "missing_roles", ...}], ...}, 404 consent has not had
        the case yet (it learns of cases from the bus)
    waiting at most CONSENT_STATUS_TIMEOUT: the page says consent did not answer and works on.
Settings: INTAKE_CONSENT_URL, INTAKE_NOTIFY_URL (default: PUBLIC_URL/consent, PUBLIC_URL/notify, the proxy).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy

import requests

from shared.config import ConfigError, env_str
from shared.logs import correlation_id

SERVICES = ("consent", "notify")


class PeerUnavailable(Exception):
    """A service did not give its part; the message is Norwegian, for the page."""

    def __init__(self, service: str, message: str):
        super().__init__(f"{service}: {message}")
        self.service = service
        self.message = message


NAMES = {"consent": "Samtykketjenesten", "notify": "Varslingstjenesten"}
# A page waits no longer than this for consent's answer (connect and read each): the case page must open at once
# even when consent is slow or down, and then says so.
CONSENT_STATUS_TIMEOUT = 2.0


@dataclass
class Peers:
    urls: dict = field(default_factory=dict)  # service -> base URL without trailing slash
    timeout: float = 15.0
    # One session per thread, made in the worker at its first call: its connections are kept alive, so the case
    # page does not open a new one (and build a new session) for each consent answer. Nothing of a caller is kept
    # in it: each call sends its own caller's token, and the session takes no cookie (one answer's cookie would
    # otherwise go along with the next caller's calls).
    _local: threading.local = field(default_factory=threading.local, repr=False, compare=False)

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        return session

    def _call(self, method, service, path, token, timeout=None, **kwargs):
        headers = {"Authorization": f"Bearer {token}", "X-Correlation-Id": correlation_id.get() or ""}
        try:
            return self._session().request(method, self.urls[service] + path, headers=headers,
                                           timeout=timeout or self.timeout, **kwargs)
        except requests.RequestException:
            raise PeerUnavailable(service, f"{NAMES[service]} svarer ikke. Prøv igjen om litt.") from None

    def access(self, service: str, token: str, request_id: str, case_ids: list[str]) -> dict:
        response = self._call("POST", service, "/api/v1/privacy/access", token,
                              json={"request_id": str(request_id), "case_ids": [str(c) for c in case_ids]})
        if response.status_code != 200:
            raise PeerUnavailable(service, f"{NAMES[service]} ga ikke sin del av innsynet "
                                           f"(svar {response.status_code}). Prøv igjen om litt.")
        return response.json()

    def case_consents(self, token: str, case_id) -> list[dict] | None:
        """The case's consents per purpose (state, missing signer roles), in consent's order; None when consent
        does not know the case yet. PeerUnavailable when it does not answer in time or answers otherwise."""
        response = self._call("GET", "consent", f"/api/v1/cases/{case_id}", token, timeout=CONSENT_STATUS_TIMEOUT)
        if response.status_code == 404:
            return None
        try:
            if response.status_code != 200:
                raise ValueError(response.status_code)
            return [{"purpose": str(p["purpose"]), "state": str(p["state"]), "granted": bool(p.get("granted")),
                     "missing_roles": [str(r) for r in p.get("missing_roles") or []]}
                    for p in response.json()["purposes"]]
        except (ValueError, KeyError, TypeError):
            raise PeerUnavailable("consent", f"{NAMES['consent']} ga ikke svar om samtykkene "
                                             f"(svar {response.status_code}).") from None

    def erasure_receipt(self, service: str, token: str, request_id: str) -> dict | None:
        response = self._call("GET", service, f"/api/v1/privacy/erasures/{request_id}", token)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise PeerUnavailable(service, f"{NAMES[service]} svarte {response.status_code}.")
        return response.json()


def load_peers(settings) -> Peers:
    """Strict: a URL that is not http(s) stops start-up naming the variable."""
    urls = {}
    for service in SERVICES:
        name = f"INTAKE_{service.upper()}_URL"
        url = env_str(settings.extra, name, f"{settings.public_url}/{service}")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{name}={url!r} must be an http(s) URL")
        urls[service] = url.rstrip("/")
    return Peers(urls)
