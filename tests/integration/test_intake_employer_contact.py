"""Intake's internal employer-contact endpoint (issue #6, survey invitation) on SQLite and PostgreSQL: only a service
token (role service) with scope employer-contact:read reads it, decrypted with the case's office key; every person
role (admin included, also with the scope smuggled in as a claim) gets 403, no token 401; the service token opens
no other endpoint of intake; unknown case 404, no contact 409; each answer leaves a disclosure row. And notify's
real HTTP client against a live intake."""
import uuid

import pytest
from sqlalchemy import select

from services.intake import tables
from services.intake.app import create_app
from services.intake.testing import enter_case
from services.notify.intake_client import ContactUnavailable, IntakeContacts
from shared.auth import mint_service_token, mint_token
from shared.config import load_settings
from tests.fixtures.db import service_env
from tests.security.callers import admin_token_claiming_scope

SCOPE = "employer-contact:read"
PATH = "/api/internal/cases/{}/employer-contact"
CONTACT = {"employer_name": "Survey Bedrift AS", "employer_contact_name": "Kontakt Undersøkelsesen",
           "employer_contact_email": "undersokelse.kontakt@bedrift.example.org",
           "employer_contact_phone": "+47 99 88 77 66"}
PEOPLE = [("kari-veileder", "counsellor", "kristiansand", None),
          ("lise-kontakt", "local_contact", "kristiansand", None),
          ("per-veileder", "counsellor", "bergen-vest", None), ("tone-fylke", "county_contact", None, "agder"),
          ("rune-forsker", "researcher", None, None), ("admin", "admin", None, None)]


def _case(platform, seed, office="kristiansand", counsellor="kari-veileder", **extra):
    values = {"opened_on": "2026-06-01", "entry_point": "course_start", "industry": "retail", "initiator": "counsellor",
              "reasons": ["extra_follow_up"], "counsellor_knew_company": "no", "attachment_before": "none",
              "mentor_relation": "colleague", **extra}
    return enter_case(platform, office=office, counsellor_id=counsellor, values=values, seed=seed)["case_id"]


def _service_token(platform, scope=SCOPE):
    return mint_service_token(platform.settings, "notify", scope)


@pytest.fixture
def intake(db_url, platform_factory):
    platform = platform_factory("intake", tables.all_tables(), db_url)
    return platform, create_app(platform=platform)


def _disclosures(platform):
    with platform.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(tables.disclosures)).mappings()]


def test_service_scope_reads_the_decrypted_contact_and_leaves_a_row(intake):
    platform, app = intake
    case_id = _case(platform, 9101, **CONTACT)
    other_office_case = _case(platform, 9102, office="bergen-vest", counsellor="per-veileder",
                              **{**CONTACT, "employer_contact_email": "bergen@bedrift.example.org"})
    client = app.test_client()
    response = client.get(PATH.format(case_id), headers={"Authorization": "Bearer " + _service_token(platform)})
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"organisation": "Survey Bedrift AS", "contact_name": "Kontakt Undersøkelsesen",
                                   "email": "undersokelse.kontakt@bedrift.example.org", "phone": "+47 99 88 77 66"}
    assert response.headers["Cache-Control"] == "no-store"
    # Any office's case: decrypted with that office's key.
    response = client.get(PATH.format(other_office_case),
                          headers={"Authorization": "Bearer " + _service_token(platform)})
    assert response.status_code == 200 and response.get_json()["email"] == "bergen@bedrift.example.org"
    rows = _disclosures(platform)
    assert [(r["case_id"], r["office"], r["actor"], r["what"], r["purpose"]) for r in rows] == [
        (case_id, "kristiansand", "service-notify", "employer_contact", "employer_survey"),
        (other_office_case, "bergen-vest", "service-notify", "employer_contact", "employer_survey")]
    assert all(r["at"] == platform.clock.now() for r in rows)
    # Stored encrypted: the clear e-mail address is nowhere in the case row.
    with platform.engine.connect() as conn:
        blob = conn.execute(select(tables.cases.c.employer).where(tables.cases.c.id == case_id)).scalar()
    assert b"undersokelse.kontakt" not in bytes(blob)


def test_every_person_role_is_refused_and_nothing_is_recorded(intake):
    platform, app = intake
    case_id = _case(platform, 9103, **CONTACT)
    client = app.test_client()
    for subject, role, office, county in PEOPLE:
        token = mint_token(platform.settings, subject=subject, role=role, name=subject, office=office, county=county)
        response = client.get(PATH.format(case_id), headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 403, (role, response.status_code)
        assert "undersokelse" not in response.get_data(as_text=True)
    admin_with_scope = admin_token_claiming_scope(platform.settings, SCOPE)
    for token in (admin_with_scope, _service_token(platform, scope="something:else")):
        assert client.get(PATH.format(case_id), headers={"Authorization": f"Bearer {token}"}).status_code == 403
    # The right service token in the sign-in cookie instead of the Authorization header: refused too.
    client.set_cookie("hybrid_session", _service_token(platform))
    assert client.get(PATH.format(case_id)).status_code == 403
    client.delete_cookie("hybrid_session")
    response = client.get(PATH.format(case_id))
    assert response.status_code == 401 and response.get_json()["status"]
    assert _disclosures(platform) == []


def test_the_service_token_opens_nothing_else(intake):
    platform, app = intake
    case_id = _case(platform, 9106, **CONTACT)
    client = app.test_client()
    headers = {"Authorization": "Bearer " + _service_token(platform)}
    for path in (f"/api/v1/cases/{case_id}", "/api/v1/cases", "/api/v1/overview", f"/saker/{case_id}", "/",
                 "/healthz"):
        response = client.get(path, headers=headers)
        assert response.status_code == 403, (path, response.status_code)
        assert "Survey Bedrift" not in response.get_data(as_text=True)
    response = client.post("/api/v1/admin/project-end", headers=headers, json={})
    assert response.status_code == 403
    assert _disclosures(platform) == []


def test_unknown_case_404_and_no_contact_409(intake):
    platform, app = intake
    client = app.test_client()
    headers = {"Authorization": "Bearer " + _service_token(platform)}
    assert client.get(PATH.format(uuid.uuid4()), headers=headers).status_code == 404
    assert client.get(PATH.format("not-a-uuid"), headers=headers).status_code == 404
    no_employer = _case(platform, 9104)  # the helper's default employer: organisation number only, no contact person
    response = client.get(PATH.format(no_employer), headers=headers)
    assert response.status_code == 409, response.get_json()
    assert "kontaktperson" in response.get_json()["message"]
    assert _disclosures(platform) == []


def test_notify_client_gets_the_contact_from_a_live_intake(intake, live_server, tmp_path):
    platform, app = intake
    case_id = _case(platform, 9105, **CONTACT)
    server = live_server(app)
    # Notify's own settings (same issuer and signing key as the platform's), as notify's sender builds the client.
    notify_settings = load_settings("notify", env=service_env("notify", f"sqlite:///{tmp_path}/n.db", tmp_path))
    client = IntakeContacts(server.url, notify_settings)
    contact = client.employer_contact(case_id)
    assert (contact.organisation, contact.contact_name, contact.email, contact.phone) == (
        "Survey Bedrift AS", "Kontakt Undersøkelsesen", "undersokelse.kontakt@bedrift.example.org", "+47 99 88 77 66")
    with pytest.raises(ContactUnavailable, match="404"):
        client.employer_contact(str(uuid.uuid4()))
    assert [r["actor"] for r in _disclosures(platform)] == ["service-notify"]
