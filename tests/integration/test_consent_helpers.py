"""Shared set-up for the consent tests (imported by the other test_consent_* modules), and its own sanity checks."""
from __future__ import annotations

import io
import uuid
from datetime import date

import pytest
from sqlalchemy import func, select

from services.consent import service, tables
from services.consent.app import create_app
from services.consent.domain import ConsentInvalid
from services.consent.service import DEFAULT_TEMPLATES, load_template_file
from tests.fixtures.tokens import user_auth_header

PDF = b"%PDF-1.7\n" + b"scan " * 400 + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
HASH = "ab" * 32


def consent_platform(platform_factory, db_url, **kwargs):
    platform = platform_factory("consent", tables.all_tables(), db_url, **kwargs)
    load_template_file(platform, DEFAULT_TEMPLATES)
    return platform


def deps(platform, **overrides):
    d = service.deps_from_platform(platform)
    for key, value in overrides.items():
        setattr(d, key, value)
    return d


def open_case(platform, office="kristiansand", mentor_relation="colleague", employer=True, counsellor="kari-veileder"):
    case_id = str(uuid.uuid4())
    payload = {"case_id": uuid.UUID(case_id), "counsellor_id": counsellor,
               "mentor_id": uuid.uuid4() if mentor_relation != "none" else None, "mentor_relation": mentor_relation,
               "employer_hash": HASH if employer else None}
    with platform.engine.begin() as conn:
        service.upsert_case(conn, deps(platform), office, payload, opened_on=date(2026, 9, 1))
    return case_id


def record(platform, case_id, role, decisions, name="Ada Kandidat", office="kristiansand", document=PDF,
           signed_on=date(2026, 11, 20), subject_ref=None, national_id=None):
    with platform.engine.begin() as conn:
        return service.record_consent(conn, deps(platform), office, "kari-veileder", {
            "case_id": case_id, "subject_ref": subject_ref, "signer_role": role, "signer_name": name,
            "signer_national_id": national_id, "signed_on": signed_on, "method": "scanned_paper",
            "decisions": decisions, "document": document})


def count(platform, table_name, **where):
    table = tables.OWN[table_name] if table_name in tables.OWN else platform.tables[table_name]
    query = select(func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with platform.engine.connect() as conn:
        return conn.execute(query).scalar()


def outbox_types(platform):
    t = platform.tables["outbox"]
    with platform.engine.connect() as conn:
        return [r[0] for r in conn.execute(select(t.c.event_type).order_by(t.c.id))]


def bearer(platform, user_id):
    return user_auth_header(platform, user_id)


def make_client(platform):
    app = create_app(platform=platform)
    app.config["TESTING"] = True
    return app.test_client()


def upload_form(case_id, decisions, document=PDF, filename="samtykke.pdf", **fields):
    data = {"case_id": case_id, "signer_role": "candidate", "signer_name": "Ada Kandidat", "signed_on": "2026-11-20",
            **{f"decision_{p}": d for p, d in decisions.items()}, **fields}
    if document is not None:
        data["document"] = (io.BytesIO(document), filename)
    return data


def multipart(fields: dict, document: bytes | None = None, filename: str = "samtykke.pdf") -> dict:
    """The test client's arguments for a multipart body built in memory (the client would spool a large upload to a
    temporary file it never closes)."""
    boundary = "consent-test-" + "7f3a" * 8
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
             for name, value in fields.items()]
    if document is not None:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="document"; filename="{filename}"\r\n'
                     f"Content-Type: application/pdf\r\n\r\n".encode() + document + b"\r\n")
    return {"data": b"".join(parts) + f"--{boundary}--\r\n".encode(),
            "content_type": f"multipart/form-data; boundary={boundary}"}


@pytest.fixture(name="consent")
def consent_fixture(platform_factory, db_url):
    return consent_platform(platform_factory, db_url)


def test_templates_load_is_repeatable_and_a_changed_text_is_refused(consent):
    assert count(consent, "templates") == 5
    assert load_template_file(consent, DEFAULT_TEMPLATES)["added"] == []  # second load changes nothing
    items = [{"purpose": "interviews", "version": 1, "subject_kind": "case", "signer_roles": ["candidate"],
              "title_nb": "x", "text_nb": "endret tekst", "valid_from": date(2021, 1, 1),
              "expires_on": date(2027, 6, 30)}]
    with pytest.raises(ConsentInvalid) as refused, consent.engine.begin() as conn:
        service.load_templates(conn, items, "admin", consent.clock.now())
    assert "ny versjon" in refused.value.errors["version"][0]
