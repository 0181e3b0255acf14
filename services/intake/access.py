"""Who may do what in intake (the one place role names appear; the README's access table mirrors it).

Cases belong to an office: its counsellors and its local contact read and write them (the office chose openness:
every counsellor sees the office's cases); nobody else sees case contents (county contacts, researchers and admins
get 403, another office's case id 404). The local contact also gets the office overview; the admin runs project end.
Notify's service token (role service, scope employer-contact:read; no person has either) reads a case's employer
contact, and nothing else. Views check with `shared.web.roles_required(*access.X)` or
`shared.auth.require_role(principal, *access.X)`.
"""
CASES = ("counsellor", "local_contact")
OVERVIEW = ("local_contact",)
PROJECT_END = ("admin",)
# Access requests and erasure for one person (GDPR art. 15 and 17): the office's keeper of personal data, as of
# consents. Retention is an operator's command (`flask privacy retention`), no web role.
PRIVACY = ("local_contact",)
# Who may hold a case handed over: a counsellor (of the same office) who is not a job specialist.
CASE_HOLDERS = ("counsellor",)
# The one machine permission: notify's service token reads a case's employer contact for the survey invitation
# (shared.web.service_scope_required). No person (admin included) holds a service token, so no person reads it.
EMPLOYER_CONTACT_SCOPE = "employer-contact:read"


def takes_handover(user: dict) -> bool:
    """A directory user who may receive a case: a counsellor who is not a job specialist (the office is the
    caller's check)."""
    return user["role"] in CASE_HOLDERS and not user["is_job_specialist"]
