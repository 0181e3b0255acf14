"""Who may do what with consents (the one place role names appear; README "Tilgang" mirrors it).

Consents are the office's own: only the office's counsellors and its local contact see them, and only within
their office (another office's ids answer 404). Researchers, county contacts and admins never see consents;
the admin manages the templates only. Views check with `shared.web.roles_required` or `shared.auth.require_role`.
"""
RECORD = ("counsellor", "local_contact")          # record a signed consent, see who signed what and the status
WITHDRAW = ("counsellor", "local_contact")        # as easy as granting: whoever may record may withdraw
VIEW_DOCUMENTS = ("local_contact",)               # open or download the scanned document (audited, reason required)
READ_STATUS = ("counsellor", "local_contact")
READ_TEMPLATES = ("counsellor", "local_contact", "admin")
MANAGE_TEMPLATES = ("admin",)
PRIVACY = ("local_contact",)                      # a person's consents for an access request; erasure receipts

PERSON_SUBJECTS = ("counsellor", "local_contact")  # the office's people a person consent (focus groups) may concern
LISTED_STAFF = "counsellor"                       # the people the office's consent page lists for person consents


def sees_documents(principal) -> bool:
    return principal.role in VIEW_DOCUMENTS


def manages_templates(principal) -> bool:
    return principal.role in MANAGE_TEMPLATES
