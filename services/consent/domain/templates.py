"""Versioned templates: a stored version never changes (a changed text is a new version)."""
from __future__ import annotations

from shared.text import N_, Text

from .errors import ConsentInvalid

SUBJECT_KINDS = ("case", "person")
TEMPLATE_FIELDS = ("subject_kind", "signer_roles", "title_nb", "text_nb", "text_nn", "text_en", "valid_from",
                   "expires_on")


def check_unchanged(existing: dict, item: dict) -> None:
    """Loading a stored version again is fine only with the same content (signer roles in any order)."""
    same = all((existing[k] or None) == (item.get(k) or None) for k in TEMPLATE_FIELDS if k != "signer_roles") \
        and sorted(existing["signer_roles"]) == sorted(item["signer_roles"])
    if not same:
        raise ConsentInvalid({"version": [Text(
            N_("Versjon {version} av formålet {purpose} finnes allerede med annet innhold. En endret tekst må bli "
               "en ny versjon."), version=item["version"], purpose=item["purpose"])]})
