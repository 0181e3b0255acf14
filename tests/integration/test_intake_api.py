"""Intake's API against real SQLite and PostgreSQL: opening, log, measures, parties, closure, correction, project end,
office separation and what reaches the outbox."""
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from services.intake import privacy, tables
from services.intake.app import create_app
from services.intake.testing import fake_national_id, fake_orgnr
from tests.fixtures.tokens import user_auth_header

FNR = fake_national_id(42)
NAME = "Fiktiva Prøvestadsen"
MENTOR = "Mentor Oppdiktasen"
NOTE = "Notat-som-aldri-reiser"
EMAIL = "kontakt.hemmelig@bedrift.example.org"
ORGNR = fake_orgnr(42)

@pytest.fixture
def svc(db_url, platform_factory):
    platform = platform_factory("intake", tables.all_tables(), db_url)
    app = create_app(platform=platform)
    client = app.test_client()

    class Svc:
        pass
    s = Svc()
    s.platform, s.app, s.client = platform, app, client

    def call(method, path, user="kari-veileder", json_body=None, headers=None):
        return client.open("/api/v1" + path, method=method, json=json_body,
                           headers={**user_auth_header(platform, user), **(headers or {})})
    s.call = call
    return s


def opening(**overrides):
    body = {"national_id": FNR, "candidate_name": NAME, "in_target_group": "yes", "in_follow_up_measure": "no",
            "entry_point": "course_start", "industry": "retail", "initiator": "counsellor",
            "attachment_before": "none", "counsellor_knew_company": "no",
            "reasons": ["extra_follow_up", "norwegian_work_culture"], "opened_on": "2026-06-01",
            "mentor_name": MENTOR, "mentor_relation": "colleague", "employer_orgnr": ORGNR,
            "employer_name": "Demo Butikk AS", "employer_contact_name": "Kontakt Personsen",
            "employer_contact_email": EMAIL, "employer_contact_phone": "+47 99 88 77 66"}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def closure_body(**overrides):
    body = {"closed_on": "2026-09-15", "closure_reason": "measure_completed",
            "attachment_after": "permanent_without_wage_subsidy", "attached_same_company": "yes",
            "feedback_mentor": "satisfied", "feedback_counsellor": "very_satisfied", "industry": "retail",
            "initiator": "counsellor", "reasons": ["extra_follow_up"], "counsellor_knew_company": "no",
            "attachment_before": "none", "frequency_candidate": "monthly", "frequency_mentor": "weekly",
            "frequency_employer": "never", "intensity_candidate": "even", "intensity_mentor": "even",
            "forms_candidate": ["phone"], "forms_mentor": ["phone", "at_company"],
            "duration": "3_6_months",
            "success_criteria": {c: "achieved" for c in ("in_work_or_education", "natural_support", "masters_tasks",
                                                          "employer_satisfied", "plan_followed", "experience_shared")}}
    body.update(overrides)
    return body


def submit(svc, case_id, body, user="kari-veileder"):
    """POST the closure on the revision its form shows (If-Match with the closure form's ETag), as a client does."""
    etag = svc.call("GET", f"/cases/{case_id}/closure", user=user).headers["ETag"]
    return svc.call("POST", f"/cases/{case_id}/closure", user=user, json_body=body, headers={"If-Match": etag})


def outbox(platform):
    with platform.engine.connect() as conn:
        return [json.loads(r[0]) for r in conn.execute(select(tables.platform["outbox"].c.body)
                                                       .order_by(tables.platform["outbox"].c.id))]


def counts(platform):
    with platform.engine.connect() as conn:
        return {name: conn.execute(select(func.count()).select_from(t)).scalar()
                for name, t in tables.all_tables().items()
                if name.startswith(("cases", "contacts", "measures", "closures", "drafts", "history", "outbox"))}


