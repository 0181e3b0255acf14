"""Done when: the report's 21 cases of table 1 entered THROUGH INTAKE (national IDs, names and organisation
numbers typed at the office), with research consent published by the consent service's broker user, travel over
the real bus (relay -> RabbitMQ -> registry consumer) and give, in the registry, one row per case with the same
codes and the report's summary 12 / 1 / 5 / 3 — with no national ID in any export and nothing from a guest office.
"""
from __future__ import annotations

import csv
import io
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from stdnum.no import fodselsnummer

from services.registry import demo, handlers
from services.registry import tables as registry_tables
from services.registry.app import create_app
from shared.auth import mint_token
from shared.bus.consumer import drain
from shared.bus.relay import relay_pending
from tests.fixtures.tokens import auth_header

SECRET = "e2e-secret-" + "q" * 40
STEP = {"daily": 1, "2_3_per_week": 3, "weekly": 7, "2_3_per_month": 14, "monthly": 30}


def contacts_for(party, code, start: date, end: date):
    """Logged contacts whose derived frequency (services.intake.domain.derive) is `code`."""
    if code in ("never", "employer_is_mentor"):
        return []
    if code == "only_at_start":
        days = [0, 3]
    elif code == "less_than_monthly":
        days = [20, 95]
    else:
        days = list(range(0, (end - start).days + 1, STEP[code]))
    return [{"contact_date": (start + timedelta(days=d)).isoformat(), "party": party, "form": "phone", "minutes": 20}
            for d in days if start + timedelta(days=d) <= end]


