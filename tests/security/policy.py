"""The who-may-do-what table (issue #2 point 12) written down per endpoint, the access matrix's expected answers.

Every API operation in a service's /api/openapi.json and every page rule in its url_map has exactly one entry
here; `test_access_matrix.test_every_endpoint_has_an_entry` fails when a service adds one without it.

An entry is (roles allowed, owned-by kind): `owned` names the path parameter whose id belongs to an office, so
the owning office's caller gets past the role check and another office's caller gets 404 (never 403).
PUBLIC marks what needs no sign-in at all.
"""
from __future__ import annotations

from dataclasses import dataclass

C, L, K, R, A = "counsellor", "local_contact", "county_contact", "researcher", "admin"
OFFICE = (C, L)
EVERYONE = (C, L, K, R, A)


@dataclass(frozen=True)
class Rule:
    roles: tuple
    owned: bool = False
    public: bool = False
    landing: bool = False      # a start page: a role without access is sent to its own start page (not 200)
    service_scope: str | None = None  # machine-only: no person role may call it, only a service token with this scope
    # (Every entry, service_only or not, also refuses a service token of any other scope with 403: a service token
    # opens the endpoints of its scope and nothing else, public pages included.)


def landing(*roles):
    return Rule(tuple(roles), landing=True)


PUBLIC = Rule((), public=True)


def service_only(scope):
    """No person role (admin included, even with the scope as a claim) gets past the guard (403; no token 401);
    only a token of the role `service` carrying `scope` (shared.auth.mint_service_token)."""
    return Rule((), service_scope=scope)


def allow(*roles, owned=False):
    return Rule(tuple(roles), owned=owned)


# The pages and endpoints every service inherits from shared/web.
COMMON_PAGES = {
    ("GET", "/static/<path:filename>"): PUBLIC,
    ("GET", "/platform-static/<path:filename>"): PUBLIC,
    ("GET", "/platform-static/npm/<package>/<path:filename>"): PUBLIC,  # Aksel CSS, the font (shared/web/frame.py)
    ("GET", "/tilgjengelighet"): PUBLIC,   # the accessibility statement, linked from every footer
    ("POST", "/sprak"): PUBLIC,   # the language choice (a cookie), open to everyone like the page it is on
    ("GET", "/logg-inn"): PUBLIC,
    ("GET", "/logg-inn/callback"): PUBLIC,  # the provider's redirect back; the code and state are its proof
    ("POST", "/logg-ut"): PUBLIC,          # signing out needs no valid session; it only clears the cookie
    ("POST", "/logg-ut/backchannel"): PUBLIC,  # the provider's server; the signed logout token is its proof
    ("GET", "/logget-ut"): PUBLIC,         # "you are signed out"
    ("POST", "/okt/forleng"): allow(*EVERYONE),  # the idle-timeout warning's "Forleng": one's own session only
    ("POST", "/skjema-tatt-vare/forkast"): allow(*EVERYONE),  # drop a form kept for oneself after a session ended
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,           # counts only; the proxy does not publish it (docs/security.md)
}