def open_case(svc, **overrides):
    response = svc.call("POST", "/cases", json_body=opening(**overrides))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def test_open_case_stores_personal_data_encrypted_and_emits_opened(svc):
    case_id = open_case(svc)
    events = outbox(svc.platform)
    assert [e["type"] for e in events] == ["case.opened"]
    payload = events[0]["payload"]
    assert payload["candidate_hash"] == svc.platform.keyring.keyed_hash("kristiansand", FNR)
    assert payload["employer_hash"] == svc.platform.keyring.keyed_hash("kristiansand", ORGNR)
    assert payload["mentor_relation"] == "colleague" and payload["mentor_id"]
    with svc.platform.engine.connect() as conn:
        row = conn.execute(select(tables.cases).where(tables.cases.c.id == case_id)).mappings().one()
    stored = b"".join(v for v in row.values() if isinstance(v, bytes))
    for secret in (FNR, NAME, MENTOR, ORGNR, EMAIL):
        assert secret.encode() not in stored and secret not in json.dumps({k: str(v) for k, v in row.items()})
    view = svc.call("GET", f"/cases/{case_id}").get_json()
    assert view["candidate_name"] == NAME and view["national_id"] == FNR and view["employer"]["contact_email"] == EMAIL
    listed = svc.call("GET", "/cases", user="ola-veileder").get_json()
    assert [c["candidate_name"] for c in listed] == [NAME]  # every counsellor of the office sees the office's cases
    found = svc.call("POST", "/cases/search", json_body={"national_id": FNR}).get_json()
    assert found["case_ids"] == [case_id]


@pytest.mark.parametrize("bad, field, words", [
    ({"national_id": FNR[:-1] + str((int(FNR[-1]) + 1) % 10)}, "national_id", "kontrollsifrene"),
    ({"national_id": "123"}, "national_id", "11 siffer"),
    ({"industry": "fishing"}, "industry", "Ukjent kode «fishing»"),
    ({"employer_orgnr": "123456789"}, "employer_orgnr", "kontrollsifferet"),
    ({"opened_on": "2030-01-01"}, "opened_on", "kan ikke være etter"),
    ({"reasons": None}, "reasons", "Velg minst ett"),
])
def test_bad_opening_names_the_field_and_changes_nothing(svc, bad, field, words):
    before = counts(svc.platform)
    response = svc.call("POST", "/cases", json_body=opening(**bad))
    assert response.status_code == 422
    body = response.get_json()
    assert words in " ".join(body["errors"][field])
    assert counts(svc.platform) == before


def test_unknown_field_is_rejected(svc):
    response = svc.call("POST", "/cases", json_body={**opening(), "shoe_size": 44})
    assert response.status_code == 422 and "shoe_size" in response.get_json()["errors"]


def test_eligibility_refusal_names_each_failed_rule(svc):
    response = svc.call("POST", "/cases", user="jonas-jobbspesialist",
                        json_body=opening(in_target_group="no", in_follow_up_measure="yes"))
    body = response.get_json()
    assert response.status_code == 422 and body["code"] == "not_eligible"
    assert body["errors"]["eligibility"] == ["counsellor_is_job_specialist", "candidate_not_in_target_group",
                                             "candidate_in_follow_up_measure"]
    assert "jobbspesialist" in body["message"] and "oppfølgingstiltak" in body["message"]
    assert counts(svc.platform)["cases"] == 0 and outbox(svc.platform) == []


def test_second_active_case_for_same_candidate_is_refused(svc):
    open_case(svc)
    response = svc.call("POST", "/cases", user="ola-veileder", json_body=opening())
    assert response.status_code == 422 and "allerede en åpen sak" in response.get_json()["errors"]["national_id"][0]
    # Another office keeps its own cases: the same person may have a case in Bergen vest.
    assert svc.call("POST", "/cases", user="per-veileder", json_body=opening()).status_code == 201


