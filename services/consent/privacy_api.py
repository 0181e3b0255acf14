"""Consent's part of an access request, and the receipt of an erasure, for the office's local contact.

Intake asks both on the local contact's own token (services/intake/peers.py); the office scoping is the same as
for every consent endpoint: only the caller's office's cases answer.
"""
from __future__ import annotations

from shared.privacy import AccessIn, jsonable
from shared.web import ApiBlueprint, current_platform, current_principal, roles_required
from shared.web.idempotency import not_replayed
from shared.web.privacy import erasure_receipt_route

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


erasure_receipt_route(blp, access.PRIVACY, privacy.erasure_receipt, "consent")
