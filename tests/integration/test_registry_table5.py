"""The report's table 5 per party (issue #18 point 5), on both databases for the registry: closures entered through
intake's API with contacts with the candidate and the mentor, relayed through the real broker, consumed by the
registry, and read back from `GET /registry/api/v1/tables/5` as counts, percentages and n for the candidate and
the mentor side by side. A closure of the old shape (no per-party answers, as outboxes and `registry rebuild` still
hold them) is accepted and counted as unknown for both parties, never as "no contact"."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from services.intake import tables as intake_tables
from services.intake.app import create_app as intake_app
from services.intake.testing import fake_national_id
from services.registry import demo, handlers, service, tables
from services.registry.app import create_app as registry_app
from shared.auth import mint_token
from shared.bus.consumer import drain
from shared.bus.relay import relay_pending
from shared.vocab import VOCABULARIES
from tests.fixtures.tokens import user_auth_header
from tests.integration.test_intake_api import closure_body, opening

SECRET = "table5-test-secret-" + "t" * 40

# Two kinds of case, five of each (every count 0, 5 or 10: nothing below the threshold of 5 to hide): A has
# contacts with both parties, B with the candidate only (the mentor's intensity and forms are then not asked).
KINDS = {
    "A": {"contacts": [("2026-06-03", "candidate", "phone"), ("2026-06-10", "candidate", "email"),
                       ("2026-08-20", "mentor", "at_company")],
          "answers": {"frequency_candidate": "weekly", "intensity_candidate": "mostly_beginning",
                      "forms_candidate": ["phone", "email"], "frequency_mentor": "monthly",
                      "intensity_mentor": "even", "forms_mentor": ["at_company"]}},
    "B": {"contacts": [("2026-07-01", "candidate", "phone")],
          "answers": {"frequency_candidate": "monthly", "intensity_candidate": "even", "forms_candidate": ["phone"],
                      "frequency_mentor": "never", "intensity_mentor": None, "forms_mentor": []}},
}


def _researcher(platform):
    token = mint_token(platform.settings, subject="rune-forsker", role="researcher", name="Test")
    return {"Authorization": f"Bearer {token}"}


def _row(table, group, code):
    return next(r for r in table["rows"] if r["group"] == group and r["code"] == code)


def test_table5_per_party_from_intakes_api_through_the_broker(bus_vhost, db_url, platform_factory, tmp_path,
                                                              monkeypatch):
    intake = platform_factory("intake", intake_tables.all_tables(), f"sqlite:///{tmp_path}/intake.db",
                              env=bus_vhost.env("intake"))
    client = intake_app(platform=intake).test_client()

    def call(method, path, body=None, headers=None):
        return client.open("/api/v1" + path, method=method, json=body,
                           headers={**user_auth_header(intake, "kari-veileder"), **(headers or {})})

    monkeypatch.setenv("REGISTRY_PSEUDONYM_SECRET", SECRET)
    registry = platform_factory("registry", tables.all_tables(), db_url, env=bus_vhost.env("registry"))
    number = 0
    for spec in KINDS.values():
        for _ in range(5):
            number += 1
            opened = call("POST", "/cases", opening(national_id=fake_national_id(500 + number)))
            assert opened.status_code == 201, opened.get_json()
            case_id = opened.get_json()["id"]
            for day, party, form in spec["contacts"]:
                logged = call("POST", f"/cases/{case_id}/contacts",
                              {"contact_date": day, "party": party, "form": form, "minutes": 20})
                assert logged.status_code == 201, logged.get_json()
            derived = call("GET", f"/cases/{case_id}/closure")
            values = derived.get_json()["values"]
            # the form's prefill is the per-party derivation from the log
            assert values["forms_candidate"] == sorted({f for _d, p, f in spec["contacts"] if p == "candidate"},
                                                       key=["phone", "email"].index)
            assert values["forms_mentor"] == [f for _d, p, f in spec["contacts"] if p == "mentor"]
            body = {k: v for k, v in closure_body(**spec["answers"]).items() if v is not None}
            closed = call("POST", f"/cases/{case_id}/closure", body, headers={"If-Match": derived.headers["ETag"]})
            assert closed.status_code == 201, closed.get_json()
            # consent is the consent service's: granted here straight into the registry
            handlers.process(registry, demo.consent_envelope("consent.granted", "kristiansand", case_id))
    assert relay_pending(intake) == 10 * 2 + sum(5 * len(spec["contacts"]) for spec in KINDS.values())
    stats = drain(registry, handlers.consumer_spec(), idle_seconds=0.5)
    assert stats.processed == 10 and stats.rejected == 0
    monkeypatch.delenv("REGISTRY_PSEUDONYM_SECRET")

    api = registry_app(platform=registry).test_client()
    table = api.get("/api/v1/tables/5", headers=_researcher(registry)).get_json()
    assert [p["code"] for p in table["parties"]] == ["candidate", "mentor"]
    assert [p["label"]["nb"] for p in table["parties"]] == ["Bruker", "Mentor"]
    assert table["totals"]["party_totals"] == [10, 10] and table["suppressed_mark"] is None
    expected = {  # (group, code): ([candidate, mentor] counts, [candidate, mentor] percent of n)
        ("frequency", "weekly"): ([5, 0], [50.0, 0.0]), ("frequency", "monthly"): ([5, 5], [50.0, 50.0]),
        ("frequency", "never"): ([0, 5], [0.0, 50.0]),
        ("intensity", "mostly_beginning"): ([5, 0], [50.0, 0.0]), ("intensity", "even"): ([5, 5], [50.0, 50.0]),
        ("intensity", "no_contact"): ([0, 5], [0.0, 50.0]), ("intensity", "unknown"): ([0, 0], [0.0, 0.0]),
        ("forms", "phone"): ([10, 0], [100.0, 0.0]), ("forms", "email"): ([5, 0], [50.0, 0.0]),
        ("forms", "at_company"): ([0, 5], [0.0, 50.0]), ("forms", "at_nav_office"): ([0, 0], [0.0, 0.0]),
    }
    for (group, code), (counts, percents) in expected.items():
        row = _row(table, group, code)
        assert (row["party_totals"], row["party_percents"]) == (counts, percents), (group, code)
    # Each block of a party adds up to n, but for the forms: several per case
    for group in ("frequency", "intensity"):
        assert [sum(r["party_totals"][k] for r in table["rows"] if r["group"] == group) for k in (0, 1)] == [10, 10]
    assert [sum(r["party_totals"][k] for r in table["rows"] if r["group"] == "forms") for k in (0, 1)] == [15, 5]
    # By office: Kristiansand's two columns are the sum's, every other office's are zero under an n of 0
    columns = [(c["code"], c["party"]) for c in table["columns"]]
    k = columns.index(("kristiansand", "candidate"))
    assert columns[k + 1] == ("kristiansand", "mentor")
    assert _row(table, "forms", "phone")["cells"][k:k + 2] == [10, 0]
    assert table["totals"]["cells"][k:k + 2] == [10, 10]
    # The same by county and by year, and as CSV with a column per party
    by_year = api.get("/api/v1/tables/5?by=period", headers=_researcher(registry)).get_json()
    assert by_year["columns"] == [{"code": "2026", "label": "2026", "party": "candidate"},
                                  {"code": "2026", "label": "2026", "party": "mentor"}]
    assert _row(by_year, "intensity", "no_contact")["cells"] == [0, 5]
    csv_text = api.get("/api/v1/tables/5?by=county&format=csv", headers=_researcher(registry)).get_data(as_text=True)
    header, *lines = csv_text.splitlines()
    assert "total_candidate" in header and "total_mentor_percent" in header
    assert any(line.startswith("forms,at_company,") for line in lines)


@pytest.fixture
def registry(platform_factory, db_url, monkeypatch):
    monkeypatch.setenv("REGISTRY_PSEUDONYM_SECRET", SECRET)
    return platform_factory("registry", tables.all_tables(), db_url)


def _old_shape_envelopes():
    """The report's 21 cases as intake sent them before table 5 per party: no per-party intensity or forms."""
    data = demo.load_cases()
    out = []
    for case in data["cases"]:
        out.append(demo.consent_envelope("consent.granted", case["office"], demo.case_id(case["case"])))
        envelope = demo.closure_envelope(case, data["defaults"])
        for name in ("intensity_candidate", "intensity_mentor", "forms_candidate", "forms_mentor"):
            del envelope["payload"]["contact"][name]
        out.append(envelope)
    return out


