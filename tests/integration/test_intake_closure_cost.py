"""What submitting a closure costs the database (issue #3's benchmark point rests on it), on SQLite and PostgreSQL:
one read of the case with its log and measures, then its writes, which PostgreSQL gets as one statement; both are
prepared statements there (planned once per connection)."""
import json

from sqlalchemy import event, select

from services.intake import tables
from tests.fixtures.tokens import user_auth_header
from tests.integration.test_intake_api import closure_body, open_case, svc  # noqa: F401  (svc is a fixture)


def test_a_closure_reads_once_and_writes_once_and_answers_the_record_as_sent(svc):  # noqa: F811
    case_id = open_case(svc)
    for contact in (("2026-06-05", "mentor", "phone", 30), ("2026-07-05", "candidate", "at_company", 20),
                    ("2026-08-01", "mentor", "phone", 10)):
        assert svc.call("POST", f"/cases/{case_id}/contacts", json_body=dict(zip(
            ("contact_date", "party", "form", "minutes"), contact, strict=True))).status_code == 201
    for measure in (("work_training", "2026-06-10", "2026-08-01"), ("mentor_subsidy", "2026-06-01", None)):
        assert svc.call("POST", f"/cases/{case_id}/measures", json_body=dict(zip(
            ("measure", "from_date", "to_date"), measure, strict=True))).status_code == 201
    # The token is minted before counting (minting reads the directory); the version is compared with the one the
    # locked read returns, so it costs no statement of its own.
    headers = {**user_auth_header(svc.platform, "kari-veileder"),
               "If-Match": svc.call("GET", f"/cases/{case_id}/closure").headers["ETag"]}
    seen = []
    event.listen(svc.platform.engine, "before_cursor_execute", lambda *args: seen.append(args[2].split()[0]))

    response = svc.client.post(f"/api/v1/cases/{case_id}/closure", json=closure_body(), headers=headers)

    assert response.status_code == 201, response.get_json()
    statements = [word for word in seen if word != "BEGIN"]
    if svc.platform.engine.dialect.name == "postgresql":
        assert statements == ["EXECUTE", "EXECUTE"]
    else:
        assert statements == ["SELECT", "INSERT", "UPDATE", "INSERT", "INSERT"]
    record = response.get_json()
    with svc.platform.engine.connect() as conn:
        sent = json.loads(conn.execute(select(tables.platform["outbox"].c.body)
                                       .where(tables.platform["outbox"].c.event_type == "case.closed")).scalar())
        stored = conn.execute(select(tables.closures.c.record)).scalar()
        case = conn.execute(select(tables.cases.c.state, tables.cases.c.revision, tables.cases.c.active_candidate)
                            .where(tables.cases.c.id == case_id)).one()
        history = conn.execute(select(tables.history.c.seq, tables.history.c.action)
                               .where(tables.history.c.case_id == case_id).order_by(tables.history.c.seq)).all()
    assert record == sent["payload"] == stored
    assert record["measures"] == [{"measure": "mentor_subsidy", "from_date": "2026-06-01", "to_date": None},
                                  {"measure": "work_training", "from_date": "2026-06-10", "to_date": "2026-08-01"}]
    assert record["contact"]["contacts_logged"] == 3 and record["contact"]["minutes_total"] == 60
    assert tuple(case) == ("closed", 7, None)
    assert history[-1] == (7, "closed") and len(history) == 7
