"""A consent template's title in the reader's language (issue #16 point 5): the templates page shows `title_nn` or
`title_en` where the version has it, else the bokmål title marked lang="nb"; a title translation may be added to a
stored version by loading the file again, a changed one is refused like a changed text."""
from __future__ import annotations

import io
import json
import re

import pytest
from sqlalchemy import select

from services.consent import service
from services.consent.domain import ConsentInvalid
from services.consent.schemas import TemplateSchema
from shared.web.i18n import LANGUAGE_COOKIE
from tests.integration.test_consent_helpers import count
from tests.integration.test_consent_pages import csrf, signed_in

V2 = {"purpose": "observation", "version": 2, "subject_kind": "case", "signer_roles": ["candidate", "counsellor"],
      "title_nb": "Samtykke til observasjon, andre versjon", "text_nb": "Ny tekst.", "valid_from": "2026-12-01",
      "expires_on": "2027-06-30"}


def _templates_page(consent, language):
    admin = signed_in(consent, "admin")
    admin.set_cookie(LANGUAGE_COOKIE, language)
    return admin, admin.get("/maler").get_data(as_text=True)


@pytest.mark.parametrize("language,title,bokmal", [
    ("nn", "Samtykke til intervju (to tidspunkt)", "Samtykke til intervju (to tidspunkter)"),
    ("en", "Consent to interviews (two points in time)", "Samtykke til intervju (to tidspunkter)"),
])
def test_the_templates_page_shows_the_title_in_the_readers_language(consent, language, title, bokmal):
    _admin, page = _templates_page(consent, language)
    assert f"<strong>{title}</strong>" in page
    assert bokmal not in page
    listed = page.split("<main", 1)[1]
    assert 'lang="nb"' not in listed  # every demo template's title and text in the reader's language


def test_a_title_without_a_translation_is_the_bokmal_one_marked_as_bokmal(consent):
    admin, _page = _templates_page(consent, "nn")
    response = admin.post("/maler", content_type="multipart/form-data", data={
        "csrf_token": csrf(admin, "/maler"),
        "templates": (io.BytesIO(json.dumps({"templates": [V2]}).encode()), "maler.json")})
    assert response.status_code == 200 and count(consent, "templates") == 6
    page = admin.get("/maler").get_data(as_text=True)
    assert re.search(r'<strong lang="nb">Samtykke til observasjon, andre versjon</strong>', page)
    assert "<strong>Samtykke til observasjon og opptak av samtalar</strong>" in page  # version 1 has its own


def test_a_missing_title_translation_can_be_added_but_a_given_one_not_changed(consent):
    with consent.engine.begin() as conn:
        service.load_templates(conn, [service_item(V2)], "admin", consent.clock.now())
        result = service.load_templates(conn, [service_item({**V2, "title_nn": "Samtykke til observasjon, andre "
                                                             "versjonen"})], "admin", consent.clock.now())
    assert result["added"] == [] and result["unchanged"] == [("observation", 2)]
    _admin, page = _templates_page(consent, "nn")
    assert "<strong>Samtykke til observasjon, andre versjonen</strong>" in page
    with pytest.raises(ConsentInvalid) as refused, consent.engine.begin() as conn:
        service.load_templates(conn, [service_item({**V2, "title_nn": "Ein annan tittel"})], "admin",
                               consent.clock.now())
    assert "ny versjon" in refused.value.errors["version"][0]


def service_item(item: dict) -> dict:
    """A file's item as the template schema loads it (dates as dates)."""
    return TemplateSchema().load(item)


def test_a_version_stored_without_a_text_translation_keeps_its_texts_when_the_file_gives_one(consent):
    """An install that stored the demo file's version 1 before its nynorsk text (and had consents signed on it): the
    file loads again as unchanged and the stored texts stay; a text given differently than stored is refused."""
    items = service.read_template_file(service.DEFAULT_TEMPLATES)
    observation = next(item for item in items if item["purpose"] == "observation" and item["version"] == 1)
    assert observation["text_nn"]  # the demo file's first version has its nynorsk text (fresh installs get it)
    templates = consent.tables["templates"]
    with consent.engine.begin() as conn:  # as stored before the file had it
        conn.execute(templates.update().where(templates.c.purpose == "observation").values(text_nn=None))
        result = service.load_templates(conn, items, "demo-seed", consent.clock.now())
        stored = conn.execute(select(templates.c.text_nn).where(templates.c.purpose == "observation")).scalar()
    assert result["added"] == [] and ("observation", 1) in result["unchanged"] and stored is None
    with pytest.raises(ConsentInvalid), consent.engine.begin() as conn:
        service.load_templates(conn, [{**observation, "text_en": "Another text."}], "admin", consent.clock.now())