@pytest.mark.slow
def test_table1_through_intake_and_the_bus(platform_factory, pg_url, tmp_path, bus_vhost, monkeypatch):
    from services.consent import tables as consent_tables
    from services.intake import tables as intake_tables
    from services.intake.service import Actor, project_end, save_draft
    from services.intake.testing import enter_case

    monkeypatch.setenv("REGISTRY_PSEUDONYM_SECRET", SECRET)
    intake = platform_factory("intake", intake_tables.all_tables(), f"sqlite:///{tmp_path}/intake.db",
                              env=bus_vhost.env("intake"))
    consent = platform_factory("consent", consent_tables.all_tables(), f"sqlite:///{tmp_path}/consent.db",
                               env=bus_vhost.env("consent"))
    registry = platform_factory("registry", registry_tables.all_tables(), pg_url, env=bus_vhost.env("registry"))
    today = intake.clock.now().date()
    data = demo.load_cases()
    entered = {}
    for seed, case in enumerate(data["cases"], start=1):
        codes = case["codes"]
        ongoing = codes["closure_reason"] == "project_end"
        opened = today - timedelta(days=120) if ongoing else date.fromisoformat(case["opened_on"])
        closed = today if ongoing else date.fromisoformat(case["closed_on"])
        values = {"opened_on": opened.isoformat(), "entry_point": codes["entry_point"], "industry": codes["industry"],
                  "initiator": data["defaults"]["initiator"], "reasons": codes["reasons"],
                  "counsellor_knew_company": codes["counsellor_knew_company"],
                  "attachment_before": codes["attachment_before"], "mentor_relation": codes["mentor_relation"],
                  "measures": [{"measure": m, "from_date": opened.isoformat(),
                                "to_date": None if ongoing else closed.isoformat()} for m in codes["measures"]],
                  "contacts": (contacts_for("mentor", codes["frequency_mentor"], opened, closed)
                               + contacts_for("candidate", codes["frequency_candidate"], opened, closed)
                               + contacts_for("employer", codes["frequency_employer"], opened, closed))}
        if not ongoing:
            values["closure"] = {"closed_on": closed.isoformat(), "closure_reason": codes["closure_reason"],
                                 "attachment_after": codes["attachment_after"],
                                 "attached_same_company": codes["attached_same_company"],
                                 "feedback_mentor": "not_given", "feedback_counsellor": "not_given",
                                 "frequency_candidate": codes["frequency_candidate"],
                                 "frequency_mentor": codes["frequency_mentor"],
                                 "frequency_employer": codes["frequency_employer"], "duration": codes["duration"]}
        result = enter_case(intake, case["office"], case["counsellor_id"], values, seed=seed)
        if ongoing:  # "Ja fortsatt i mentortiltak": still running at project end; the counsellor's draft says so
            with intake.engine.begin() as conn:
                save_draft(conn, intake, Actor(case["office"], case["counsellor_id"]), result["case_id"],
                           {"attachment_after": codes["attachment_after"],
                            "attached_same_company": codes["attached_same_company"]})
        entered[case["case"]] = result
    assert project_end(intake, Actor("kristiansand", "admin"))["status_forms"] == 2

    # A guest office's case, closed and consented, must never reach the registry.
    guest = enter_case(intake, "drammen", "geir-veileder", {
        "opened_on": "2020-01-06", "entry_point": "course_start", "industry": "retail", "initiator": "counsellor",
        "reasons": ["extra_follow_up"], "counsellor_knew_company": "yes", "attachment_before": "none",
        "mentor_relation": "colleague",
        "closure": {"closed_on": "2020-06-01", "closure_reason": "measure_completed",
                    "attachment_after": "no_attachment", "attached_same_company": "no",
                    "feedback_mentor": "not_given", "feedback_counsellor": "not_given"}},
        seed=99)

    at = datetime(2026, 11, 1, tzinfo=UTC)
    with consent.engine.begin() as conn:
        for number, result in list(entered.items()) + [("guest", guest)]:
            office = "drammen" if number == "guest" else next(c["office"] for c in data["cases"] if c["case"] == number)
            consent.emit(conn, "consent.granted", office, {
                "case_id": result["case_id"], "purpose": "research_registration", "template_version": 1,
                "effective_at": at, "expires_on": None})

    # Closures first (they wait for consent), then the consents release them: the order a real office produces.
    assert relay_pending(intake) > 22
    spec = handlers.consumer_spec()
    drain(registry, spec, idle_seconds=1.0)
    with registry.engine.connect() as conn:
        assert conn.execute(registry_tables.waiting.select()).fetchall().__len__() == 21
    assert relay_pending(consent) == 22
    drain(registry, spec, idle_seconds=1.0)

    app = create_app(platform=registry)
    client = app.test_client()
    token = mint_token(registry.settings, subject="rune-forsker", role="researcher", name="Rune")
    headers = auth_header(token)
    text = client.get("/api/v1/exports/closures.csv", headers=headers).get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 21
    assert {r["office"] for r in rows} <= {"kristiansand", "bergen-vest", "malvik"}
    got = Counter((r["industry"], r["reasons"], r["counsellor_knew_company"], r["attachment_before"],
                   r["frequency_mentor"], r["frequency_candidate"], r["frequency_employer"], r["attachment_after"],
                   r["attached_same_company"]) for r in rows)
    want = Counter((c["codes"]["industry"], ";".join(sorted(c["codes"]["reasons"])),
                    c["codes"]["counsellor_knew_company"], c["codes"]["attachment_before"],
                    c["codes"]["frequency_mentor"], c["codes"]["frequency_candidate"],
                    c["codes"]["frequency_employer"], c["codes"]["attachment_after"],
                    c["codes"]["attached_same_company"])
                   for c in data["cases"])
    assert got == want
    assert Counter(r["outcome_summary"] for r in rows) == Counter(data["summary"])
    assert Counter(r["record_kind"] for r in rows) == {"closed": 19, "project_end": 2}
    outcome = client.get("/api/v1/tables/outcome?by=county", headers=headers).get_json()
    assert {r["code"]: r["total"] for r in outcome["rows"]}["same_company"] == 12

    # No national ID, name, org number or case id typed at the office survives into any export.
    exports = text + client.get("/api/v1/exports/closures.json", headers=headers).get_data(as_text=True)
    exports += client.get("/api/v1/changes", headers=headers).get_data(as_text=True)
    exports += client.get("/api/v1/tables/1?format=csv", headers=headers).get_data(as_text=True)
    for token_ in re.split(r"[^0-9A-Za-z]+", exports):
        assert not fodselsnummer.is_valid(token_)
    for result in list(entered.values()) + [guest]:
        assert result["national_id"] not in exports
        assert str(result["case_id"]) not in exports and result["candidate_hash"] not in exports
    with registry.engine.connect() as conn:
        log = conn.execute(registry_tables.log.select()
                           .where(registry_tables.log.c.office == "drammen")).mappings().all()
    assert {r["reason"] for r in log} == {"office_not_covered_by_research"}