def test_an_old_shape_closure_is_accepted_and_counted_unknown_also_when_replayed_by_rebuild(registry):
    envelopes = _old_shape_envelopes()
    assert "intensity_mentor" not in envelopes[1]["payload"]["contact"]
    for envelope in envelopes:
        assert str(handlers.process(registry, envelope)) in ("granted", "accepted")

    def check():
        with registry.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(select(tables.closures)).mappings()]
        assert len(rows) == 21
        assert {(r["intensity_candidate"], r["intensity_mentor"], r["forms_candidate"], r["forms_mentor"])
                for r in rows} == {("unknown", "unknown", None, None)}
        table = registry_app(platform=registry).test_client().get(
            "/api/v1/tables/5?by=county", headers=_researcher(registry)).get_json()
        assert _row(table, "intensity", "unknown")["party_totals"] == [21, 21]
        assert _row(table, "intensity", "no_contact")["party_totals"] == [0, 0]
        assert all(_row(table, "forms", form)["party_totals"] == [0, 0] for form in ("phone", "at_company"))

    check()
    # The same events replayed from the outboxes by `registry rebuild`
    summary = handlers.rebuild(registry, handlers.read_events([[json.dumps(e, default=str) for e in envelopes]]))
    assert summary["tables"]["closures"] == 21
    check()


