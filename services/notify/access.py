"""Who may do what in notify (the one place role names appear).

Everyone signed in sees and manages their own notifications and mail choice (by subject, no role needed). The
office's counsellors and local contact resolve their office's reminders by hand; a county contact sees the counts
of their own county's offices; the admin sees and requeues dead letters; the local contact asks for notify's part
of an access request. Views check with `shared.web.roles_required` or the predicates below.
"""
COUNTY_OVERVIEW = ("county_contact",)   # counts per office of the caller's own county
DEAD_LETTERS = ("admin",)               # list and requeue mail that failed every attempt
PRIVACY = ("local_contact",)            # notify's part of an access request; erasure receipts

ESCALATED_TO = "local_contact"          # an overdue reminder goes to the office's local contact(s) too
COUNTY_DIGEST_TO = "county_contact"     # the weekly county digest goes to every county contact


def sees_county(principal) -> bool:
    """A county contact with a county: another role, or one without a county, sees no county's counts."""
    return principal.role in COUNTY_OVERVIEW and bool(principal.county)


def resolves_reminders(principal) -> bool:
    """The office's counsellors and local contact resolve its reminders (in their own office only)."""
    return principal.is_office_member
