"""Consent's part of an access request, and the receipt of an erasure, for the office's local contact.

Intake asks both on the local contact's own token (services/intake/peers.py); the office scoping is the same as
for every consent endpoint: only the caller's office's cases answer.
"""
from __future__ import annotations

from shared.auth import NotFound
from shared.privacy import AccessIn, ErasureReceiptOut, jsonable
from shared.web import ApiBlueprint, current_platform, current_principal, roles_required
from shared.web.idempotency import not_replayed

from . import access, privacy, service
from .schemas import ConsentAccessOut

blp = ApiBlueprint("consent_privacy_api", __name__, url_prefix="/api/v1",
                description="Privacy operations: the consents of a person's cases (access request), erasure receipts")


@blp.route("/privacy/access", methods=["POST"])
@roles_required(*access.PRIVACY)
@blp.arguments(AccessIn)
@blp.response(200, ConsentAccessOut)
@not_replayed  # the answer holds the person's forms and scans: never kept beyond the request
def access_export(data):
    """The consents the office holds for these cases (an access request, GDPR art. 15). Another office's or an
    unknown case id is left out. Every scan handed out is in the audit log; the export is in the privacy log."""
    platform = current_platform()
    with platform.engine.begin() as conn:
        result = privacy.access_export(conn, service.deps_from_platform(platform), current_principal(),
                                       str(data["request_id"]), data["case_ids"])
    return jsonable(result)


@blp.route("/privacy/erasures/<uid:request_id>", methods=["GET"])
@roles_required(*access.PRIVACY)
@blp.response(200, ErasureReceiptOut)
def erasure_receipt(request_id):
    """What consent deleted for one of the office's erasures; 404 until intake's case.erased has been processed."""
    with current_platform().engine.connect() as conn:
        receipt = privacy.erasure_receipt(conn, current_principal().office, request_id)
    if receipt is None:
        raise NotFound("not found")
    return receipt
