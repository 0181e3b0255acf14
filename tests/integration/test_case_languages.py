"""The start page, the case's home page and its parts in nynorsk and English (issue #16 point 5), through the Flask
test client: each page says <html lang> in the chosen language and has no text of the catalogue left in bokmål (the
check the browser suite makes in scripts/languages.sh, here in seconds), and what is next is in the language too."""
import html as html_lib
import re

import pytest
from sqlalchemy import select

from services.intake import tables
from services.intake.app import create_app
from services.intake.testing import enter_case
from shared.web.i18n import LANGUAGE_COOKIE
from tests.e2e.test_universal_design import _bokmal_only_texts
from tests.fixtures.tokens import user_auth_header

CASE = {"opened_on": "2026-08-03", "entry_point": "course_start", "industry": "retail", "initiator": "counsellor",
        "reasons": ["extra_follow_up"], "counsellor_knew_company": "no", "attachment_before": "none",
        "mentor_relation": "colleague",
        "measures": [{"measure": "mentor_subsidy", "from_date": "2026-08-10", "to_date": "2026-10-30"}],
        "contacts": [{"contact_date": "2026-08-10", "party": "mentor", "form": "phone", "minutes": 25}]}
# What is next, in the worklist's words (services.intake.service.worklist), as each begins in bokmål.
NEXT_STEP_BOKMAL = ("Sluttskjema forfal", "Fortsett på sluttskjemaet", "Ingen kontakt med mentor", "Registrer tiltak",
                    "Logg kontakter underveis")
PAGES = ("/", "/?melding=opprettet", "/?trenger=sluttskjema", "/?status=open", "/saker/{case}", "/saker/{case}/parter",
         "/saker/{case}/plan", "/saker/{case}/kontakter?melding=kontakt", "/saker/{case}/kontakter/{contact}",
         "/saker/{case}/kontakter/{contact}/slett", "/saker/{case}/tiltak", "/saker/{case}/tiltak/{measure}/slett",
         "/saker/{case}/overfor", "/saker/{case}/historikk")


def _text(page: str) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", body)).split())


@pytest.mark.parametrize("language", ["nn", "en"])
def test_the_case_pages_are_in_the_chosen_language(platform_factory, tmp_path, language):
    platform = platform_factory("intake", tables.all_tables(), f"sqlite:///{tmp_path}/intake.db")
    client = create_app(platform=platform).test_client()
    client.set_cookie(LANGUAGE_COOKIE, language)
    case_id = enter_case(platform, "kristiansand", "kari-veileder", CASE, seed=94)["case_id"]
    with platform.engine.connect() as conn:
        contact = conn.execute(select(tables.contacts.c.id).where(tables.contacts.c.case_id == case_id)).scalar()
        measure = conn.execute(select(tables.measures.c.id).where(tables.measures.c.case_id == case_id)).scalar()
    bokmal = _bokmal_only_texts()
    problems = []
    for page_path in PAGES:
        path = page_path.format(case=case_id, contact=contact, measure=measure)
        response = client.get(path, headers=user_auth_header(platform, "kari-veileder"))
        page = response.get_data(as_text=True)
        if response.status_code != 200 or f'<html lang="{language}"' not in page:
            problems.append(f"{path}: {response.status_code}, not a page in {language}")
            continue
        left = [text.pattern for text in bokmal if text.search(_text(page))]
        if left:
            problems.append(f"{path}: bokmål left: {left[:5]}")
    # What is next, on the case's home page and in the start page's worklist, is in the language too.
    home = client.get(f"/saker/{case_id}", headers=user_auth_header(platform, "kari-veileder")).get_data(as_text=True)
    start = client.get("/", headers=user_auth_header(platform, "kari-veileder")).get_data(as_text=True)
    next_steps = [_text(home.split('id="neste-steg"')[1].split("</p>")[0].split(">", 1)[1]),
                  _text(start.split('class="next-step"')[1].split("</td>")[0].split(">", 1)[1])]
    for next_step in next_steps:
        if not next_step or next_step.replace("Forfalt ", "").startswith(NEXT_STEP_BOKMAL):
            problems.append(f"what is next, not in {language}: {next_step!r}")
    # A mistake is named in the language too (the service's messages are message ids, translated on the page).
    wrong = client.post(f"/saker/{case_id}/tiltak", headers=user_auth_header(platform, "kari-veileder"), data={
        "measure": "mentor_subsidy", "from_date": "10.09.2026", "to_date": "01.09.2026"})
    expected = {"nn": "Til-datoen kan ikkje vere før frå-datoen.", "en": "The to date cannot be before the from date."}
    if wrong.status_code != 422 or expected[language] not in _text(wrong.get_data(as_text=True)):
        problems.append(f"the measure's date error, not in {language}: {wrong.status_code}")
    assert problems == []


# The closure form's contact step, as a nynorsk and an English reader sees its answers (the vocabularies' labels).
CONTACT_STEP_LABELS = {
    "nb": ("Ukentlig", "Ca. 1 gang per måned", "Mest i begynnelsen", "Like mye gjennom hele perioden", "På bedriften"),
    "nn": ("Ukentleg", "Om lag éin gong i månaden", "Mest i byrjinga", "Like mykje gjennom heile perioden",
           "På bedrifta"),
    "en": ("Weekly", "About once a month", "Mostly at the beginning", "Evenly through the period", "At the company"),
}


@pytest.mark.parametrize("language", ["nn", "en"])
def test_the_closure_steps_show_the_vocabularies_in_the_chosen_language(platform_factory, tmp_path, language):
    platform = platform_factory("intake", tables.all_tables(), f"sqlite:///{tmp_path}/intake.db")
    client = create_app(platform=platform).test_client()
    client.set_cookie(LANGUAGE_COOKIE, language)
    case_id = enter_case(platform, "kristiansand", "kari-veileder", CASE, seed=95)["case_id"]
    headers = user_auth_header(platform, "kari-veileder")
    pages = {step: client.get(f"/saker/{case_id}/sluttskjema/{step}", headers=headers)
             for step in ("kontakt", "avslutning", "vurdering")}
    assert {step: answer.status_code for step, answer in pages.items()} == dict.fromkeys(pages, 200)
    contact_step = _text(pages["kontakt"].get_data(as_text=True))
    for label in CONTACT_STEP_LABELS[language]:
        assert label in contact_step
    bokmal_left = [label for label in CONTACT_STEP_LABELS["nb"] if label in contact_step]
    assert bokmal_left == []
    # a code "other" without the report's "(describe)", and the success criteria in the language too
    expected = {"nn": ("Anna", "Brukaren er i arbeid eller utdanning ved avslutning", "Svært nøgd"),
                "en": ("Other", "The candidate is in work or education at closure", "Very satisfied")}[language]
    closing, assessing = (_text(pages[step].get_data(as_text=True)) for step in ("avslutning", "vurdering"))
    assert expected[0] in closing and "(beskriv)" not in closing and "(describe)" not in closing
    assert expected[1] in assessing and expected[2] in assessing
    assert "Brukeren er i arbeid" not in assessing and "Svært fornøyd" not in assessing
