"""Norwegian pages: for researchers the charts, the report's tables (suppressed; the API's filters) and downloads;
the releases page (researchers: notes, manifest and files; the admin: the same records, the cut form and the
download log)."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError

from shared.web import current_platform, current_principal, roles_required
from shared.web.i18n import N_, current_language, localized
from shared.web.paging import page_of

from . import access, charts, service
from .domain import reports
from .domain.codebook import labels
from .domain.errors import PatternPending, TableRequestError
from .domain.reports import DISTRIBUTIONS
from .schemas import CutIn, TablePageForm

pages = Blueprint("registry_pages", __name__, template_folder="templates")

BY_LABELS = {"office": N_("Kontor"), "county": N_("Fylke"), "period": N_("År")}
RELEASES_PER_PAGE = 10  # a release is a card with its k-anonymity report and manifest: fewer per page than rows


def data_language() -> str:
    """The language of the codebook's labels on a page: the page's (the codebook has bokmål, nynorsk and
    English)."""
    return current_language()


def codebook_label(vocab: str, code: str) -> str:
    """A code of the codebook in the page's language."""
    return localized(labels(vocab, code))


@pages.context_processor
def _language():
    return {"language": data_language(), "table_title": reports.title}


# While another process searches the suppression pattern a page needs (20 s and more), the page waits this long
# (a small search is over by then), then says so rather than holding one of the service's few workers; the API waits.
PATTERN_WAIT_SECONDS = 5
RELOAD_AFTER_SECONDS = 60


@pages.errorhandler(PatternPending)
def _pattern_pending(_error):
    # 202, not 503: the service is well and the work is under way; a 5xx would page the operator and read as a fault.
    return render_template("registry/computing.html"), 202, {"Retry-After": str(RELOAD_AFTER_SECONDS)}


@pages.get("/")
@roles_required(*access.RESEARCH)
def index():
    view = service.overview(current_platform(), wait=PATTERN_WAIT_SECONDS)
    outcome, language = view["outcome"], data_language()
    return render_template(
        "registry/index.html", threshold=view["threshold"], cursor=view["cursor"],
        outcome=outcome, contact=view["contact"], duration=view["duration"],
        outcome_chart=charts.stacked_chart(_("Utfall ved tiltaksslutt per kontor"), outcome, "chart-outcome",
                                           language),
        contact_chart=charts.party_chart(_("Kontakt med bruker og mentor (tabell 5)"), view["contact"],
                                         "chart-contact", language),
        duration_chart=charts.bar_chart(_("Varighet (tabell 6)"), view["duration"], "chart-duration", language),
        total=outcome["totals"]["total"] if outcome["totals"] else 0, tables=DISTRIBUTIONS)


@pages.get("/tabeller/<table_id>")
@roles_required(*access.RESEARCH)
def table_page(table_id):
    """A table with the API's filters (office, county, period_from, period_to) and breakdown."""
    platform = current_platform()
    schema = TablePageForm()
    errors = {}
    try:
        form = schema.load({name: request.args[name] for name in schema.fields if request.args.get(name)})
    except ValidationError as error:
        errors = {name: messages[0] for name, messages in error.messages.items()}
        form = schema.load({})
    filters = {k: form[k] for k in ("office", "county", "period_from", "period_to") if form.get(k)}
    try:
        if table_id == "1":
            rows = service.table1(platform, **filters)["rows"]
            return render_template("registry/table1.html", rows=rows, label=codebook_label, form=form, errors=errors)
        table = service.distribution(platform, table_id, by=form["by"], wait=PATTERN_WAIT_SECONDS, **filters)
    except TableRequestError as error:
        if error.field == "table":
            return render_template("error.html", status=404, message=_("Fant ikke tabellen.")), 404
        errors[error.field] = str(error)
        return render_template("registry/table.html", table=None, form=form, by_labels=BY_LABELS, errors=errors,
                               tables=DISTRIBUTIONS, threshold=None, filters=filters), 422
    return render_template("registry/table.html", table=table, form=form, by=form["by"], by_labels=BY_LABELS,
                           errors=errors, tables=DISTRIBUTIONS, threshold=table["threshold"], filters=filters)


def _releases_page(errors=None, status=200):
    principal = current_principal()
    platform = current_platform()
    log, log_page = None, None
    if principal.role in access.RELEASE_ADMIN:
        # The whole chain is read to check it; the page shows one page of it (its own ?loggside).
        log = service.download_log(platform)
        log_page = page_of(len(log["entries"]), param="loggside")
        log["entries"] = log["entries"][log_page.offset:log_page.offset + log_page.size]
    page, releases = service.releases_page(platform, lambda total: page_of(total, size=RELEASES_PER_PAGE))
    return render_template("registry/releases.html", releases=releases, page=page, log=log, log_page=log_page,
                           may_cut=principal.role in access.RELEASE_ADMIN,
                           may_download=principal.role in access.RESEARCH, errors=errors or {},
                           done=request.args.get("utgitt")), status


@pages.get("/utgivelser")
@roles_required(*access.RELEASE_VIEW)
def releases_page():
    return _releases_page()


@pages.post("/utgivelser")
@roles_required(*access.RELEASE_ADMIN)
def cut_release():
    principal = current_principal()
    schema = CutIn()
    try:
        form = schema.load({name: request.form[name] for name in schema.fields if name in request.form})
    except ValidationError as error:
        return _releases_page(errors={name: messages[0] for name, messages in error.messages.items()}, status=422)
    record = service.cut_release(current_platform(), principal.subject, labels=form["labels"])
    return redirect(url_for("registry_pages.releases_page", utgitt=record["id"]))


@pages.get("/kodebok")
@roles_required(*access.RESEARCH)
def codebook_page():
    return render_template("registry/codebook.html", book=service.codebook_document(current_platform()))
