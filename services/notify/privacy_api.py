"""Notify's part of an access request (case references only) and the receipt of an erasure, for the office's local
contact; intake asks both on the local contact's own token (services/intake/peers.py)."""
from __future__ import annotations

from shared.privacy import AccessIn, jsonable
from shared.web import ApiBlueprint, current_platform, current_principal, roles_required
from shared.web.idempotency import not_replayed
from shared.web.privacy import erasure_receipt_route

from . import access, privacy
from .schemas import NotifyAccessOut

blp = ApiBlueprint("notify_privacy_api", __name__, url_prefix="/api/v1",
                   description="Privacy operations: what notify holds of a person's cases (access request), erasure "
                               "receipts")


@blp.route("/privacy/access", methods=["POST"])
@roles_required(*access.PRIVACY)
@blp.arguments(AccessIn)
@blp.response(200, NotifyAccessOut)
@not_replayed  # it only reads, and its answer holds the cases' schedules: never kept beyond the request
def access_export(data):
    """What notify holds of these cases of the caller's office (an access request, GDPR art. 15): case references,
    dates, codes and reminders; another office's or an unknown case id is left out. Recorded in the privacy log."""
    platform = current_platform()
    with platform.engine.begin() as conn:
        result = privacy.access_export(conn, current_principal(), str(data["request_id"]), data["case_ids"],
                                       platform.clock.now())
    return jsonable(result)


erasure_receipt_route(blp, access.PRIVACY, privacy.erasure_receipt, "notify")
