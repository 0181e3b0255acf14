"""Norwegian pages for researchers: charts, the report's tables (suppressed) and download buttons."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from shared.web import current_platform, roles_required

from . import charts, codebook, export, stats

pages = Blueprint("registry_pages", __name__, template_folder="templates")

BY_LABELS = {"office": "Kontor", "county": "Fylke", "period": "År"}


def _threshold():
    return current_platform().directory.project_settings()["small_count_threshold"]


@pages.get("/")
@roles_required("researcher")
def index():
    platform = current_platform()
    threshold = _threshold()
    outcome = stats.distribution(platform.engine, platform.directory, "outcome", by="office", threshold=threshold)
    mentor = stats.distribution(platform.engine, platform.directory, "5", by="office", threshold=threshold)
    duration = stats.distribution(platform.engine, platform.directory, "6", by="office", threshold=threshold)
    return render_template(
        "registry/index.html", threshold=threshold, cursor=export.newest_change(platform.engine),
        outcome_chart=charts.outcome_chart(outcome),
        mentor_chart=charts.bar_chart("Kontakt mellom veileder og mentor (tabell 5)", charts.totals_items(mentor),
                                      "chart-mentor"),
        duration_chart=charts.bar_chart("Varighet (tabell 6)", charts.totals_items(duration), "chart-duration"),
        total=outcome["totals"]["total"] if outcome["totals"] else 0, tables=stats.DISTRIBUTIONS)


@pages.get("/tabeller/<table_id>")
@roles_required("researcher")
def table_page(table_id):
    platform = current_platform()
    by = request.args.get("by", "office")
    errors = {}
    if by not in stats.BY:
        errors["by"] = "Velg kontor, fylke eller år."
        by = "office"
    if table_id == "1":
        rows = stats.table1(platform.engine)
        return render_template("registry/table1.html", rows=rows, label=codebook.label)
    try:
        table = stats.distribution(platform.engine, platform.directory, table_id, by=by, threshold=_threshold())
    except stats.TableRequestError:
        return render_template("error.html", status=404, message="Fant ikke tabellen."), 404
    return render_template("registry/table.html", table=table, by=by, by_labels=BY_LABELS, errors=errors,
                           tables=stats.DISTRIBUTIONS, threshold=_threshold())


@pages.get("/kodebok")
@roles_required("researcher")
def codebook_page():
    platform = current_platform()
    return render_template("registry/codebook.html",
                           book=codebook.codebook(platform.directory, platform.directory.project_settings()))