def test_release_files_carry_table5_per_party_with_unknown_as_missing(registry, tmp_path):
    """The release's cases table: forms_<party>__<code> 0/1 and intensity_<party> coded, in every format; a closure
    of the old shape has its per-party forms missing (never 0) and its intensity 'unknown'."""
    import math

    import pyreadstat
    for envelope in _old_shape_envelopes():
        handlers.process(registry, envelope)
    demo.seed_cohort(registry, 10)
    record = service.cut_release(registry, "admin")

    def read(name):
        path = tmp_path / name
        path.write_bytes(service.download(registry, record["id"], name, "rune-forsker"))
        return path
    cases = json.loads(read("cases.json").read_text(encoding="utf-8"))
    flags = [f"forms_{party}__{form}" for party in ("candidate", "mentor") for form in VOCABULARIES["contact_form"]]
    assert set(flags) | {"intensity_candidate", "intensity_mentor"} <= set(cases["columns"])
    old = [r for r in cases["rows"] if r["intensity_mentor"] == "unknown"]
    new = [r for r in cases["rows"] if r["intensity_mentor"] != "unknown"]
    assert len(old) == 21 and len(new) == 10
    assert all(r[flag] is None for r in old for flag in flags)
    assert all(r[flag] in ("0", "1") for r in new for flag in flags)
    assert any(r[flag] == "1" for r in new for flag in flags)
    book = json.loads(read("codebook.json").read_text(encoding="utf-8"))
    intensity = next(v for v in book["tables"]["cases"] if v["name"] == "intensity_candidate")
    assert {c["code"] for c in intensity["codes"]} == {"mostly_beginning", "even", "mostly_end", "no_contact",
                                                       "unknown"}
    frame, _meta = pyreadstat.read_sav(str(read("cases.sav")))
    by_row = dict(zip(frame["case_pseudonym"], frame["forms_mentor__phone"], strict=True))
    for row in cases["rows"]:
        value = by_row[row["case_pseudonym"]]
        expected = row["forms_mentor__phone"]
        assert math.isnan(value) if expected is None else int(value) == int(expected)
    ddi = read("ddi.xml").read_text(encoding="utf-8")
    assert 'name="forms_candidate__phone"' in ddi and 'name="intensity_mentor"' in ddi
