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


def test_the_case_answer_reads_its_forms_decisions_and_documents_at_once(consent):
    """GET /api/v1/cases/<id> (service.subject_view): the same statements for one signed form as for three, each
    form with its own decisions (by purpose) and its scan."""
    one, three = open_case(consent), open_case(consent)
    record(consent, one, "candidate", {"research_registration": "granted"})
    record(consent, three, "candidate", {"research_registration": "granted", "interviews": "refused"})
    record(consent, three, "mentor", {"interviews": "granted"}, name="Mona Mentor")
    record(consent, three, "employer", {"employer_survey": "granted", "interviews": "granted"}, name="Erik Leder")
    sent = []
    event.listen(consent.engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    counts, views = [], []
    with consent.engine.connect() as conn:
        service.subject_view(conn, service.deps_from_platform(consent), "kristiansand", case_id=one)  # warm
        for case_id in (one, three):
            sent.clear()
            views.append(service.subject_view(conn, service.deps_from_platform(consent), "kristiansand",
                                              case_id=case_id))
            counts.append(len(sent))
    assert counts[0] == counts[1]
    forms = {f["signer_role"]: f for f in views[1]["records"]}
    assert [(d["purpose"], d["decision"]) for d in forms["candidate"]["decisions"]] == [
        ("interviews", "refused"), ("research_registration", "granted")]
    assert [(d["purpose"], d["decision"]) for d in forms["employer"]["decisions"]] == [
        ("employer_survey", "granted"), ("interviews", "granted")]
    assert forms["mentor"]["signer_name"] == "Mona Mentor"
    assert all(len(f["documents"]) == 1 and f["documents"][0]["content_type"] == "application/pdf"
               for f in forms.values())
