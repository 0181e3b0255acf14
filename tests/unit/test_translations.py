"""Nynorsk and English are complete (issue #16 point 5): every message id the code and templates have today is in
both catalogues, translated, and no translation is a fuzzy guess."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

REPO = Path(__file__).resolve().parents[2]
TRANSLATIONS = REPO / "shared" / "translations"


@pytest.fixture(scope="module")
def extracted_ids(tmp_path_factory):
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run([str(Path(sys.executable).parent / "pybabel"), "extract", "-F", str(REPO / "babel.cfg"),
                    "-k", "N_", "-o", str(pot), str(REPO)], check=True, capture_output=True, cwd=REPO)
    with pot.open("rb") as file:
        return {message.id for message in read_po(file) if message.id}


@pytest.mark.parametrize("language", ["nn", "en"])
def test_every_message_is_translated(extracted_ids, language):
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as file:
        catalog = read_po(file, locale=language)
    translated = {message.id for message in catalog if message.id and message.string and not message.fuzzy}
    untranslated = sorted(extracted_ids - translated)
    assert not untranslated, f"{len(untranslated)} texts without a {language} translation " \
                             f"(bash scripts/translations.sh extract, then translate): {untranslated[:10]}"


@pytest.mark.parametrize("language", ["nn", "en"])
def test_a_choice_named_in_a_message_is_named_in_its_language(language):
    """A message that tells the reader which choice to pick («Mentortiltaket ble ikke tatt i bruk») names it as the
    choice reads in that language: the nynorsk or English translation holds no vocabulary label left in bokmål where
    that language's label differs (it would name a choice the form does not show)."""
    from shared.vocab import VOCABULARIES

    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as file:
        catalog = read_po(file, locale=language)
    labels = {labels["nb"] for codes in VOCABULARIES.values() for labels in codes.values()
              if labels.get(language) and labels[language] != labels["nb"] and len(labels["nb"].split()) > 1}
    left = sorted({(label, message.id) for message in catalog if isinstance(message.string, str)
                   for label in labels if label in message.string})
    assert not left, f"bokmål choices named in {language} messages: {left[:5]}"
