"""The researchers' API (role researcher only): exports, change feed, codebook and the report's tables."""
from __future__ import annotations

import csv
import io

from flask import Response

from shared.web import ApiBlueprint, current_platform, error_response, roles_required

from . import access, schemas, service
from .domain.errors import TableRequestError
from .domain.reports import distribution_csv_lines, table1_csv_lines

blp = ApiBlueprint("registry_api", __name__, url_prefix="/api/v1",
                   description="Pseudonymised closures for researchers (role researcher)")


def _stream(body, mimetype, filename, upto):
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Registry-Cursor"] = str(upto)
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/exports/closures.csv", methods=["GET"])
@blp.arguments(schemas.ExportQuery, location="query")
@blp.doc(responses={200: {"description": "CSV, one row per case; header X-Registry-Cursor is the next cursor"}})
@roles_required(*access.RESEARCH)
def export_csv(query):
    platform = current_platform()
    upto = service.newest_change(platform)
    return _stream(service.stream_csv(platform, query["after"], upto), "text/csv",
                   f"registry-closures-{query['after']}-{upto}.csv", upto)


@blp.route("/exports/closures.json", methods=["GET"])
@blp.arguments(schemas.ExportQuery, location="query")
@blp.doc(responses={200: {"description": "JSON {after, next_cursor, columns, rows}"}})
@roles_required(*access.RESEARCH)
def export_json(query):
    platform = current_platform()
    upto = service.newest_change(platform)
    return _stream(service.stream_json(platform, query["after"], upto), "application/json",
                   f"registry-closures-{query['after']}-{upto}.json", upto)


@blp.route("/changes", methods=["GET"])
@blp.arguments(schemas.ChangesQuery, location="query")
@blp.response(200, schemas.ChangesOut)
@roles_required(*access.RESEARCH)
def change_feed(query):
    """New, corrected and withdrawn (erased or marked) cases since a cursor."""
    return service.changes_since(current_platform(), query["after"], query["limit"])


@blp.route("/codebook", methods=["GET"])
@blp.response(200, schemas.CodebookOut)
@roles_required(*access.RESEARCH)
def codebook():
    return service.codebook_document(current_platform())


def _filters(query):
    return {k: query[k] for k in ("office", "county", "period_from", "period_to") if query.get(k)}


def _refused(error: TableRequestError):
    """An unknown table is 404; a breakdown or period filter the registry cannot serve is 422 on its field."""
    return error_response(404 if error.field == "table" else 422, str(error), {error.field: [str(error)]})


def _csv_response(lines, filename):
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(lines)
    response = Response(buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@blp.route("/tables/1", methods=["GET"])
@blp.arguments(schemas.FilterQuery, location="query")
@blp.response(200, schemas.Table1Out)
@blp.doc(responses=schemas.CSV_TOO)
@roles_required(*access.RESEARCH)
def table_one(query):
    """Table 1: one row per case, codes as in the codebook. Row level: no counts."""
    try:
        table = service.table1(current_platform(), **_filters(query))
    except TableRequestError as error:
        return _refused(error)
    if query["format"] == "csv":
        return _csv_response(table1_csv_lines(table), "tabell-1.csv")
    return table


@blp.route("/tables/<table_id>", methods=["GET"])
@blp.arguments(schemas.DistributionQuery, location="query")
@blp.response(200, schemas.DistributionOut)
@blp.doc(responses=schemas.CSV_TOO)
@roles_required(*access.RESEARCH)
def distribution(query, table_id):
    """Tables 3–7 and the outcome summary: counts, percentages and n by office, county or period; every table of
    a filter set shares one suppression pattern (no hidden count can be worked out from any of them together)."""
    try:
        table = service.distribution(current_platform(), table_id, by=query["by"], **_filters(query))
    except TableRequestError as error:
        return _refused(error)
    if query["format"] == "csv":
        return _csv_response(distribution_csv_lines(table), f"tabell-{table_id}-{query['by']}.csv")
    return table
