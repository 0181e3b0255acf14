"""Labels kept as data have bokmål, nynorsk and English (issue #16 point 5): every vocabulary code, every codebook
text, the registry tables' titles, the success criteria and the demo consent templates' titles, so a page in
nynorsk or English never falls back to bokmål for them. The research release files keep bokmål and English only."""
from __future__ import annotations

import json

import pytest

from services.intake.store import load_success_criteria
from services.registry.domain import codebook, reports, research_files
from shared.config import REPO_ROOT
from shared.text import Term, Text, render
from shared.vocab import VOCABULARIES, term

LANGUAGES = ("nb", "nn", "en")


def _missing(labels: dict) -> list[str]:
    return [lang for lang in LANGUAGES if not (isinstance(labels.get(lang), str) and labels[lang].strip())]


@pytest.mark.parametrize("vocabulary", sorted(VOCABULARIES))
def test_every_vocabulary_code_has_bokmal_nynorsk_and_english(vocabulary):
    missing = {code: _missing(labels) for code, labels in VOCABULARIES[vocabulary].items() if _missing(labels)}
    assert missing == {}


def test_the_codebook_has_every_text_in_three_languages():
    book = codebook.codebook(codebook.place_vocabularies(
        [{"code": "0301", "name": "NAV Oslo", "covered_by_research": True, "county_code": "03"}],
        [{"code": "03", "name": "Oslo"}]))
    missing = {column["name"]: _missing(column["description"]) for column in book["columns"]
               if _missing(column["description"])}
    missing |= {f"{column['name']}:{code['code']}": _missing(code) for column in book["columns"]
                for code in column.get("codes", []) if _missing(code)}
    missing |= {f"change:{code['code']}": _missing(code) for code in book["change_feed"]["codes"] if _missing(code)}
    assert missing == {}
    # a description in nynorsk is its own text, not the bokmål one filled in for a missing entry
    assert set(codebook.DESCRIPTIONS_NN) == set(codebook.EXPORT_COLUMNS)


def test_registry_table_titles_and_table_5_headings_have_three_languages():
    assert {t: _missing(reports.title(t)) for t in reports.DISTRIBUTIONS if _missing(reports.title(t))} == {}
    for labels in (*reports.PARTIES.values(), *reports.PARTY_GROUPS.values()):
        assert _missing(labels) == [], labels


def test_success_criteria_and_demo_consent_titles_have_three_languages():
    assert [c["code"] for c in load_success_criteria()["criteria"] if _missing(c)] == []
    with (REPO_ROOT / "deploy" / "data" / "consent_templates.json").open(encoding="utf-8") as file:
        templates = json.load(file)["templates"]
    assert [t["purpose"] for t in templates
            if _missing({"nb": t["title_nb"], "nn": t.get("title_nn"), "en": t.get("title_en")})] == []


def test_a_label_in_a_domain_message_is_shown_in_the_readers_language():
    message = Text("«{label}» kan ikke velges her.", label=term("contact_frequency", "weekly"))
    assert message == "«Ukentlig» kan ikke velges her."  # reads as bokmål where no reader is known
    assert render(message, lambda text: text, "nn") == "«Ukentleg» kan ikke velges her."
    assert render(term("contact_intensity", "mostly_beginning"), str, "en") == "Mostly at the beginning"
    assert isinstance(term("party", "employer"), Term)


def test_release_files_keep_bokmal_and_english_labels_only():
    layout = research_files.layout(codebook.place_vocabularies([], []))
    languages = {lang for variables in layout.values() for variable in variables
                 for labels in variable.codes.values() for lang in labels}
    assert languages == {"nb", "en"}