def test_another_office_gets_404_and_changes_nothing(svc):
    case_id = open_case(svc)
    contact = svc.call("POST", f"/cases/{case_id}/contacts", json_body={
        "contact_date": "2026-06-02", "party": "mentor", "form": "phone", "minutes": 10}).get_json()
    before = counts(svc.platform)
    attempts = [("GET", f"/cases/{case_id}", None), ("GET", f"/cases/{case_id}/history", None),
                ("GET", f"/cases/{case_id}/closure", None),
                ("POST", f"/cases/{case_id}/contacts", {"contact_date": "2026-06-03", "party": "mentor",
                                                        "form": "phone", "minutes": 5}),
                ("PUT", f"/cases/{case_id}/contacts/{contact['id']}", {"contact_date": "2026-06-03", "party": "mentor",
                                                                       "form": "phone", "minutes": 5}),
                ("DELETE", f"/cases/{case_id}/contacts/{contact['id']}", None),
                ("POST", f"/cases/{case_id}/measures", {"measure": "mentor_subsidy", "from_date": "2026-06-01"}),
                ("PUT", f"/cases/{case_id}/parties", {"mentor_relation": "none"}),
                ("POST", f"/cases/{case_id}/handover", {"counsellor_id": "per-veileder"}),
                ("PUT", f"/cases/{case_id}/plan", {"step_1": "2026-06-01"}),
                ("PUT", f"/cases/{case_id}/closure/draft", {"closure_reason": "candidate_moved"}),
                ("POST", f"/cases/{case_id}/closure", closure_body())]
    for method, path, body in attempts:
        response = svc.call(method, path, user="per-veileder", json_body=body, headers={"If-Match": '"v1"'})
        assert response.status_code == 404, (method, path, response.status_code)
        assert NAME not in response.get_data(as_text=True)
    assert svc.call("GET", "/cases", user="per-veileder").get_json() == []
    for user in ("tone-fylke", "rune-forsker", "admin"):
        assert svc.call("GET", f"/cases/{case_id}", user=user).status_code == 403
        assert svc.call("GET", "/cases", user=user).status_code == 403
    assert svc.call("GET", "/cases/not-a-uuid").status_code == 404
    assert counts(svc.platform) == before


def test_closure_with_several_errors_reports_all_and_stores_nothing(svc):
    case_id = open_case(svc)
    svc.call("PUT", f"/cases/{case_id}/closure/draft", json_body={"closure_reason": "candidate_moved"})
    before = counts(svc.platform)
    criteria = closure_body()["success_criteria"]
    del criteria["plan_followed"]
    response = submit(svc, case_id, closure_body(
        closed_on="2026-05-01", attachment_after=None, industry="fishing", success_criteria=criteria,
        closure_reason="project_end"))
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert "før saken ble opprettet" in errors["closed_on"][0]
    assert errors["attachment_after"] and "«fishing»" in errors["industry"][0] and "Bransje" in errors["industry"][0]
    assert errors["success_criteria.plan_followed"] and errors["closure_reason"]
    assert counts(svc.platform) == before
    assert svc.call("GET", f"/cases/{case_id}").get_json()["state"] == "open"


def test_case_without_mentor_is_closed_as_mentor_measure_not_started(svc):
    case_id = open_case(svc, mentor_name=None, mentor_relation="none")
    response = submit(svc, case_id, closure_body(frequency_mentor="never"))
    errors = response.get_json()["errors"]
    assert response.status_code == 422 and "ingen mentor" in errors["closure_reason"][0]
    assert "Ikke gitt" in errors["feedback_mentor"][0]
    ok = submit(svc, case_id, closure_body(
        closure_reason="mentor_measure_not_started", feedback_mentor="not_given", frequency_mentor="never",
        closed_on="2026-06-20", duration="up_to_3_months", attachment_after="no_attachment",
        attached_same_company="no"))
    assert ok.status_code == 201, ok.get_json()
    assert ok.get_json()["mentor_measure_used"] is False


