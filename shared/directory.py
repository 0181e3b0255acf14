"""Offices, people and the project as data.

Counties, offices (each flagged whether the research covers it), users (role, job title, office or county)
and the project's settings are loaded from a JSON file by `flask directory load` into every service's own
database, so no code path names an office. In production the identity provider's claims keep users current.
"""
from __future__ import annotations

import json
from pathlib import Path

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import JSON, Boolean, Column, ForeignKey, MetaData, String, Table, select

from .config import REPO_ROOT

ROLES = ("counsellor", "local_contact", "county_contact", "researcher", "admin")
OFFICE_ROLES = ("counsellor", "local_contact")
DEFAULT_DIRECTORY_FILE = REPO_ROOT / "deploy" / "data" / "directory.json"

CODE = validate.Regexp(r"^[a-z0-9][a-z0-9-]{1,40}$", error="must be lower-case letters, digits and hyphens")


def define_tables(metadata: MetaData) -> dict[str, Table]:
    counties = Table(
        "counties", metadata,
        Column("code", String(42), primary_key=True),
        Column("name", String(200), nullable=False),
    )
    offices = Table(
        "offices", metadata,
        Column("code", String(42), primary_key=True),
        Column("name", String(200), nullable=False),
        Column("county_code", String(42), ForeignKey("counties.code"), nullable=False),
        Column("covered_by_research", Boolean, nullable=False),
    )
    users = Table(
        "users", metadata,
        Column("id", String(64), primary_key=True),
        Column("name", String(200), nullable=False),
        Column("email", String(254), nullable=False),
        Column("role", String(20), nullable=False),
        Column("job_title", String(100), nullable=False),
        Column("is_job_specialist", Boolean, nullable=False),
        Column("office_code", String(42), ForeignKey("offices.code"), nullable=True),
        Column("county_code", String(42), ForeignKey("counties.code"), nullable=True),
        # The identity provider's person identifier (the NAVident claim): who signs in is looked up by it.
        Column("nav_ident", String(32), nullable=True, unique=True),
    )
    project = Table(
        "project", metadata,
        Column("code", String(42), primary_key=True),
        Column("settings", JSON, nullable=False),
    )
    return {"counties": counties, "offices": offices, "users": users, "project": project}


class CountySchema(Schema):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))


class OfficeSchema(Schema):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    county_code = fields.String(required=True, validate=CODE)
    covered_by_research = fields.Boolean(required=True)


class UserSchema(Schema):
    id = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    email = fields.Email(required=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    job_title = fields.String(required=True, validate=validate.Length(min=1, max=100))
    is_job_specialist = fields.Boolean(load_default=False)
    office_code = fields.String(load_default=None, allow_none=True)
    county_code = fields.String(load_default=None, allow_none=True)
    nav_ident = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(r"^[A-Z][0-9]{6}$"))

    @validates_schema
    def _scope_matches_role(self, data, **_):
        if data["role"] in OFFICE_ROLES and not data.get("office_code"):
            raise ValidationError("an office role needs office_code", "office_code")
        if data["role"] == "county_contact" and not data.get("county_code"):
            raise ValidationError("a county contact needs county_code", "county_code")


class ProjectSettingsSchema(Schema):
    """The research project's settings, owned by an admin."""

    name = fields.String(required=True)
    admin_owner = fields.String(required=True)
    start_date = fields.Date(required=True)
    end_date = fields.Date(required=True)
    retention_date = fields.Date(required=True)
    interview_points = fields.List(fields.Date(), required=True, validate=validate.Length(equal=2))
    reminder_thresholds_days = fields.Dict(keys=fields.String(), values=fields.Integer(validate=validate.Range(min=1)),
                                           required=True)
    date_coarsening = fields.String(required=True, validate=validate.OneOf(("day", "month", "quarter", "year")))
    withdrawal_policy = fields.String(required=True, validate=validate.OneOf(("erase", "research_exemption")))
    pseudonym_secret_ref = fields.String(required=True, validate=validate.Regexp(r"^(env|file):.+$"))
    small_count_threshold = fields.Integer(required=True, validate=validate.Range(min=1))
    survey_address = fields.Email(required=True)
    # The language of the mails to the survey address (people outside NAV): nb, nn or en.
    survey_language = fields.String(load_default="nb", validate=validate.OneOf(("nb", "nn", "en")))
    consent_wait_days = fields.Integer(load_default=90, validate=validate.Range(min=1))
    # The registry's release files: no combination of quasi-identifiers fewer than this many times (issue #18).
    k_anonymity = fields.Integer(load_default=5, validate=validate.Range(min=2))


