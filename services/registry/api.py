"""The researchers' API (role researcher only): exports, change feed, codebook and the report's tables."""
from __future__ import annotations

import csv
import io

from flask import Response
from marshmallow import RAISE, Schema, fields, validate

from shared.web import ApiBlueprint, current_platform, error_response, roles_required

from . import codebook as codebook_module
from . import export, stats

blp = ApiBlueprint("registry_api", __name__, url_prefix="/api/v1",
                   description="Pseudonymised closures for researchers (role researcher)")

PERIOD = validate.Regexp(r"^\d{4}(-(Q[1-4]|\d{2}(-\d{2})?))?$", error="må være YYYY, YYYY-MM, YYYY-Qn eller YYYY-MM-DD")


class _Query(Schema):
    class Meta:
        unknown = RAISE


class ExportQuery(_Query):
    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**63 - 1), metadata={
        "description": "Cursor: only rows changed after this change number (0: everything)"})


class ChangesQuery(ExportQuery):
    limit = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=10000))


class FilterQuery(_Query):
    office = fields.String(load_default=None, validate=validate.Length(max=42))
    county = fields.String(load_default=None, validate=validate.Length(max=42))
    period_from = fields.String(load_default=None, validate=PERIOD)
    period_to = fields.String(load_default=None, validate=PERIOD)
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv")))


class DistributionQuery(FilterQuery):
    by = fields.String(load_default="office", validate=validate.OneOf(stats.BY))


# What the JSON answers hold, declared field by field: the OpenAPI document is the researchers' contract, and
# schemathesis checks every answer against it (scripts/security.sh).
class Labels(Schema):
    nb = fields.String(required=True)
    en = fields.String(required=True)


class Code(Labels):
    code = fields.String(required=True)


class Change(Schema):
    seq = fields.Integer(required=True)
    case_pseudonym = fields.String(required=True)
    change = fields.String(required=True, metadata={"description": "closed, corrected, project_end, "
                                                                    "withdrawn_erased or withdrawn_marked"})
    version = fields.Integer(required=True, allow_none=True, metadata={"description": "none for an erasure"})


class ChangesOut(Schema):
    after = fields.Integer(required=True)
    next_cursor = fields.Integer(required=True)
    changes = fields.List(fields.Nested(Change), required=True)
    more = fields.Boolean(required=True, metadata={"description": "the limit was reached: ask again from next_cursor"})


class CodebookColumn(Schema):
    name = fields.String(required=True)
    type = fields.String(required=True)
    description = fields.Nested(Labels, required=True)
    list_format = fields.Nested(Labels, metadata={"description": "for list columns: how the codes are joined"})
    vocabulary = fields.String()
    codes = fields.List(fields.Nested(Code))


class ChangeFeedCodes(Schema):
    description = fields.Nested(Labels, required=True)
    codes = fields.List(fields.Nested(Code), required=True)


class CodebookOut(Schema):
    columns = fields.List(fields.Nested(CodebookColumn), required=True)
    change_feed = fields.Nested(ChangeFeedCodes, required=True)
    date_coarsening = fields.String()
    small_count_threshold = fields.Integer()


Table1Row = Schema.from_dict({column: fields.String(required=True) for column in stats.TABLE1_COLUMNS},
                             name="Table1Row")


class Table1Out(Schema):
    table = fields.String(required=True)
    columns = fields.List(fields.String(), required=True)
    rows = fields.List(fields.Nested(Table1Row), required=True)


class UnitColumn(Schema):
    code = fields.String(required=True)
    label = fields.String(required=True)


class DistributionRow(Schema):
    code = fields.String(required=True)
    label = fields.Nested(Labels, required=True)
    cells = fields.List(fields.Integer(allow_none=True), required=True, metadata={"description": "null: suppressed"})
    total = fields.Integer(required=True, allow_none=True)


class DistributionTotals(Schema):
    cells = fields.List(fields.Integer(allow_none=True), required=True)
    total = fields.Integer(required=True, allow_none=True)