def test_log_measures_parties_handover_close_correct_and_history(svc):
    case_id = open_case(svc)
    first = svc.call("POST", f"/cases/{case_id}/contacts", json_body={
        "contact_date": "2026-06-05", "party": "mentor", "form": "at_company", "minutes": 30, "note": NOTE}).get_json()
    edited = svc.call("PUT", f"/cases/{case_id}/contacts/{first['id']}", json_body={
        "contact_date": "2026-06-06", "party": "mentor", "form": "phone", "minutes": 20, "note": "endret"}).get_json()
    assert edited["revision"] == 2
    extra = svc.call("POST", f"/cases/{case_id}/contacts", json_body={
        "contact_date": "2026-07-01", "party": "candidate", "form": "phone", "minutes": 15}).get_json()
    assert svc.call("DELETE", f"/cases/{case_id}/contacts/{extra['id']}").status_code == 200
    bad = svc.call("POST", f"/cases/{case_id}/contacts", json_body={
        "contact_date": "2026-05-01", "party": "boss", "form": "phone", "minutes": -3})
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"contact_date", "party", "minutes"}
    measure = svc.call("POST", f"/cases/{case_id}/measures", json_body={
        "measure": "mentor_subsidy", "from_date": "2026-06-01", "to_date": "2026-09-01"})
    assert measure.status_code == 201
    assert svc.call("POST", f"/cases/{case_id}/measures", json_body={
        "measure": "work_training", "from_date": "2026-06-01", "to_date": "2026-05-01"}).status_code == 422
    assert svc.call("PUT", f"/cases/{case_id}/parties", json_body={
        "mentor_name": "Ny Mentorsen", "mentor_relation": "external", "employer_orgnr": ORGNR,
        "employer_contact_email": EMAIL}).status_code == 200
    for colleague, status in (("jonas-jobbspesialist", 422), ("per-veileder", 422), ("ola-veileder", 200)):
        assert svc.call("POST", f"/cases/{case_id}/handover",
                        json_body={"counsellor_id": colleague}).status_code == status
    assert svc.call("PUT", f"/cases/{case_id}/plan", json_body={
        "step_1": "2026-06-01", "start_meeting_on": "2026-06-04", "plan_tasks": "Varemottak"}).status_code == 200

    form = svc.call("GET", f"/cases/{case_id}/closure").get_json()
    assert form["derived"]["contacts_logged"] == 1 and form["values"]["forms_mentor"] == ["phone"]
    assert form["values"]["forms_candidate"] == [] and form["values"]["intensity_candidate"] == ""
    closed = submit(svc, case_id, user="ola-veileder", body=closure_body())
    assert closed.status_code == 201, closed.get_json()
    record = closed.get_json()
    assert record["version"] == 1 and record["counsellor_id"] == "ola-veileder"
    assert record["mentor_relation"] == "external"
    assert record["contact"]["minutes_total"] == 20
    # Frozen after closure: the log is no longer editable.
    late = svc.call("POST", f"/cases/{case_id}/contacts", json_body={
        "contact_date": "2026-09-20", "party": "mentor", "form": "phone", "minutes": 5})
    assert late.status_code == 409
    corrected = submit(svc, case_id, closure_body(attachment_after="temp_agency"))
    assert corrected.status_code == 201
    assert corrected.get_json()["version"] == 2 and corrected.get_json()["supersedes_version"] == 1

    types = [e["type"] for e in outbox(svc.platform)]
    assert types.count("case.closed") == 1 and types.count("case.corrected") == 1
    assert types.count("case.contact_logged") == 4 and types.count("case.parties_changed") == 2
    corrected_event = [e for e in outbox(svc.platform) if e["type"] == "case.corrected"][0]["payload"]
    assert corrected_event["attachment_after"] == "temp_agency" and corrected_event["supersedes_version"] == 1
    contact_events = [e["payload"] for e in outbox(svc.platform) if e["type"] == "case.contact_logged"]
    assert [(p["revision"], p["deleted"]) for p in contact_events] == [(1, False), (2, False), (1, False), (2, True)]

    history = svc.call("GET", f"/cases/{case_id}/history").get_json()
    actions = [h["action"] for h in history]
    assert actions == ["opened", "contact_logged", "contact_edited", "contact_logged", "contact_deleted",
                       "measure_added", "parties_changed", "handed_over", "plan_updated", "closed", "corrected"]
    edit = history[2]
    assert edit["snapshot"]["before"]["note"] == NOTE and edit["snapshot"]["after"]["note"] == "endret"
    assert edit["summary"]["changed"] == ["contact_date", "form", "minutes"]
    assert [h["seq"] for h in history] == list(range(1, 12))


def test_outbox_carries_no_national_id_name_free_text_or_orgnr(svc):
    case_id = open_case(svc)
    svc.call("POST", f"/cases/{case_id}/contacts", json_body={
        "contact_date": "2026-06-05", "party": "mentor", "form": "phone", "minutes": 30, "note": NOTE})
    svc.call("PUT", f"/cases/{case_id}/plan", json_body={"plan_tasks": "Planen-er-hemmelig"})
    submit(svc, case_id, closure_body(forms_mentor=["phone"]))
    with svc.platform.engine.connect() as conn:
        blob = b"\n".join(r[0] for r in conn.execute(select(tables.platform["outbox"].c.body)))
    assert blob.count(b'"type":"case.') == 3
    for secret in (FNR, NAME, "Fiktiva", MENTOR, NOTE, ORGNR, EMAIL, "Kontakt Personsen", "Demo Butikk",
                   "Planen-er-hemmelig", "99 88 77 66"):
        assert secret.encode() not in blob, secret


