"""The confirmation a withdrawal goes through on the pages (issue #15 point 5, WCAG 3.3.4): the withdrawal form
leads to a page that names what will change (which purposes stop holding, from when, for whom) and what happens to
the data the researchers already have (the project's data policy), before anything happens. Only its own button
withdraws; the API, a program's call, withdraws at once."""
from __future__ import annotations

from flask import render_template, request, url_for

from shared.web import current_platform

from . import service
from .api import deps

CONFIRMED = "confirmed"  # the form field the confirmation page's button sends


def confirmed() -> bool:
    return request.form.get(CONFIRMED) == "yes"


def confirm_page(kind, ref, principal, subject, cmd, seen_version):
    """The confirmation page for `cmd` (checked and previewed, nothing changed); ConsentInvalid, Conflict or a stale
    version as the withdrawal itself would raise, for the caller to show on the form."""
    with current_platform().engine.connect() as conn:
        preview = service.withdrawal_preview(conn, deps(), principal.office, subject, cmd, seen_version)
    back = url_for("consent_pages.case_page", case_id=ref) if kind == "case" else \
        url_for("consent_pages.person_page", subject_ref=ref)
    return render_template("consent/withdraw_confirm.html", kind=kind, case=subject.case, preview=preview,
                           form=request.form, version=seen_version, action=request.path, back=back + "#trekk")