class DistributionOut(Schema):
    table = fields.String(required=True)
    variable = fields.String(required=True)
    vocabulary = fields.String(required=True)
    by = fields.String(required=True)
    threshold = fields.Integer(required=True)
    title = fields.Nested(Labels, required=True)
    suppressed_mark = fields.String(required=True, allow_none=True)
    columns = fields.List(fields.Nested(UnitColumn), required=True)
    rows = fields.List(fields.Nested(DistributionRow), required=True)
    totals = fields.Nested(DistributionTotals, required=True, allow_none=True)


CSV_TOO = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}  # format=csv answers the same as CSV


def _engine():
    return current_platform().engine


def _threshold():
    return current_platform().directory.project_settings()["small_count_threshold"]


def _stream(body, mimetype, filename, upto):
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Registry-Cursor"] = str(upto)
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/exports/closures.csv", methods=["GET"])
@blp.arguments(ExportQuery, location="query", unknown=RAISE)
@blp.doc(responses={200: {"description": "CSV, one row per case; header X-Registry-Cursor is the next cursor"}})
@roles_required("researcher")
def export_csv(query):
    engine = _engine()
    upto = export.newest_change(engine)
    return _stream(export.stream_csv(engine, query["after"], upto), "text/csv",
                   f"registry-closures-{query['after']}-{upto}.csv", upto)


@blp.route("/exports/closures.json", methods=["GET"])
@blp.arguments(ExportQuery, location="query", unknown=RAISE)
@blp.doc(responses={200: {"description": "JSON {after, next_cursor, columns, rows}"}})
@roles_required("researcher")
def export_json(query):
    engine = _engine()
    upto = export.newest_change(engine)
    return _stream(export.stream_json(engine, query["after"], upto), "application/json",
                   f"registry-closures-{query['after']}-{upto}.json", upto)


@blp.route("/changes", methods=["GET"])
@blp.arguments(ChangesQuery, location="query", unknown=RAISE)
@blp.response(200, ChangesOut)
@roles_required("researcher")
def change_feed(query):
    """New, corrected and withdrawn (erased or marked) cases since a cursor."""
    return export.changes_since(_engine(), query["after"], query["limit"])


@blp.route("/codebook", methods=["GET"])
@blp.response(200, CodebookOut)
@roles_required("researcher")
def codebook():
    platform = current_platform()
    return codebook_module.codebook(platform.directory, platform.directory.project_settings())


def _filters(query):
    return {k: query[k] for k in ("office", "county", "period_from", "period_to") if query.get(k)}


def _csv_response(lines, filename):
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(lines)
    response = Response(buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@blp.route("/tables/1", methods=["GET"])
@blp.arguments(FilterQuery, location="query", unknown=RAISE)
@blp.response(200, Table1Out)
@blp.doc(responses=CSV_TOO)
@roles_required("researcher")
def table_one(query):
    """Table 1: one row per case, codes as in the codebook. Row level: no counts."""
    rows = stats.table1(_engine(), **_filters(query))
    if query["format"] == "csv":
        return _csv_response([stats.TABLE1_COLUMNS] + [[r[c] for c in stats.TABLE1_COLUMNS] for r in rows],
                             "tabell-1.csv")
    return {"table": "1", "columns": list(stats.TABLE1_COLUMNS), "rows": rows}


@blp.route("/tables/<table_id>", methods=["GET"])
@blp.arguments(DistributionQuery, location="query", unknown=RAISE)
@blp.response(200, DistributionOut)
@blp.doc(responses=CSV_TOO)
@roles_required("researcher")
def distribution(query, table_id):
    """Tables 3–7 and the outcome summary: counts by office, county or period, small counts suppressed."""
    platform = current_platform()
    try:
        table = stats.distribution(platform.engine, platform.directory, table_id, by=query["by"],
                                   threshold=_threshold(), **_filters(query))
    except stats.TableRequestError as error:
        return error_response(404 if error.field == "table" else 422, str(error), {error.field: [str(error)]})
    if query["format"] == "csv":
        return _csv_response(stats.distribution_csv_lines(table), f"tabell-{table_id}-{query['by']}.csv")
    return table