def test_project_end_then_real_closure_is_a_correction(svc):
    ongoing = open_case(svc)
    svc.call("PUT", f"/cases/{ongoing}/closure/draft", json_body={
        "attachment_after": "work_training", "closed_on": "2026-10-01",
        "success_criteria": {"masters_tasks": "partly"}})
    bergen = svc.call("POST", "/cases", user="per-veileder", json_body=opening(national_id=fake_national_id(44)))
    assert svc.call("POST", "/admin/project-end", user="kari-veileder").status_code == 403
    result = svc.call("POST", "/admin/project-end", user="admin")
    assert result.status_code == 200 and result.get_json() == {"status_forms": 2}
    status = [e for e in outbox(svc.platform) if e["type"] == "case.project_end_status"]
    mine = [e["payload"] for e in status if e["payload"]["case_id"] == ongoing][0]
    assert mine["closure_reason"] == "project_end" and mine["contact"]["duration"] == "not_closed"
    assert mine["attachment_after"] == "work_training"  # the draft's answer wins
    assert mine["success_criteria"]["assessments"]["masters_tasks"] == "partly"
    assert mine["success_criteria"]["assessments"]["plan_followed"] == "not_relevant"
    assert svc.call("GET", f"/cases/{ongoing}").get_json()["state"] == "project_end"
    # Still ongoing: the log stays editable; a second run sends nothing twice.
    assert svc.call("POST", f"/cases/{ongoing}/contacts", json_body={
        "contact_date": "2026-10-01", "party": "mentor", "form": "phone", "minutes": 5}).status_code == 201
    assert svc.call("POST", "/admin/project-end", user="admin").get_json() == {"status_forms": 0}
    final = submit(svc, ongoing, closure_body(closed_on="2026-11-20",
                                                                                 duration="3_6_months"))
    assert final.status_code == 201, final.get_json()
    types = [e["type"] for e in outbox(svc.platform)]
    assert "case.closed" not in types
    corrected = [e["payload"] for e in outbox(svc.platform) if e["type"] == "case.corrected"]
    assert len(corrected) == 1 and corrected[0]["version"] == 2 and corrected[0]["supersedes_version"] == 1
    assert bergen.status_code == 201


def test_draft_is_saved_and_resumed(svc):
    case_id = open_case(svc)
    saved = svc.call("PUT", f"/cases/{case_id}/closure/draft", json_body={
        "closure_reason": "candidate_moved", "success_criteria": {"natural_support": "partly"}})
    assert saved.status_code == 200
    values = svc.call("GET", f"/cases/{case_id}/closure", user="ola-veileder").get_json()["values"]
    assert values["closure_reason"] == "candidate_moved"
    assert values["success_criteria"] == {"natural_support": "partly"}
    assert values["industry"] == "retail"  # the rest prefilled from the case
    assert [e["type"] for e in outbox(svc.platform)] == ["case.opened"]  # a draft sends nothing


def test_case_list_is_paged_newest_first_with_the_total_in_a_header(svc):
    ids = [open_case(svc, national_id=fake_national_id(60 + i), opened_on=f"2026-06-0{i + 1}") for i in range(3)]
    newest_first = ids[::-1]
    pages = [svc.call("GET", f"/cases?page={n}&page_size=2") for n in (1, 2, 3)]
    assert [[c["id"] for c in p.get_json()] for p in pages] == [newest_first[:2], newest_first[2:], []]
    assert {p.headers["X-Total-Count"] for p in pages} == {"3"}
    closed = svc.call("GET", "/cases?state=closed&page_size=2")
    assert closed.get_json() == [] and closed.headers["X-Total-Count"] == "0"
    assert [c["id"] for c in svc.call("GET", "/cases").get_json()] == newest_first  # default page: 50
    for bad in ("page=0", "page_size=0", "page_size=501", "page=x"):
        response = svc.call("GET", f"/cases?{bad}")
        assert response.status_code == 422 and bad.split("=")[0] in json.dumps(response.get_json()), bad


