"""The admin's project end confirmed before it happens (issue #15 point 5, WCAG 3.3.4): it sends the status form of
every open case in every office to the researchers, which cannot be taken back. The admin page's button (a post to
/admin) first answers with a page naming what will be sent, for how many cases in which offices; only that page's
button (confirmed=yes) reaches the project end in pages.admin."""
from __future__ import annotations

from flask import render_template, request

from shared.auth import require_role
from shared.web import current_platform, current_principal

from . import access, service
from .pages import pages

CONFIRMED = "confirmed"


def project_end_confirm():
    require_role(current_principal(), *access.PROJECT_END)
    platform = current_platform()
    with platform.engine.connect() as conn:
        preview = service.project_end_preview(conn, platform)
        project = platform.directory.project_settings(conn)
    return render_template("intake/admin_confirm.html", preview=preview, project=project)


@pages.before_request
def _project_end_only_when_confirmed():
    """The admin page's POST sends at once: without the confirmation page's field it shows that page instead."""
    if request.endpoint == "intake_pages.admin" and request.method == "POST" and \
            request.form.get(CONFIRMED) != "yes":
        return project_end_confirm()
    return None
