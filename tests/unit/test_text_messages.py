"""A domain's message with values (shared.text.Text): it reads as the bokmål text, keeps its id and values through a
copy, and is rendered in another language by its id, a value that is a Text itself rendered too."""
from __future__ import annotations

import copy
import json
import pickle

from shared.text import Text, render

NYNORSK = {"Filen er for stor ({size}).": "Fila er for stor ({size}).", "{title} (eskalert)": "{title} (eskalert)",
           "Sluttskjema mangler": "Sluttskjema manglar"}


def test_a_text_reads_as_bokmal_and_renders_in_another_language_by_its_id():
    text = Text("Filen er for stor ({size}).", size="12 MB")
    assert text == "Filen er for stor (12 MB)." and json.dumps([text]) == '["Filen er for stor (12 MB)."]'
    assert render(text, lambda m: NYNORSK.get(m, m)) == "Fila er for stor (12 MB)."
    escalated = Text("{title} (eskalert)", title=Text("Sluttskjema mangler"))
    assert escalated == "Sluttskjema mangler (eskalert)"
    assert render(escalated, lambda m: NYNORSK.get(m, m)) == "Sluttskjema manglar (eskalert)"
    assert render("Sluttskjema mangler", lambda m: NYNORSK.get(m, m)) == "Sluttskjema manglar"


def test_a_copied_or_pickled_text_is_still_translatable():
    text = Text("Filen er for stor ({size}).", size="12 MB")
    for again in (copy.deepcopy(text), pickle.loads(pickle.dumps(text))):
        assert isinstance(again, Text) and again.message_id == text.message_id and again.values == {"size": "12 MB"}
        assert render(again, lambda m: NYNORSK.get(m, m)) == "Fila er for stor (12 MB)."