def test_local_contact_overview_counts_open_closed_and_overdue(svc):
    overdue = open_case(svc)
    svc.call("POST", f"/cases/{overdue}/measures", json_body={"measure": "mentor_subsidy", "from_date": "2026-06-01",
                                                              "to_date": "2026-08-01"})
    closed = open_case(svc, national_id=fake_national_id(45))
    assert submit(svc, closed, closure_body()).status_code == 201
    running = open_case(svc, national_id=fake_national_id(46))  # a measure without an end date: still running
    svc.call("POST", f"/cases/{running}/measures", json_body={"measure": "mentor_subsidy", "from_date": "2026-06-01",
                                                              "to_date": None})
    assert svc.call("GET", "/overview").status_code == 403  # a counsellor has the case list, not the overview
    data = svc.call("GET", "/overview", user="lise-kontakt").get_json()
    assert data["open"] == 2 and data["closed"] == 1 and data["closures_submitted"] == 1
    assert data["overdue_case_ids"] == [overdue]
    assert data["per_counsellor"]["kari-veileder"] == {"open": 2, "project_end": 0, "closed": 1}


def test_openapi_documents_every_api_route(svc):
    spec = svc.client.get("/api/openapi.json").get_json()
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops
                  if method != "parameters"}
    routes = {(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method) for rule in svc.app.url_map.iter_rules()
              if rule.rule.startswith(("/api/v1", "/api/internal")) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes == documented
    assert "ClosureIn" in spec["components"]["schemas"]


def closure_versions(platform, case_id):
    with platform.engine.connect() as conn:
        return [row[0] for row in conn.execute(select(tables.closures.c.version).where(
            tables.closures.c.case_id == case_id).order_by(tables.closures.c.version))]


def test_closure_and_correction_act_on_the_version_the_counsellor_saw(svc):
    case_id = open_case(svc)
    seen = svc.call("GET", f"/cases/{case_id}")
    form = svc.call("GET", f"/cases/{case_id}/closure")
    assert seen.headers["ETag"] == form.headers["ETag"] == f'"v{seen.get_json()["revision"]}"'
    assert form.get_json()["revision"] == seen.get_json()["revision"]
    before = counts(svc.platform)

    missing = svc.call("POST", f"/cases/{case_id}/closure", json_body=closure_body())
    assert missing.status_code == 428 and "If-Match" in missing.get_json()["message"]
    assert counts(svc.platform) == before

    etag = form.headers["ETag"]
    first = svc.call("POST", f"/cases/{case_id}/closure", json_body=closure_body(), headers={"If-Match": etag})
    assert first.status_code == 201, first.get_json()
    # The same submission again (a double click, a client's retry): refused, naming the case's version now.
    again = svc.call("POST", f"/cases/{case_id}/closure", json_body=closure_body(), headers={"If-Match": etag})
    assert again.status_code == 409
    current = svc.call("GET", f"/cases/{case_id}").get_json()["revision"]
    assert f"nå er den versjon {current}" in again.get_json()["message"]
    # In the caller's language, the version numbers kept (the texts were f-strings once, so never translated).
    english = {"If-Match": etag, "Accept-Language": "en"}
    again_en = svc.call("POST", f"/cases/{case_id}/closure", json_body=closure_body(), headers=english)
    assert again_en.status_code == 409
    assert f"now it is version {current}" in again_en.get_json()["message"]
    assert "The case" in again_en.get_json()["message"]
    missing_en = svc.call("POST", f"/cases/{case_id}/closure", json_body=closure_body(),
                          headers={"Accept-Language": "en"})
    assert missing_en.status_code == 428 and "expected_version" in missing_en.get_json()["message"]
    assert "Oppgi" not in missing_en.get_json()["message"]
    stale_field = svc.call("POST", f"/cases/{case_id}/closure",
                           json_body={**closure_body(), "expected_version": int(etag.strip('"v'))})
    assert stale_field.status_code == 409
    assert closure_versions(svc.platform, case_id) == [1]
    assert [e["type"] for e in outbox(svc.platform)].count("case.corrected") == 0

    # A correction is a deliberate act on the latest version: the field works as well as the header.
    corrected = svc.call("POST", f"/cases/{case_id}/closure",
                         json_body={**closure_body(attachment_after="temp_agency"), "expected_version": current})
    assert corrected.status_code == 201 and corrected.get_json()["version"] == 2
    assert closure_versions(svc.platform, case_id) == [1, 2]


def test_a_repeated_closure_with_the_same_idempotency_key_gets_the_first_answer(svc):
    case_id = open_case(svc)
    headers = {"If-Match": svc.call("GET", f"/cases/{case_id}/closure").headers["ETag"],
               "Idempotency-Key": "closure-once-1"}
    first = svc.call("POST", f"/cases/{case_id}/closure", json_body=closure_body(), headers=headers)
    repeat = svc.call("POST", f"/cases/{case_id}/closure", json_body=closure_body(), headers=headers)
    assert (first.status_code, repeat.status_code) == (201, 201)
    assert repeat.headers["Idempotent-Replayed"] == "true" and repeat.get_json() == first.get_json()
    assert closure_versions(svc.platform, case_id) == [1]


def test_two_identical_closures_at_the_same_time_make_one_version(svc):
    case_id = open_case(svc)
    etag = svc.call("GET", f"/cases/{case_id}/closure").headers["ETag"]
    start = threading.Barrier(2)

    def post():
        start.wait()
        return svc.call("POST", f"/cases/{case_id}/closure", json_body=closure_body(),
                        headers={"If-Match": etag}).status_code
    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(lambda _: post(), range(2)))
    assert statuses == [201, 409]
    assert closure_versions(svc.platform, case_id) == [1]
    assert [e["type"] for e in outbox(svc.platform)].count("case.closed") == 1