class DirectorySchema(Schema):
    counties = fields.List(fields.Nested(CountySchema), required=True)
    offices = fields.List(fields.Nested(OfficeSchema), required=True)
    users = fields.List(fields.Nested(UserSchema), required=True)
    project = fields.Dict(required=True)

    @validates_schema
    def _references_resolve(self, data, **_):
        counties = {c["code"] for c in data["counties"]}
        offices = {o["code"] for o in data["offices"]}
        for office in data["offices"]:
            if office["county_code"] not in counties:
                raise ValidationError(f"office {office['code']} names unknown county {office['county_code']}",
                                      "offices")
        for user in data["users"]:
            if user.get("office_code") and user["office_code"] not in offices:
                raise ValidationError(f"user {user['id']} names unknown office {user['office_code']}", "users")
            if user.get("county_code") and user["county_code"] not in counties:
                raise ValidationError(f"user {user['id']} names unknown county {user['county_code']}", "users")


def read_directory_file(path: Path | str = DEFAULT_DIRECTORY_FILE) -> dict:
    with open(path, encoding="utf-8") as handle:
        raw = json.load(handle)
    data = DirectorySchema().load(raw)
    project = dict(raw["project"])
    ProjectSettingsSchema().load(project["settings"])  # validate; stored as given (ISO dates)
    data["project"] = project
    return data


def load_directory(engine, tables: dict[str, Table], data: dict) -> dict[str, int]:
    """Upsert counties, offices, users and the project: adding an office is adding a line to the file. A user absent
    from the file is removed, so a person taken out of the directory loses access at the next request."""
    counts = {}
    with engine.begin() as conn:
        users = tables["users"]
        conn.execute(users.delete().where(users.c.id.not_in([user["id"] for user in data["users"]])))
        for name, key in (("counties", "code"), ("offices", "code"), ("users", "id")):
            table = tables[name]
            existing = {row[0] for row in conn.execute(select(table.c[key]))}
            for item in data[name]:
                if item[key] in existing:
                    conn.execute(table.update().where(table.c[key] == item[key]).values(**item))
                else:
                    conn.execute(table.insert().values(**item))
            counts[name] = len(data[name])
        project = data["project"]
        table = tables["project"]
        conn.execute(table.delete().where(table.c.code == project["code"]))
        conn.execute(table.insert().values(code=project["code"], settings=project["settings"]))
    return counts


class Directory:
    """Read access to the directory in a service's database, on the caller's connection (so a use case reads it in
    its own transaction, and a page that reads it several times opens no extra connection)."""

    def __init__(self, tables):
        self.tables = tables

    def office(self, conn, code):
        t = self.tables["offices"]
        row = conn.execute(select(t).where(t.c.code == code)).mappings().first()
        return dict(row) if row else None

    def offices(self, conn, county_code=None):
        t = self.tables["offices"]
        query = select(t).order_by(t.c.name)
        if county_code:
            query = query.where(t.c.county_code == county_code)
        return [dict(r) for r in conn.execute(query).mappings()]

    def user(self, conn, user_id):
        t = self.tables["users"]
        row = conn.execute(select(t).where(t.c.id == user_id)).mappings().first()
        return dict(row) if row else None

    def user_by_nav_ident(self, conn, nav_ident):
        t = self.tables["users"]
        row = conn.execute(select(t).where(t.c.nav_ident == nav_ident)).mappings().first()
        return dict(row) if row else None

    def users(self, conn, office_code=None, role=None):
        t = self.tables["users"]
        query = select(t).order_by(t.c.name)
        if office_code:
            query = query.where(t.c.office_code == office_code)
        if role:
            query = query.where(t.c.role == role)
        return [dict(r) for r in conn.execute(query).mappings()]

    def project_settings(self, conn):
        """The project's settings, validated (the one way every service reads them), or None before `directory load`."""
        t = self.tables["project"]
        row = conn.execute(select(t)).mappings().first()
        if row is None:
            return None
        settings = ProjectSettingsSchema().load(row["settings"])
        settings["code"] = row["code"]
        return settings
