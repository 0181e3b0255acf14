"""Versioned templates: a stored version never changes (a changed text is a new version); only a title's
translation the version was stored without may be added later (the title names the form, the text is what was
signed). A text translation the version was stored without is neither added nor refused: the version keeps the
texts it was signed with, and the file may give it to installs that store the version for the first time."""
from __future__ import annotations

from shared.text import N_, Text

from .errors import ConsentInvalid

SUBJECT_KINDS = ("case", "person")
TEMPLATE_FIELDS = ("subject_kind", "signer_roles", "title_nb", "title_nn", "title_en", "text_nb", "text_nn",
                   "text_en", "valid_from", "expires_on")
TITLE_TRANSLATIONS = ("title_nn", "title_en")  # optional: a page shows the bokmål title where one is missing
TEXT_TRANSLATIONS = ("text_nn", "text_en")  # optional: a page shows the bokmål text, marked lang="nb", instead


def check_unchanged(existing: dict, item: dict) -> dict:
    """Loading a stored version again is fine only with the same content (signer roles in any order); a title
    translation the stored version lacks is returned, to be added ({column: title}); a text translation it lacks
    is left out (the stored texts stay)."""
    added = {k: item[k] for k in TITLE_TRANSLATIONS if not existing.get(k) and item.get(k)}
    left_out = {k for k in TEXT_TRANSLATIONS if not existing.get(k) and item.get(k)}
    same = all((existing[k] or None) == (item.get(k) or None) for k in TEMPLATE_FIELDS
               if k != "signer_roles" and k not in added and k not in left_out) \
        and sorted(existing["signer_roles"]) == sorted(item["signer_roles"])
    if not same:
        raise ConsentInvalid({"version": [Text(
            N_("Versjon {version} av formålet {purpose} finnes allerede med annet innhold. En endret tekst må bli "
               "en ny versjon."), version=item["version"], purpose=item["purpose"])]})
    return added
