"""Consent's overview of a case (what intake's case page shows per purpose) reads the templates in force and the
decisions of all purposes at once (issue #19), and says per purpose exactly what the status of that one purpose says."""
from datetime import date

from sqlalchemy import event

from services.consent import service
from tests.integration.test_consent_helpers import consent_fixture, open_case, record  # noqa: F401 (fixture)


def test_the_overview_says_what_each_purposes_own_status_says_in_a_fixed_number_of_statements(consent):
    today = date(2026, 11, 25)
    cases = {"none signed": open_case(consent), "no mentor": open_case(consent, mentor_relation="none"),
             "no employer": open_case(consent, employer=False), "several": open_case(consent)}
    record(consent, cases["several"], "candidate", {"research_registration": "granted", "interviews": "granted",
                                                    "observation": "refused"})
    record(consent, cases["several"], "mentor", {"interviews": "granted"})
    record(consent, cases["no mentor"], "candidate", {"interviews": "granted", "research_registration": "refused"})
    sent = []
    event.listen(consent.engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    statements = set()
    with consent.engine.connect() as conn:
        for name, case_id in cases.items():
            subject = service.owned_subject(conn, "kristiansand", case_id=case_id)
            sent.clear()
            overview = service.overview(conn, subject.case, subject.key, today, "case")
            statements.add(len(sent))
            one_by_one = [service.evaluate(conn, subject.case, subject.key, e.purpose, today) for e in overview]
            assert [e.purpose for e in overview] == ["research_registration", "interviews", "employer_survey",
                                                     "observation"], name
            assert [(e.state, e.missing_roles, e.expires_on, e.template_version) for e in overview] == \
                [(e.state, e.missing_roles, e.expires_on, e.template_version) for e in one_by_one], name
    assert statements == {3}  # the purposes of the kind, the templates in force, the decisions
    states = {name: None for name in cases}
    with consent.engine.connect() as conn:
        for name, case_id in cases.items():
            subject = service.owned_subject(conn, "kristiansand", case_id=case_id)
            states[name] = [e.state for e in service.overview(conn, subject.case, subject.key, today, "case")]
    assert states["several"][:2] == ["granted", "missing"] and states["several"][3] == "refused"
    assert states["no mentor"][:2] == ["refused", "missing"]