POLICY = {
    "intake": {
        ("GET", "/api/v1/cases"): allow(*OFFICE),
        ("POST", "/api/v1/cases"): allow(*OFFICE),
        ("POST", "/api/v1/cases/search"): allow(*OFFICE),
        ("GET", "/api/v1/cases/{case_id}"): allow(*OFFICE, owned=True),
        ("GET", "/api/v1/cases/{case_id}/history"): allow(*OFFICE, owned=True),
        ("POST", "/api/v1/cases/{case_id}/contacts"): allow(*OFFICE, owned=True),
        ("PUT", "/api/v1/cases/{case_id}/contacts/{contact_id}"): allow(*OFFICE, owned=True),
        ("DELETE", "/api/v1/cases/{case_id}/contacts/{contact_id}"): allow(*OFFICE, owned=True),
        ("POST", "/api/v1/cases/{case_id}/measures"): allow(*OFFICE, owned=True),
        ("PUT", "/api/v1/cases/{case_id}/measures/{measure_id}"): allow(*OFFICE, owned=True),
        ("DELETE", "/api/v1/cases/{case_id}/measures/{measure_id}"): allow(*OFFICE, owned=True),
        ("PUT", "/api/v1/cases/{case_id}/parties"): allow(*OFFICE, owned=True),
        ("POST", "/api/v1/cases/{case_id}/handover"): allow(*OFFICE, owned=True),
        ("PUT", "/api/v1/cases/{case_id}/plan"): allow(*OFFICE, owned=True),
        ("GET", "/api/v1/cases/{case_id}/closure"): allow(*OFFICE, owned=True),
        ("POST", "/api/v1/cases/{case_id}/closure"): allow(*OFFICE, owned=True),
        ("PUT", "/api/v1/cases/{case_id}/closure/draft"): allow(*OFFICE, owned=True),
        ("GET", "/api/v1/overview"): allow(L),
        # Privacy operations for one person (access request, erasure, its receipt): the office's local contact only.
        ("POST", "/api/v1/privacy/access"): allow(L),
        ("POST", "/api/v1/privacy/erasure"): allow(L),
        ("GET", "/api/v1/privacy/erasures/{request_id}"): allow(L, owned=True),
        ("POST", "/api/v1/admin/project-end"): allow(A),
        # The employer contact for notify's survey invitation: the one contact detail that leaves the office.
        ("GET", "/api/internal/cases/{case_id}/employer-contact"): service_only("employer-contact:read"),
        ("GET", "/intake-static/<path:filename>"): PUBLIC,
        ("GET", "/"): landing(*OFFICE),
        ("POST", "/sok"): allow(*OFFICE),
        ("GET", "/saker/ny"): allow(*OFFICE),
        ("POST", "/saker/ny"): allow(*OFFICE),
        ("GET", "/saker/<uid:case_id>"): allow(*OFFICE, owned=True),
        # The case's parts, each its own page (issue #15 point 2), and the question before a contact is deleted.
        ("GET", "/saker/<uid:case_id>/parter"): allow(*OFFICE, owned=True),
        ("GET", "/saker/<uid:case_id>/plan"): allow(*OFFICE, owned=True),
        ("GET", "/saker/<uid:case_id>/kontakter"): allow(*OFFICE, owned=True),
        ("GET", "/saker/<uid:case_id>/kontakter/<uid:contact_id>"): allow(*OFFICE, owned=True),
        ("GET", "/saker/<uid:case_id>/kontakter/<uid:contact_id>/slett"): allow(*OFFICE, owned=True),
        ("GET", "/saker/<uid:case_id>/tiltak"): allow(*OFFICE, owned=True),
        ("GET", "/saker/<uid:case_id>/tiltak/<uid:measure_id>/slett"): allow(*OFFICE, owned=True),
        ("GET", "/saker/<uid:case_id>/overfor"): allow(*OFFICE, owned=True),
        ("GET", "/saker/<uid:case_id>/historikk"): allow(*OFFICE, owned=True),
        ("POST", "/saker/<uid:case_id>/kontakter"): allow(*OFFICE, owned=True),
        ("POST", "/saker/<uid:case_id>/kontakter/<uid:contact_id>"): allow(*OFFICE, owned=True),
        ("POST", "/saker/<uid:case_id>/kontakter/<uid:contact_id>/slett"): allow(*OFFICE, owned=True),
        ("POST", "/saker/<uid:case_id>/tiltak"): allow(*OFFICE, owned=True),
        ("POST", "/saker/<uid:case_id>/tiltak/<uid:measure_id>/slett"): allow(*OFFICE, owned=True),
        ("POST", "/saker/<uid:case_id>/parter"): allow(*OFFICE, owned=True),
        ("POST", "/saker/<uid:case_id>/plan"): allow(*OFFICE, owned=True),
        ("POST", "/saker/<uid:case_id>/overfor"): allow(*OFFICE, owned=True),
        ("GET", "/saker/<uid:case_id>/avslutning"): allow(*OFFICE, owned=True),
        ("POST", "/saker/<uid:case_id>/avslutning"): allow(*OFFICE, owned=True),
        ("GET", "/saker/<uid:case_id>/sluttskjema"): allow(*OFFICE, owned=True),
        ("GET", "/saker/<uid:case_id>/sluttskjema/<step>"): allow(*OFFICE, owned=True),
        ("POST", "/saker/<uid:case_id>/sluttskjema/<step>"): allow(*OFFICE, owned=True),
        ("POST", "/saker/<uid:case_id>/sluttskjema/send"): allow(*OFFICE, owned=True),
        ("GET", "/saker/<uid:case_id>/sluttskjema/kvittering"): allow(*OFFICE, owned=True),
        ("GET", "/oversikt"): allow(L),
        ("GET", "/personvern"): allow(L),
        ("POST", "/personvern/innsyn"): allow(L),
        ("POST", "/personvern/sletting"): allow(L),
        ("GET", "/personvern/sletting/<uid:request_id>"): allow(L, owned=True),
        ("GET", "/admin"): allow(A),
        ("POST", "/admin"): allow(A),
    },
    "consent": {
        ("GET", "/api/v1/templates"): allow(C, L, A),
        ("POST", "/api/v1/templates"): allow(A),
        ("POST", "/api/v1/consents"): allow(*OFFICE),
        ("POST", "/api/v1/withdrawals"): allow(*OFFICE),
        ("GET", "/api/v1/status"): allow(*OFFICE),
        ("GET", "/api/v1/cases/{case_id}"): allow(*OFFICE, owned=True),
        ("GET", "/api/v1/persons/{subject_ref}"): allow(*OFFICE, owned=True),
        ("GET", "/api/v1/documents/{document_id}"): allow(L, owned=True),
        # A person's consents for an access request (asked by intake on the local contact's token), erasure receipt.
        ("POST", "/api/v1/privacy/access"): allow(L),
        ("GET", "/api/v1/privacy/erasures/{request_id}"): allow(L, owned=True),
        ("GET", "/"): landing(*OFFICE),
        ("GET", "/saker/<uid:case_id>"): allow(*OFFICE, owned=True),
        ("GET", "/personer/<subject_ref>"): allow(*OFFICE, owned=True),
        ("POST", "/saker/<uid:case_id>/samtykke"): allow(*OFFICE, owned=True),
        ("POST", "/personer/<subject_ref>/samtykke"): allow(*OFFICE, owned=True),
        ("POST", "/saker/<uid:case_id>/trekk-tilbake"): allow(*OFFICE, owned=True),
        ("POST", "/personer/<subject_ref>/trekk-tilbake"): allow(*OFFICE, owned=True),
        ("GET", "/dokumenter/<uid:document_id>"): allow(L, owned=True),
        ("POST", "/dokumenter/<uid:document_id>"): allow(L, owned=True),
        ("GET", "/maler"): allow(C, L, A),
        ("POST", "/maler"): allow(A),
    },
    "registry": {
        ("GET", "/api/v1/exports/closures.csv"): allow(R),
        ("GET", "/api/v1/exports/closures.json"): allow(R),
        ("GET", "/api/v1/changes"): allow(R),
        ("GET", "/api/v1/codebook"): allow(R),
        ("GET", "/api/v1/tables/1"): allow(R),
        ("GET", "/api/v1/tables/{table_id}"): allow(R),
        # Releases: the admin cuts them and reads the download log; researchers download files and tables.
        ("GET", "/api/v1/releases"): allow(R, A),
        ("POST", "/api/v1/releases"): allow(A),
        ("GET", "/api/v1/releases/{release_id}"): allow(R, A),
        ("GET", "/api/v1/releases/{release_id}/files/{name}"): allow(R),
        ("GET", "/api/v1/releases/{release_id}/tables/{table_id}"): allow(R),
        ("GET", "/api/v1/downloads"): allow(A),
        ("GET", "/"): allow(R),
        ("GET", "/tabeller/<table_id>"): allow(R),
        ("GET", "/kodebok"): allow(R),
        ("GET", "/utgivelser"): allow(R, A),
        ("POST", "/utgivelser"): allow(A),
    },
    "notify": {
        # Notifications and preferences are the caller's own (by subject), whatever the role.
        ("GET", "/api/v1/notifications"): allow(*EVERYONE),
        ("POST", "/api/v1/notifications/{notification_id}/read"): allow(*EVERYONE, owned=True),
        ("GET", "/api/v1/preferences"): allow(*EVERYONE),
        ("PUT", "/api/v1/preferences"): allow(*EVERYONE),
        ("POST", "/api/v1/reminders/{reminder_id}/resolve"): allow(*OFFICE, owned=True),
        ("GET", "/api/v1/county"): allow(K),
        ("GET", "/api/v1/dead-letters"): allow(A),
        # What notify holds of a person's cases for an access request (intake asks, on the local contact's token),
        # and an erasure's receipt.
        ("POST", "/api/v1/privacy/access"): allow(L),
        ("GET", "/api/v1/privacy/erasures/{request_id}"): allow(L, owned=True),
        ("POST", "/api/v1/dead-letters/retry"): allow(A),
        ("GET", "/"): allow(*EVERYONE),
        ("POST", "/varsler/<int:notification_id>/lest"): allow(*EVERYONE, owned=True),
        ("POST", "/varsler/lest"): allow(*EVERYONE),
        ("POST", "/paminnelser/<int:reminder_id>/avtalt"): allow(*OFFICE, owned=True),
        ("POST", "/innstillinger"): allow(*EVERYONE),
        ("GET", "/avmeld/<token>"): PUBLIC,     # the signed link in an e-mail is the credential
        ("POST", "/avmeld/<token>"): PUBLIC,
        ("GET", "/fylke"): allow(K),
        ("GET", "/feilede"): allow(A),
        ("POST", "/feilede/prov-igjen"): allow(A),
    },
}

for _service_policy in POLICY.values():
    for _key, _rule in COMMON_PAGES.items():
        _service_policy.setdefault(_key, _rule)
