"""Intake's Norwegian pages through the Flask test client (both databases): forms, error summaries, scoping."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from services.intake import service, tables
from services.intake.app import create_app
from services.intake.testing import enter_case, fake_national_id
from shared.auth import COOKIE_NAME
from tests.fixtures.tokens import user_auth_header, user_token

FNR = fake_national_id(77)


@pytest.fixture
def web(db_url, platform_factory):
    platform = platform_factory("intake", tables.all_tables(), db_url)
    app = create_app(platform=platform)
    client = app.test_client()

    def call(method, path, user="kari-veileder", data=None):
        return client.open(path, method=method, data=data, headers=user_auth_header(platform, user))
    call.platform, call.app = platform, app
    return call


NEW = {"national_id": FNR, "candidate_name": "Prøve Sidesen", "in_target_group": "yes", "in_follow_up_measure": "no",
       "opened_on": "2026-08-03", "entry_point": "course_start", "industry": "service", "initiator": "candidate",
       "attachment_before": "none", "counsellor_knew_company": "yes", "reasons": ["extra_training", "job_readiness"],
       "mentor_relation": "colleague", "mentor_name": "Mentor Sidesen"}


def test_open_case_page_shows_every_error_then_opens(web):
    bad = web("POST", "/saker/ny", data={**NEW, "national_id": "12345678901", "industry": "", "reasons": [],
                                         "counsellor_knew_company": ""})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert 'id="error-summary"' in html and "Skjemaet har 4 feil" in html
    for field in ("national_id", "industry", "reasons", "counsellor_knew_company"):
        assert f'href="#{field}"' in html and f'id="{field}-error"' in html
    # A label that is a question reads as one: no "?:" and no "Velg kjente veileder bedriften?."
    assert "Kjente veileder bedriften? Velg et svar.</a>" in html and "Bransje: Velg bransje.</a>" in html
    assert "?:" not in html and "?." not in html
    assert "Prøve Sidesen" in html  # what was typed is kept
    ok = web("POST", "/saker/ny", data=NEW)
    assert ok.status_code == 302
    case_url = ok.headers["Location"].split("?")[0]
    page = web("GET", case_url).get_data(as_text=True)
    assert "Prøve Sidesen" in page and "Saken er opprettet" not in page  # message only with ?melding
    listing = web("GET", "/", user="ola-veileder").get_data(as_text=True)
    assert "Prøve Sidesen" in listing
    assert web("GET", case_url, user="per-veileder").status_code == 404
    assert "Prøve Sidesen" not in web("GET", "/", user="per-veileder").get_data(as_text=True)


def test_case_list_page_shows_one_page_at_a_time_with_links_that_keep_the_filter(web, monkeypatch):
    from services.intake import service
    monkeypatch.setattr(service, "PAGE_SIZE", 2)
    for i in range(3):
        enter_case(web.platform, "kristiansand", "kari-veileder", {
            "opened_on": f"2026-08-0{i + 1}", "entry_point": "course_start", "industry": "retail",
            "initiator": "counsellor", "reasons": ["extra_follow_up"], "counsellor_knew_company": "no",
            "attachment_before": "none", "mentor_relation": "colleague", "candidate_name": f"Side Prøvesen {i}"},
            seed=80 + i)
    first = web("GET", "/?status=open").get_data(as_text=True)
    assert "Side Prøvesen 2" in first and "Side Prøvesen 1" in first and "Side Prøvesen 0" not in first
    assert "Viser 1–2 av 3 saker" in first and 'id="forrige-side"' not in first
    next_link = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    assert "status=open" in next_link and "side=2" in next_link
    second = web("GET", next_link).get_data(as_text=True)
    assert "Side Prøvesen 0" in second and "Side Prøvesen 2" not in second
    assert "Viser 3–3 av 3 saker" in second and 'id="neste-side"' not in second and 'id="forrige-side"' in second
    for odd in ("side=0", "side=x", "side=-1"):  # an odd page number shows the first page, like an odd status
        assert "Viser 1–2 av 3 saker" in web("GET", f"/?{odd}").get_data(as_text=True)
    assert "Viser 3–3 av 3 saker" in web("GET", "/?side=99").get_data(as_text=True)  # past the end: the last page


def test_job_specialist_is_refused_with_the_rule_named(web):
    response = web("POST", "/saker/ny", user="jonas-jobbspesialist", data={**NEW, "in_follow_up_measure": "yes"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "jobbspesialist" in html and "oppfølgingstiltak" in html


def test_contact_log_and_closure_page_with_error_at_the_field(web):
    result = enter_case(web.platform, "kristiansand", "kari-veileder", {
        "opened_on": "2026-08-03", "entry_point": "course_start", "industry": "retail", "initiator": "counsellor",
        "reasons": ["extra_follow_up"], "counsellor_knew_company": "no", "attachment_before": "none",
        "mentor_relation": "colleague"}, seed=5)
    case_id = result["case_id"]
    added = web("POST", f"/saker/{case_id}/kontakter", data={"contact_date": "2026-08-10", "party": "mentor",
                                                             "form": "phone", "minutes": "25", "note": "Internt"})
    assert added.status_code == 302
    bad = web("POST", f"/saker/{case_id}/kontakter", data={"contact_date": "2026-08-10", "party": "mentor",
                                                           "form": "fax", "minutes": "25"})
    assert bad.status_code == 422 and "Ukjent kode «fax»" in bad.get_data(as_text=True)
    page = web("GET", f"/saker/{case_id}/kontakter").get_data(as_text=True)  # the log's own page
    assert "Internt" in page and page.count(">25</td>") == 1

    assert 'id="til-avslutning"' in web("GET", f"/saker/{case_id}").get_data(as_text=True)


ONE_PAGE_FORM = {  # what the retired one-page closure form sent, hidden fields included
    "closed_on": "20.11.2026", "closure_reason": "measure_completed", "attachment_after": "work_training",
    "attached_same_company": "yes", "feedback_mentor": "satisfied", "feedback_counsellor": "satisfied",
    "industry": "retail", "initiator": "counsellor", "reasons": "extra_follow_up", "counsellor_knew_company": "no",
    "attachment_before": "none", "frequency_candidate": "less_than_monthly", "frequency_mentor": "less_than_monthly",
    "frequency_employer": "never", "intensity_candidate": "even", "forms_candidate": "phone",
    "intensity_mentor": "even", "forms_mentor": "phone", "duration": "3_6_months", "action": "submit",
    "list_version": "2026-1", "expected_version": "3",
    **{f"success_criteria.{c}": "achieved" for c in ("in_work_or_education", "natural_support", "masters_tasks",
                                                      "employer_satisfied", "plan_followed", "experience_shared")}}


def _one_page_case(web, seed):
    case_id = enter_case(web.platform, "kristiansand", "kari-veileder", {
        "opened_on": "2026-08-03", "entry_point": "course_start", "industry": "retail", "initiator": "counsellor",
        "reasons": ["extra_follow_up"], "counsellor_knew_company": "no", "attachment_before": "none",
        "mentor_relation": "colleague",
        "contacts": [{"contact_date": "2026-08-10", "party": "candidate", "form": "phone", "minutes": 20},
                     {"contact_date": "2026-08-12", "party": "mentor", "form": "phone", "minutes": 25}]},
        seed=seed)["case_id"]
    return case_id


def _draft(web, case_id):
    with web.platform.engine.connect() as conn:
        return service.closure_context(conn, web.platform, "kristiansand", case_id)["draft"]


def test_the_one_page_closure_address_lands_on_the_form_in_steps(web):
    case_id = _one_page_case(web, 9)
    landed = web("GET", f"/saker/{case_id}/avslutning")
    assert landed.status_code == 302 and landed.headers["Location"].endswith(f"/saker/{case_id}/sluttskjema/avslutning")
    assert web("GET", f"/saker/{case_id}/avslutning", user="per-veileder").status_code == 404  # another office
    assert web("POST", f"/saker/{case_id}/avslutning", user="per-veileder", data=ONE_PAGE_FORM).status_code == 404
    assert _draft(web, case_id) is None


def test_answers_sent_from_a_one_page_form_left_open_become_the_draft_and_are_sent_only_from_the_steps(web):
    case_id = _one_page_case(web, 10)
    with web.platform.engine.begin() as conn:  # the steps saved an answer the old page left blank
        service.save_draft(conn, web.platform, _actor(web), case_id,
                           {"closed_on": "2026-11-01", "industry": "construction"})
    sent = web("POST", f"/saker/{case_id}/avslutning", data={**ONE_PAGE_FORM, "industry": ""})
    assert sent.status_code == 302 and "melding=fra-en-side" in sent.headers["Location"]
    assert sent.headers["Location"].split("?")[0].endswith("/sluttskjema/oppsummering")  # every step answered
    assert closure_versions(web.platform, case_id) == []  # not sent: the check-answers page sends
    draft = _draft(web, case_id)
    assert draft["closed_on"] == "2026-11-20" and draft["feedback_mentor"] == "satisfied"  # typed on the old page
    assert draft["industry"] == "construction"  # a blank on the old page removes nothing
    assert draft["success_criteria"]["masters_tasks"] == "achieved"
    summary = web("GET", sent.headers["Location"]).get_data(as_text=True)
    assert "20.11.2026" in summary and "er lagret som utkast, men skjemaet er ikke sendt" in summary
    send = web("POST", f"/saker/{case_id}/sluttskjema/send", data=form_fields(summary, "send-form"))
    assert send.status_code == 302 and closure_versions(web.platform, case_id) == [1]
    # A correction left open on the old page, one answer changed: over the sent version's answers, not instead.
    corrected = web("POST", f"/saker/{case_id}/avslutning", data={"feedback_counsellor": "dissatisfied"})
    assert corrected.headers["Location"].split("?")[0].endswith("/sluttskjema/oppsummering")
    draft = _draft(web, case_id)
    assert draft["feedback_counsellor"] == "dissatisfied" and draft["closure_reason"] == "measure_completed"
    summary = web("GET", corrected.headers["Location"]).get_data(as_text=True)
    send = web("POST", f"/saker/{case_id}/sluttskjema/send", data=form_fields(summary, "send-form"))
    assert send.status_code == 302 and closure_versions(web.platform, case_id) == [1, 2]


def test_an_answer_the_draft_refuses_from_the_one_page_form_is_shown_as_typed_at_its_step(web):
    case_id = _one_page_case(web, 11)
    sent = web("POST", f"/saker/{case_id}/avslutning", data={**ONE_PAGE_FORM, "closed_on": "31.02.2026"})
    html = sent.get_data(as_text=True)
    assert sent.status_code == 422 and 'id="closed_on-error"' in html and 'href="#closed_on"' in html
    field = re.search(r'<input id="closed_on"[^>]*>', html, re.S).group(0)
    assert 'value="31.02.2026"' in field  # as typed
    assert "unntatt de som er merket her" in html
    draft = _draft(web, case_id)
    assert "closed_on" not in draft and draft["closure_reason"] == "measure_completed"  # the rest is saved
    # Criteria assessed against a list replaced since the page was shown are asked again on their step.
    stale = web("POST", f"/saker/{case_id}/avslutning", data={**ONE_PAGE_FORM, "list_version": "2025-1",
                                                              "feedback_counsellor": "dissatisfied"})
    assert stale.status_code == 422 and "Kriterielisten er byttet" in stale.get_data(as_text=True)
    assert 'id="closure-step"' in stale.get_data(as_text=True)
    draft = _draft(web, case_id)
    assert draft["feedback_counsellor"] == "dissatisfied" and draft["closed_on"] == "2026-11-20"
    assert closure_versions(web.platform, case_id) == []


def test_a_date_field_reads_dd_mm_yyyy_and_names_the_format_at_the_field(web):
    result = enter_case(web.platform, "kristiansand", "kari-veileder", {
        "opened_on": "2026-08-03", "entry_point": "course_start", "industry": "retail", "initiator": "counsellor",
        "reasons": ["extra_follow_up"], "counsellor_knew_company": "no", "attachment_before": "none",
        "mentor_relation": "colleague"}, seed=6)
    case_id = result["case_id"]
    form = web("GET", f"/saker/{case_id}/tiltak").get_data(as_text=True)
    field = re.search(r'<input id="from_date"[^>]*>', form, re.S).group(0)
    assert 'type="text"' in field and 'inputmode="numeric"' in field and 'autocomplete="off"' in field
    assert 'aria-describedby="from_date-hint"' in field and 'id="from_date-hint">dd.mm.åååå<' in form
    added = web("POST", f"/saker/{case_id}/tiltak", data={"measure": "mentor_subsidy", "from_date": "03.12.2026",
                                                          "to_date": "3.1.2027"})
    assert added.status_code == 302
    with web.platform.engine.connect() as conn:
        stored = conn.execute(select(tables.measures.c.from_date, tables.measures.c.to_date)).one()
    assert str(stored.from_date) == "2026-12-03" and str(stored.to_date) == "2027-01-03"
    assert "03.12.2026" in web("GET", f"/saker/{case_id}/tiltak").get_data(as_text=True)
    refused = web("POST", f"/saker/{case_id}/tiltak", data={"measure": "mentor_subsidy", "from_date": "2026-13-45"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'href="#from_date"' in html
    assert ('<p class="aksel-error-message aksel-label" id="from_date-error">'
            'Skriv datoen som dd.mm.åååå, for eksempel 03.12.2026.</p>') in html
    field = re.search(r'<input id="from_date"[^>]*>', html, re.S).group(0)
    assert 'value="2026-13-45"' in field and 'aria-invalid="true"' in field  # shown back as it was typed
    assert 'aria-describedby="from_date-hint from_date-error"' in field


def test_overview_and_admin_pages_by_role(web):
    assert web("GET", "/oversikt", user="lise-kontakt").status_code == 200
    assert web("GET", "/oversikt", user="kari-veileder").status_code == 403
    # The front page is the case list; whoever works elsewhere lands on their own home page, not on a 403.
    public = web.platform.settings.public_url
    for user, home in (("rune-forsker", "/registry/"), ("tone-fylke", "/notify/fylke"), ("admin", "/intake/admin")):
        landed = web("GET", "/", user=user)
        assert (landed.status_code, landed.headers["Location"]) == (302, public + home), user
    assert web("GET", "/admin", user="kari-veileder").status_code == 403
    enter_case(web.platform, "kristiansand", "kari-veileder", {
        "opened_on": "2026-08-03", "entry_point": "course_start", "industry": "retail", "initiator": "counsellor",
        "reasons": ["extra_follow_up"], "counsellor_knew_company": "no", "attachment_before": "none",
        "mentor_relation": "none"}, seed=6)
    # The project end is irreversible: the button first shows what will be sent, and sends nothing.
    asked = web("POST", "/admin", user="admin").get_data(as_text=True)
    assert "Bekreft prosjektslutt" in asked and "for 1 åpne saker ved 1 kontorer" in asked
    with web.platform.engine.connect() as conn:
        assert service.project_end_preview(conn, web.platform)["cases"] == 1  # still open: nothing was sent
    done = web("POST", "/admin", user="admin", data={"confirmed": "yes"})
    assert done.status_code == 200 and "for 1 pågående saker" in done.get_data(as_text=True)


def page_client(web, user="kari-veileder"):
    """A browser's way in: the sign-in cookie, so the forms' CSRF and `_form_token` fields count."""
    client = web.app.test_client()
    client.set_cookie(COOKIE_NAME, user_token(web.platform, user), path="/")
    return client


def form_fields(html, form_id):
    """The hidden fields of the rendered form `form_id`: what a browser sends back with the visible ones."""
    form = re.search(rf'<form\b[^>]*id="{form_id}"[^>]*>(.*?)</form>', html, re.S).group(1)
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def closure_versions(platform, case_id):
    with platform.engine.connect() as conn:
        return [row[0] for row in conn.execute(select(tables.closures.c.version).where(
            tables.closures.c.case_id == case_id).order_by(tables.closures.c.version))]


CLOSURE_DRAFT = {
    "closed_on": "2026-11-20", "closure_reason": "measure_completed", "attachment_after": "work_training",
    "attached_same_company": "yes", "feedback_mentor": "satisfied", "feedback_counsellor": "satisfied",
    "frequency_candidate": "never", "frequency_mentor": "never", "frequency_employer": "never",
    "duration": "3_6_months", "list_version": "2026-1",
    "success_criteria": {c: "achieved" for c in ("in_work_or_education", "natural_support", "masters_tasks",
                                                 "employer_satisfied", "plan_followed", "experience_shared")}}


def _actor(web, user="kari-veileder"):
    return service.Actor("kristiansand", user)


def test_a_double_click_on_the_check_answers_page_makes_one_closure_version(web):
    case_id = enter_case(web.platform, "kristiansand", "kari-veileder", {
        "opened_on": "2026-08-03", "entry_point": "course_start", "industry": "retail", "initiator": "counsellor",
        "reasons": ["extra_follow_up"], "counsellor_knew_company": "no", "attachment_before": "none",
        "mentor_relation": "colleague"}, seed=7)["case_id"]
    client = page_client(web)
    summary = f"/saker/{case_id}/sluttskjema/oppsummering"
    with web.platform.engine.begin() as conn:  # the steps' answers, as they save them
        service.save_draft(conn, web.platform, _actor(web), case_id, CLOSURE_DRAFT)
    rendered = form_fields(client.get(summary).get_data(as_text=True), "send-form")
    assert rendered["expected_version"] == "1" and rendered["_form_token"]
    first = client.post(f"/saker/{case_id}/sluttskjema/send", data=rendered)
    second = client.post(f"/saker/{case_id}/sluttskjema/send", data=rendered)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"] and "kvittering" in first.headers["Location"]
    assert closure_versions(web.platform, case_id) == [1]

    # The same page sent again from another rendering (a tab left open): the case has moved on, nothing is made.
    stale = {**rendered, "_form_token": "another-rendering"}
    refused = client.post(f"/saker/{case_id}/sluttskjema/send", data=stale)
    assert refused.status_code == 409 and "nå er den versjon 2" in refused.get_data(as_text=True)
    forged = {name: value for name, value in stale.items() if name != "expected_version"}
    assert client.post(f"/saker/{case_id}/sluttskjema/send", data={**forged,
                                                                   "_form_token": "a-third"}).status_code == 428
    assert closure_versions(web.platform, case_id) == [1]
    # A correction from the page shown now (its version is the current one) is made once.
    current = form_fields(client.get(summary).get_data(as_text=True), "send-form")
    assert current["expected_version"] == "2"
    assert client.post(f"/saker/{case_id}/sluttskjema/send", data=current).status_code == 302
    assert closure_versions(web.platform, case_id) == [1, 2]


def test_a_correction_in_steps_keeps_the_sent_answers_of_the_steps_it_does_not_change(web):
    case_id = _one_page_case(web, 12)
    with web.platform.engine.begin() as conn:
        service.save_draft(conn, web.platform, _actor(web), case_id, CLOSURE_DRAFT)
    summary = web("GET", f"/saker/{case_id}/sluttskjema/oppsummering").get_data(as_text=True)
    assert web("POST", f"/saker/{case_id}/sluttskjema/send", data=form_fields(summary, "send-form")).status_code == 302
    step = web("POST", f"/saker/{case_id}/sluttskjema/avslutning", data={
        "closed_on": "20.11.2026", "closure_reason": "measure_completed", "attachment_after": "work_training",
        "attached_same_company": "no"})
    assert step.status_code == 302
    draft = _draft(web, case_id)
    assert draft["attached_same_company"] == "no"  # the one answer changed
    assert draft["feedback_mentor"] == "satisfied" and draft["success_criteria"] == CLOSURE_DRAFT["success_criteria"]
    summary = web("GET", f"/saker/{case_id}/sluttskjema/oppsummering").get_data(as_text=True)
    assert web("POST", f"/saker/{case_id}/sluttskjema/send", data=form_fields(summary, "send-form")).status_code == 302
    assert closure_versions(web.platform, case_id) == [1, 2]


def test_a_double_submit_of_the_contact_form_logs_one_contact(web):
    case_id = enter_case(web.platform, "kristiansand", "kari-veileder", {
        "opened_on": "2026-08-03", "entry_point": "course_start", "industry": "retail", "initiator": "counsellor",
        "reasons": ["extra_follow_up"], "counsellor_knew_company": "no", "attachment_before": "none",
        "mentor_relation": "colleague"}, seed=8)["case_id"]
    client = page_client(web)
    rendered = form_fields(client.get(f"/saker/{case_id}/kontakter").get_data(as_text=True), "contact-form")
    contact = {"contact_date": "2026-08-10", "party": "mentor", "form": "phone", "minutes": "25", **rendered}
    first = client.post(f"/saker/{case_id}/kontakter", data=contact)
    second = client.post(f"/saker/{case_id}/kontakter", data=contact)
    assert first.status_code == second.status_code == 302 and first.headers["Location"] == second.headers["Location"]
    with web.platform.engine.connect() as conn:
        logged = conn.execute(select(func.count()).select_from(tables.contacts).where(
            tables.contacts.c.case_id == case_id)).scalar()
    assert logged == 1


def test_worklist_puts_the_overdue_sluttskjema_first_and_agrees_with_the_overview(web):
    """The counsellor's own open cases with what is next, most urgent first; 'overdue' is the overview's."""
    base = {"entry_point": "course_start", "industry": "retail", "initiator": "counsellor",
            "reasons": ["extra_follow_up"], "counsellor_knew_company": "no", "attachment_before": "none",
            "mentor_relation": "colleague"}
    today = web.platform.clock.today()

    def ago(days):
        return (today - timedelta(days=days)).isoformat()
    running = enter_case(web.platform, "kristiansand", "kari-veileder", {
        **base, "candidate_name": "Løpende Tiltaksen", "opened_on": ago(20),
        "measures": [{"measure": "mentor_subsidy", "from_date": ago(15), "to_date": None}],
        "contacts": [{"contact_date": ago(2), "party": "mentor", "form": "phone", "minutes": 10}]}, seed=31)
    due = enter_case(web.platform, "kristiansand", "kari-veileder", {
        **base, "candidate_name": "Snart Fristesen", "opened_on": ago(120),
        "measures": [{"measure": "mentor_subsidy", "from_date": ago(110), "to_date": ago(10)}],
        "contacts": [{"contact_date": ago(12), "party": "mentor", "form": "phone", "minutes": 10}]}, seed=32)
    overdue = enter_case(web.platform, "kristiansand", "kari-veileder", {
        **base, "candidate_name": "Forfalt Skjemasen", "opened_on": ago(200),
        "measures": [{"measure": "mentor_subsidy", "from_date": ago(190), "to_date": ago(60)}],
        "contacts": [{"contact_date": ago(70), "party": "mentor", "form": "phone", "minutes": 10}]}, seed=33)
    html = web("GET", "/").get_data(as_text=True)
    worklist = html.split('id="worklist"')[1].split("</table>")[0]
    order = [worklist.index(name) for name in ("Forfalt Skjemasen", "Snart Fristesen", "Løpende Tiltaksen")]
    assert order == sorted(order)
    assert f"Sluttskjema forfalt {(today - timedelta(days=30)).strftime('%d.%m.%Y')}" in worklist
    assert f"Sluttskjema forfaller {(today + timedelta(days=20)).strftime('%d.%m.%Y')}" in worklist
    assert f"Sak {overdue['case_id'][:8]}" in worklist
    needing = web("GET", "/?trenger=sluttskjema").get_data(as_text=True).split('id="worklist"')[1]
    assert "Løpende Tiltaksen" not in needing.split("</table>")[0] and "Snart Fristesen" in needing
    # One definition of overdue: the worklist's overdue cases are the overview's.
    with web.platform.engine.connect() as conn:
        listed = {str(i["id"]) for i in service.worklist(conn, web.platform, "kristiansand", "kari-veileder")
                  if i["rank"][0] == 0}
        assert listed == set(map(str, service.overdue_case_ids(conn, web.platform, "kristiansand")))
    assert running and due