def test_openapi_declares_the_closure_preconditions(svc):
    operation = svc.client.get("/api/openapi.json").get_json()["paths"]["/api/v1/cases/{case_id}/closure"]["post"]
    assert {"201", "409", "428"} <= set(operation["responses"])
    assert "expected_version" in json.dumps(svc.client.get("/api/openapi.json").get_json()["components"]["schemas"])


def stored_draft(platform, case_id):
    with platform.engine.connect() as conn:
        return conn.execute(select(tables.cases.c.closure_draft).where(tables.cases.c.id == case_id)).scalar()


def test_a_closure_draft_takes_checked_dates_and_codes_only_and_is_stored_encrypted(svc):
    case_id = open_case(svc)
    hostile = svc.call("PUT", f"/cases/{case_id}/closure/draft", json_body={
        "industry": FNR, "closure_reason": NAME, "feedback_mentor": "x" * 1_000_000,
        "closed_on": "i morgen", "reasons": ["extra_follow_up", FNR], "success_criteria": {"natural_support": NAME}})
    assert hostile.status_code == 422
    errors = hostile.get_json()["errors"]
    assert {"industry", "closure_reason", "feedback_mentor", "closed_on", "reasons",
            "success_criteria.natural_support"} <= set(errors)
    answer = hostile.get_data(as_text=True)
    assert FNR not in answer and len(answer) < 5_000
    assert stored_draft(svc.platform, case_id) is None
    assert FNR not in svc.call("GET", f"/cases/{case_id}/closure").get_data(as_text=True)

    saved = svc.call("PUT", f"/cases/{case_id}/closure/draft", json_body={
        "closure_reason": "candidate_moved", "closed_on": "01.09.2026", "forms_mentor": ["phone"],
        "success_criteria": {"natural_support": "partly", "masters_tasks": ""}})
    assert saved.status_code == 200
    blob = stored_draft(svc.platform, case_id)
    assert isinstance(blob, bytes) and b"candidate_moved" not in blob and b"partly" not in blob
    form = svc.call("GET", f"/cases/{case_id}/closure").get_json()
    assert form["draft"] == {"closure_reason": "candidate_moved", "closed_on": "2026-09-01", "forms_mentor": ["phone"],
                             "success_criteria": {"natural_support": "partly"}}
    # The draft is the case's: an access request hands it out (privacy.export_cases), an erasure deletes its row.
    with svc.platform.engine.connect() as conn:
        exported = privacy.export_cases(conn, svc.platform, "kristiansand", [case_id])[0]
    assert exported["closure_draft"] == form["draft"]
