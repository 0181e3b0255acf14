"""Every HTTP schema of the registry: the API's queries and answers, and the table page's form.

The answers are declared field by field: the OpenAPI document is the researchers' contract, and schemathesis checks
every answer against it (scripts/security.sh).
"""
from __future__ import annotations

from marshmallow import fields, validate

from shared.web import StrictSchema

from .domain.periods import PERIOD_PATTERN
from .domain.reports import BY, TABLE1_COLUMNS

PERIOD = validate.Regexp(PERIOD_PATTERN, error="må være YYYY, YYYY-Qn, YYYY-MM eller YYYY-MM-DD")


# ---------------------------------------------------------------- queries
class ExportQuery(StrictSchema):
    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**63 - 1), metadata={
        "description": "Cursor: only rows changed after this change number (0: everything)"})


class ChangesQuery(ExportQuery):
    limit = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=10000))


class FilterQuery(StrictSchema):
    office = fields.String(load_default=None, validate=validate.Length(max=42))
    county = fields.String(load_default=None, validate=validate.Length(max=42))
    period_from = fields.String(load_default=None, validate=PERIOD)
    period_to = fields.String(load_default=None, validate=PERIOD)
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv")))


class DistributionQuery(FilterQuery):
    by = fields.String(load_default="office", validate=validate.OneOf(BY))


class TablePageForm(FilterQuery):
    """The table page's form: the API's filters and the breakdown."""

    by = fields.String(load_default="office", validate=validate.OneOf(BY, error="Velg kontor, fylke eller år."))


class CutIn(StrictSchema):
    labels = fields.String(load_default="nb", validate=validate.OneOf(("nb", "en")), metadata={
        "description": "language of the SPSS and Stata labels"})


# ---------------------------------------------------------------- answers
class Labels(StrictSchema):
    nb = fields.String(required=True)
    nn = fields.String(metadata={"description": "nynorsk"})
    en = fields.String(required=True)


class Code(Labels):
    code = fields.String(required=True)


class Change(StrictSchema):
    seq = fields.Integer(required=True)
    case_pseudonym = fields.String(required=True)
    change = fields.String(required=True, metadata={"description": "closed, corrected, project_end, "
                                                                    "withdrawn_erased or withdrawn_marked"})
    version = fields.Integer(required=True, allow_none=True, metadata={"description": "none for an erasure"})


class ChangesOut(StrictSchema):
    after = fields.Integer(required=True)
    next_cursor = fields.Integer(required=True)
    changes = fields.List(fields.Nested(Change), required=True)
    more = fields.Boolean(required=True, metadata={"description": "the limit was reached: ask again from next_cursor"})


class CodebookColumn(StrictSchema):
    name = fields.String(required=True)
    type = fields.String(required=True)
    description = fields.Nested(Labels, required=True)
    list_format = fields.Nested(Labels, metadata={"description": "for list columns: how the codes are joined"})
    vocabulary = fields.String()
    codes = fields.List(fields.Nested(Code))


class ChangeFeedCodes(StrictSchema):
    description = fields.Nested(Labels, required=True)
    codes = fields.List(fields.Nested(Code), required=True)


class CodebookOut(StrictSchema):
    columns = fields.List(fields.Nested(CodebookColumn), required=True)
    change_feed = fields.Nested(ChangeFeedCodes, required=True)
    date_coarsening = fields.String()
    small_count_threshold = fields.Integer()


Table1Row = StrictSchema.from_dict({column: fields.String(required=True) for column in TABLE1_COLUMNS},
                                   name="Table1Row")


class Table1Out(StrictSchema):
    table = fields.String(required=True)
    columns = fields.List(fields.String(), required=True)
    rows = fields.List(fields.Nested(Table1Row), required=True)


class UnitColumn(StrictSchema):
    code = fields.String(required=True)
    label = fields.String(required=True)
    party = fields.String(metadata={"description": "table 5: the party of the column (candidate | mentor)"})


class Party(StrictSchema):
    code = fields.String(required=True)
    label = fields.Nested(Labels, required=True)


class DistributionRow(StrictSchema):
    code = fields.String(required=True)
    label = fields.Nested(Labels, required=True)
    group = fields.String(metadata={"description": "table 5: frequency | intensity | forms"})
    group_label = fields.Nested(Labels)
    vocabulary = fields.String(metadata={"description": "table 5: the row's vocabulary"})
    party_totals = fields.List(fields.Integer(allow_none=True), metadata={
        "description": "table 5: per party (as `parties`) the count over the whole filter set (the report's table)"})
    party_percents = fields.List(fields.Float(allow_none=True), metadata={
        "description": "table 5: per party the percentage of n; contact forms are multi-select (a block adds up to "
                       "more than 100)"})
    cells = fields.List(fields.Integer(allow_none=True), required=True, metadata={"description": "null: suppressed"})
    total = fields.Integer(required=True, allow_none=True)
    percents = fields.List(fields.Float(allow_none=True), required=True, metadata={
        "description": "each cell as a percentage of its column's n (the totals row); null where either is hidden"})
    total_percent = fields.Float(required=True, allow_none=True)


