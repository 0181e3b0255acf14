"""Who may do what with consents (the one place; README "Tilgang" mirrors it).

Consents are the office's own: only the office's counsellors and its local contact see them, and only within
their office (another office's ids answer 404). Researchers, county contacts and admins never see consents;
the admin manages the templates only.
"""
from shared.auth import Forbidden

RECORD = ("counsellor", "local_contact")          # record a signed consent, see who signed what and the status
WITHDRAW = ("counsellor", "local_contact")        # as easy as granting: whoever may record may withdraw
VIEW_DOCUMENTS = ("local_contact",)               # open or download the scanned document (audited, reason required)
READ_STATUS = ("counsellor", "local_contact")
READ_TEMPLATES = ("counsellor", "local_contact", "admin")
MANAGE_TEMPLATES = ("admin",)
PRIVACY = ("local_contact",)                      # a person's consents for an access request; erasure receipts


def require(principal, allowed):
    if principal.role not in allowed:
        raise Forbidden(f"role {principal.role} may not do this")
    if principal.role in ("counsellor", "local_contact") and not principal.office:
        raise Forbidden("an office role without an office")
    return principal
