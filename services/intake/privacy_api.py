"""The local contact's privacy operations over the JSON API: access request, erasure, erasure receipt.

The national ID travels in a POST body only (never in a URL or a log line); the answer for a person with no case in
the caller's office, another office's person included, is the same 404.
"""
from __future__ import annotations

from flask import current_app, request

from shared.auth import COOKIE_NAME
from shared.web import ApiBlueprint, ErrorOut, current_platform, current_principal, error_response, roles_required
from shared.web.idempotency import not_replayed
from shared.web.preconditions import expected_version, version_etag

from . import access, privacy
from .peers import PeerUnavailable
from .schemas import AccessDocumentOut, AccessIn, ErasureIn, ErasureOut, ErasureStatusOut

blp = ApiBlueprint("intake_privacy_api", __name__, url_prefix="/api/v1",
                   description="Privacy operations of the office's local contact: access request and erasure")


def caller_token() -> str:
    """The caller's own token, passed on to consent and notify (they check role and office themselves)."""
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.startswith("Bearer ") else request.cookies.get(COOKIE_NAME, "")


def peers():
    return current_app.extensions["privacy_peers"]


def register_errors(app):
    @app.errorhandler(privacy.NobodyFound)
    def _nobody(_error):
        return error_response(404, privacy.NOBODY, {"national_id": [privacy.NOBODY]}, code="not_found")

    @app.errorhandler(PeerUnavailable)
    def _peer(error):
        return error_response(503, error.message, code="service_unavailable")


@blp.route("/privacy/access", methods=["POST"])
@not_replayed  # the answer is the person's whole file: never kept for a repeat
@roles_required(*access.PRIVACY)
@blp.arguments(AccessIn)
@blp.response(200, AccessDocumentOut, headers={"ETag": {
    "description": 'the document\'s version, e.g. "v12": send it as If-Match with the erasure',
    "schema": {"type": "string"}}})
def access_request(data):
    """Access request (innsyn, GDPR art. 15): everything the office holds about one person, as one document.

    Intake's cases (decrypted, with contacts, measures, closures, history, disclosures), consent's consents and
    notify's reminders for them, and the version an erasure names. 404 when the office has no case for the national
    ID (also another office's person), 422 malformed, 503 when consent or notify cannot give its part (nothing
    partial is handed out)."""
    document = privacy.access_request(current_platform(), peers(), current_principal(), caller_token(),
                                      data["national_id"])
    return document, 200, {"ETag": version_etag(document["version"])}


@blp.route("/privacy/erasure", methods=["POST"])
@roles_required(*access.PRIVACY)
@blp.arguments(ErasureIn)
@blp.response(200, ErasureOut)
@blp.alt_response(428, schema=ErrorOut, description="No version given: send `If-Match` with the access document's "
                  "`ETag` or the field `expected_version`")
@blp.alt_response(409, schema=ErrorOut, description="The person's cases changed since that version (or a repeat of "
                  "the erasure): the message names the current version; ask for the access document again")
def erasure(data):
    """Erasure (sletting, GDPR art. 17): delete everything the office holds about the person, as the access document
    of `expected_version` (or `If-Match`) showed it.

    Intake deletes at once; consent, notify and the registry act on the `case.erased` event (GET the receipt to see
    them done). `confirm` must be true. 428 without the version, 409 when the person's cases changed since; 404 /
    422 as for the access request; nothing changes on any error."""
    seen = expected_version(data)
    with current_platform().engine.begin() as conn:
        result = privacy.erase(conn, current_platform(), current_principal(), data["national_id"], data["confirm"],
                               seen)
    return privacy.jsonable(result)


@blp.route("/privacy/erasures/<uid:request_id>", methods=["GET"])
@roles_required(*access.PRIVACY)
@blp.response(200, ErasureStatusOut)
def erasure_status(request_id):
    """The receipt of one of the office's erasures: intake's counts, and consent's and notify's when done."""
    return privacy.erasure_status(current_platform(), peers(), current_principal(), caller_token(), request_id)
