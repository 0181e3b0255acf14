"""Norwegian pages for researchers: charts, the report's tables (suppressed) and download buttons."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from marshmallow import ValidationError

from shared.web import current_platform, roles_required

from . import access, charts, service
from .domain.codebook import label
from .domain.errors import TableRequestError
from .domain.reports import DISTRIBUTIONS
from .schemas import TablePageForm

pages = Blueprint("registry_pages", __name__, template_folder="templates")

BY_LABELS = {"office": "Kontor", "county": "Fylke", "period": "År"}


@pages.get("/")
@roles_required(*access.RESEARCH)
def index():
    view = service.overview(current_platform())
    outcome = view["outcome"]
    return render_template(
        "registry/index.html", threshold=view["threshold"], cursor=view["cursor"],
        outcome_chart=charts.outcome_chart(outcome),
        mentor_chart=charts.bar_chart("Kontakt mellom veileder og mentor (tabell 5)",
                                      charts.totals_items(view["mentor"]), "chart-mentor"),
        duration_chart=charts.bar_chart("Varighet (tabell 6)", charts.totals_items(view["duration"]),
                                        "chart-duration"),
        total=outcome["totals"]["total"] if outcome["totals"] else 0, tables=DISTRIBUTIONS)


@pages.get("/tabeller/<table_id>")
@roles_required(*access.RESEARCH)
def table_page(table_id):
    platform = current_platform()
    errors = {}
    try:
        by = TablePageForm().load({"by": request.args["by"]} if "by" in request.args else {})["by"]
    except ValidationError as error:
        errors["by"] = error.messages["by"][0]
        by = "office"
    if table_id == "1":
        return render_template("registry/table1.html", rows=service.table1(platform)["rows"], label=label)
    try:
        table = service.distribution(platform, table_id, by=by)
    except TableRequestError:
        return render_template("error.html", status=404, message="Fant ikke tabellen."), 404
    return render_template("registry/table.html", table=table, by=by, by_labels=BY_LABELS, errors=errors,
                           tables=DISTRIBUTIONS, threshold=table["threshold"])


@pages.get("/kodebok")
@roles_required(*access.RESEARCH)
def codebook_page():
    return render_template("registry/codebook.html", book=service.codebook_document(current_platform()))
