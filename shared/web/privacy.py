"""The HTTP part of shared.privacy that consent and notify serve alike: the receipt of an erasure."""
from __future__ import annotations

from shared.auth import NotFound
from shared.privacy import ErasureReceiptOut

from . import current_platform, current_principal, roles_required


def erasure_receipt_route(blp, roles, find_receipt, service: str) -> None:
    """GET /privacy/erasures/<request_id> on BLP for ROLES: find_receipt(conn, office, request_id) of the caller's
    office, a 404 while it is None (intake's case.erased not yet processed)."""

    def erasure_receipt(request_id):
        with current_platform().engine.connect() as conn:
            receipt = find_receipt(conn, current_principal().office, request_id)
        if receipt is None:
            raise NotFound("not found")
        return receipt

    erasure_receipt.__doc__ = (f"What {service} deleted for one of the office's erasures; 404 until intake's "
                               "case.erased has been processed.")
    view = roles_required(*roles)(blp.response(200, ErasureReceiptOut)(erasure_receipt))
    blp.route("/privacy/erasures/<uid:request_id>", methods=["GET"])(view)