class DistributionTotals(StrictSchema):
    cells = fields.List(fields.Integer(allow_none=True), required=True, metadata={"description": "n of each column"})
    total = fields.Integer(required=True, allow_none=True)
    party_totals = fields.List(fields.Integer(allow_none=True), metadata={"description": "table 5: n per party"})


class DistributionOut(StrictSchema):
    table = fields.String(required=True)
    variable = fields.String(required=True)
    vocabulary = fields.String(required=True)
    by = fields.String(required=True)
    threshold = fields.Integer(required=True)
    title = fields.Nested(Labels, required=True)
    suppressed_mark = fields.String(required=True, allow_none=True)
    columns = fields.List(fields.Nested(UnitColumn), required=True, metadata={
        "description": "the units of `by`; table 5: a column per unit and party (candidate, mentor), and per row "
                       "`party_totals` for the whole filter set, `total` null"})
    rows = fields.List(fields.Nested(DistributionRow), required=True)
    totals = fields.Nested(DistributionTotals, required=True, allow_none=True)
    parties = fields.List(fields.Nested(Party), metadata={"description": "table 5: the parties of its columns"})


CSV_TOO = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}  # format=csv answers the same as CSV


class ManifestEntry(StrictSchema):
    file = fields.String(required=True)
    rows = fields.Integer(required=True, allow_none=True)
    bytes = fields.Integer(required=True)
    sha256 = fields.String(required=True)


class Erratum(StrictSchema):
    case_pseudonym = fields.String(required=True)
    change = fields.String(required=True)
    seq = fields.Integer(required=True, allow_none=True)


class KAnonymity(StrictSchema):
    """What the k-anonymity of the row-level files took (services.registry.domain.anonymity)."""

    k = fields.Integer(required=True)
    quasi_identifiers = fields.List(fields.String(), required=True)
    stored_periods = fields.String(required=True, metadata={"description": "the project's date coarsening"})
    periods = fields.String(required=True, metadata={"description": "the periods' granularity in the files"})
    recoded = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                          metadata={"description": "values written coarser, per variable"})
    suppressed = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                             metadata={"description": "values blanked, per quasi-identifier"})
    measure_periods_suppressed = fields.Integer(required=True)
    smallest_group = fields.Integer(required=True)
    reached = fields.Boolean(required=True)


class ReleaseNotes(StrictSchema):
    release = fields.String(required=True)
    previous_release = fields.String(required=True, allow_none=True)
    cut_at = fields.String(required=True)
    cursor = fields.Integer(required=True)
    cases = fields.Integer(required=True)
    codebook_version = fields.String(required=True)
    errata = fields.List(fields.Nested(Erratum), required=True)
    recut_of = fields.String()
    k_anonymity = fields.Nested(KAnonymity, allow_none=True)


class ReleaseOut(StrictSchema):
    id = fields.String(required=True)
    number = fields.Integer(required=True)
    version = fields.Integer(required=True)
    cut_at = fields.DateTime(required=True)
    cursor = fields.Integer(required=True)
    codebook_version = fields.String(required=True)
    labels = fields.String(required=True)
    cut_by = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "published, withdrawn (an erasure deleted "
                                                                    "its files) or superseded (re-cut)"})
    notes = fields.Nested(ReleaseNotes, required=True)
    manifest = fields.List(fields.Nested(ManifestEntry), required=True)


class ReleasesOut(StrictSchema):
    releases = fields.List(fields.Nested(ReleaseOut), required=True)


class ReleaseTableOut(DistributionOut):
    release = fields.String(required=True)


class Download(StrictSchema):
    seq = fields.Integer(required=True)
    at = fields.DateTime(required=True)
    researcher = fields.String(required=True)
    release_id = fields.String(required=True)
    file = fields.String(required=True)
    sha256 = fields.String(required=True)
    prev_hash = fields.String(required=True)
    hash = fields.String(required=True)


class DownloadLogOut(StrictSchema):
    entries = fields.List(fields.Nested(Download), required=True)
    problems = fields.List(fields.String(), required=True, metadata={"description": "empty: the chain is intact"})
