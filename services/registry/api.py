"""The registry's API: exports, change feed, codebook and the report's tables for researchers; releases (cut by the
admin, files and tables for researchers) and the download log (admin). Roles in access.py."""
from __future__ import annotations

import csv
import io

from flask import Response

from shared.web import ApiBlueprint, current_platform, current_principal, error_response, roles_required

from . import access, schemas, service
from .domain.errors import ReleaseError, TableRequestError
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


# ---------------------------------------------------------------- releases
def _release_refused(error: ReleaseError):
    return error_response(error.status, str(error))


@blp.route("/releases", methods=["GET"])
@blp.response(200, schemas.ReleasesOut)
@roles_required(*access.RELEASE_VIEW)
def releases():
    """Every release version, newest first, with its notes (errata) and manifest (file, rows, bytes, SHA-256)."""
    return {"releases": service.list_releases(current_platform())}


@blp.route("/releases", methods=["POST"])
@blp.arguments(schemas.CutIn, required=False)  # no body: the bokmål labels
@blp.response(201, schemas.ReleaseOut)
@roles_required(*access.RELEASE_ADMIN)
def cut_release(body):
    """Cut a release at the newest change (the command `flask … registry release cut` does the same)."""
    return service.cut_release(current_platform(), current_principal().subject, labels=body["labels"])


@blp.route("/releases/<release_id>", methods=["GET"])
@blp.response(200, schemas.ReleaseOut)
@roles_required(*access.RELEASE_VIEW)
def release(release_id):
    try:
        return service.get_release(current_platform(), release_id)
    except ReleaseError as error:
        return _release_refused(error)


@blp.route("/releases/<release_id>/files/<name>", methods=["GET"])
@blp.doc(responses={200: {"description": "the file; X-Content-SHA256 as in the manifest; the download is logged"},
                    410: {"description": "deleted after an erasure: take the release's next version"}})
@roles_required(*access.RESEARCH)
def release_file(release_id, name):
    try:
        sha256, chunks = service.download_stream(current_platform(), release_id, name, current_principal().subject)
    except ReleaseError as error:
        return _release_refused(error)
    response = Response(chunks, mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = f'attachment; filename="{release_id}-{name}"'
    response.headers["X-Content-SHA256"] = sha256
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/releases/<release_id>/tables/<table_id>", methods=["GET"])
@blp.arguments(schemas.DistributionQuery, location="query")
@blp.response(200, schemas.ReleaseTableOut)
@blp.doc(responses=schemas.CSV_TOO)
@roles_required(*access.RESEARCH)
def release_table(query, release_id, table_id):
    """A table of the release, from its own rows: the same every time."""
    try:
        table = service.release_distribution(current_platform(), release_id, table_id, by=query["by"],
                                             **_filters(query))
    except TableRequestError as error:
        return _refused(error)
    except ReleaseError as error:
        return _release_refused(error)
    if query["format"] == "csv":
        return _csv_response(distribution_csv_lines(table), f"{release_id}-tabell-{table_id}-{query['by']}.csv")
    return table


@blp.route("/downloads", methods=["GET"])
@blp.response(200, schemas.DownloadLogOut)
@roles_required(*access.RELEASE_ADMIN)
def downloads():
    """Who downloaded which release file when, with the hash chain's verdict."""
    return service.download_log(current_platform())
