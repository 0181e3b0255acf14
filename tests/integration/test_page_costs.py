"""What the two pages a counsellor waits for cost per request (issue #19): the case page reads its own next step
from the case's rows, not the counsellor's whole worklist, and neither page's statements grow with the cases."""
import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event

from services.intake import service, tables
from services.intake.app import create_app
from services.intake.testing import enter_case
from tests.fixtures.tokens import user_auth_header

BASE = {"entry_point": "course_start", "industry": "retail", "initiator": "counsellor",
        "reasons": ["extra_follow_up"], "counsellor_knew_company": "no", "attachment_before": "none",
        "mentor_relation": "colleague"}


def _web(platform):
    client = create_app(platform=platform).test_client()
    headers = user_auth_header(platform, "kari-veileder")
    return lambda path: client.get(path, headers=headers)


@contextmanager
def _reads(engine):
    """Counts the statements sent and (PostgreSQL) the rows they return while the block runs."""
    seen = {"statements": 0, "rows": 0}

    def after(conn, cursor, statement, parameters, context, executemany):
        seen["statements"] += 1
        seen["rows"] += max(cursor.rowcount, 0)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield seen
    finally:
        event.remove(engine, "after_cursor_execute", after)


def _enter(platform, n, first_seed, today):
    for i in range(n):
        enter_case(platform, "kristiansand", "kari-veileder", {
            **BASE, "opened_on": (today - timedelta(days=90)).isoformat(),
            "measures": [{"measure": "mentor_subsidy", "from_date": (today - timedelta(days=80)).isoformat(),
                          "to_date": None}],
            "contacts": [{"contact_date": (today - timedelta(days=5)).isoformat(), "party": "mentor",
                          "form": "phone", "minutes": 10}]}, seed=first_seed + i)


def test_the_case_page_reads_the_same_however_many_cases_the_counsellor_has(pg_url, platform_factory):
    """The case page's next step comes from the case's own rows: 30 more cases of the same counsellor add no
    statement and no row to it (computing the whole worklist read every case's row, measures and contacts), and
    the worklist page stays at a fixed number of statements (no statement per case)."""
    platform = platform_factory("intake", tables.all_tables(), pg_url)
    get = _web(platform)
    today = platform.clock.today()
    case_id = enter_case(platform, "kristiansand", "kari-veileder", {**BASE, "opened_on": today.isoformat()},
                         seed=500)["case_id"]
    _enter(platform, 3, 600, today)
    costs = []
    for more in (0, 30):
        _enter(platform, more, 700, today)
        get(f"/saker/{case_id}")  # a warm connection, as in a running worker
        with _reads(platform.engine) as case_page:
            page = get(f"/saker/{case_id}")
        with _reads(platform.engine) as worklist:
            start = get("/")
        assert page.status_code == start.status_code == 200
        assert "Registrer tiltak" in page.get_data(as_text=True).split('id="neste-steg"')[1].split("</p>")[0]
        assert start.get_data(as_text=True).count('class="next-step"') == 4 + more
        costs.append((case_page["statements"], case_page["rows"], worklist["statements"]))
    assert costs[0] == costs[1], f"(case page statements, rows; worklist statements) 4 vs 34 cases: {costs}"


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.mark.parametrize("language", ["nb", "en"])
def test_the_case_page_says_what_is_next_in_the_worklists_words_for_every_kind(db_url, platform_factory, language):
    """One rule for what is next: for each kind the worklist knows (overdue, coming due, a draft, no mentor contact
    for a while, no measure, the rest), the case page says what the start page's worklist says for that case."""
    platform = platform_factory("intake", tables.all_tables(), db_url)
    client = create_app(platform=platform).test_client()
    client.set_cookie("hybrid_sprak", language)
    headers = user_auth_header(platform, "kari-veileder")
    today = platform.clock.today()

    def ago(days):
        return (today - timedelta(days=days)).isoformat()

    def case(seed, opened, measures=(), contacts=()):
        return enter_case(platform, "kristiansand", "kari-veileder", {
            **BASE, "opened_on": ago(opened),
            "measures": [{"measure": "mentor_subsidy", "from_date": ago(f), "to_date": t and ago(t)}
                         for f, t in measures],
            "contacts": [{"contact_date": ago(d), "party": p, "form": "phone", "minutes": 10} for d, p in contacts]},
            seed=seed)["case_id"]
    ids = [case(801, 200, [(190, 60)], [(70, "mentor")]),  # overdue
           case(802, 120, [(110, 10)], [(12, "mentor")]),  # coming due
           case(803, 60, [(50, None)], [(40, "candidate")]),  # no mentor contact for 60 days
           case(804, 5),  # no measure yet
           case(805, 20, [(15, None)], [(2, "mentor")])]  # the rest: log contacts
    draft = case(806, 20, [(15, None)], [(2, "mentor")])
    with platform.engine.begin() as conn:
        service.save_draft(conn, platform, service.Actor("kristiansand", "kari-veileder"), draft,
                           {"closure_reason": "measure_completed"})
    ids.append(draft)
    worklist = client.get("/", headers=headers).get_data(as_text=True).split('id="worklist"')[1].split("</table>")[0]
    rows = {m.group(1): _text(m.group(2)) for m in re.finditer(
        r'/saker/([0-9a-f-]{36})".*?<td class="next-step">(.*?)</td>', worklist, re.S)}
    assert set(rows) == set(ids)
    assert len(set(rows.values())) == len(ids)  # six kinds, six different texts
    for case_id in ids:
        page = client.get(f"/saker/{case_id}", headers=headers).get_data(as_text=True)
        assert _text(page.split('id="neste-steg">')[1].split("</p>")[0]) == rows[case_id]


def test_each_request_reads_its_own_language_though_the_catalogue_is_looked_up_once(db_url, platform_factory):
    """The catalogue is kept per request (shared.web.i18n.catalogue): one app answering requests in turn in
    English, nynorsk, bokmål and English again gives each its own language, in the template's texts and in the
    worklist's words translated in Python."""
    platform = platform_factory("intake", tables.all_tables(), db_url)
    client = create_app(platform=platform).test_client()
    headers = user_auth_header(platform, "kari-veileder")
    enter_case(platform, "kristiansand", "kari-veileder", {**BASE, "opened_on": platform.clock.today().isoformat()},
               seed=900)
    expected = {"en": ("My cases: what is next", "Register measures"),
                "nn": ("Sakene mine: kva er det neste", "Registrer tiltak"),
                "nb": ("Mine saker: hva er neste", "Registrer tiltak")}
    for language in ("en", "nn", "nb", "en"):
        client.set_cookie("hybrid_sprak", language)
        html = client.get("/", headers=headers).get_data(as_text=True)
        heading, next_step = expected[language]
        assert heading in html and next_step in html.split('class="next-step">')[1].split("</td>")[0], language
