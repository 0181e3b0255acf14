"""A message id with its values, for layers that may not reach the web (a service's domain/): it reads as the
bokmål text, and shared.web.i18n.translate puts it in the reader's language where it leaves (a page, an API error).

    raise UploadRefused(Text(N_("Filen er for stor ({size})."), size="12 MB"))

`N_` marks the id for extraction (scripts/translations.sh) and returns it unchanged.
"""
from __future__ import annotations


def N_(text: str) -> str:
    """Marks a message id for extraction where it is translated later."""
    return text


class Text(str):
    """The bokmål text made from `message_id` and `values`; both are kept for translating it later."""

    message_id: str
    values: dict

    def __new__(cls, message_id: str, **values):
        text = super().__new__(cls, message_id.format(**values) if values else message_id)
        text.message_id, text.values = message_id, values
        return text

    def __reduce__(self):  # copied or pickled, it stays translatable
        return _rebuild, (self.message_id, self.values)


def _rebuild(message_id, values):
    return Text(message_id, **values)


class Term(str):
    """A label given in each language ({"nb": …, "nn": …, "en": …}: a vocabulary's code, a codebook text), for a
    layer that may not reach the web: it reads as the bokmål label, and `render` picks the reader's language."""

    labels: dict

    def __new__(cls, labels: dict):
        term = super().__new__(cls, labels["nb"])
        term.labels = dict(labels)
        return term

    def __reduce__(self):
        return Term, (self.labels,)


def in_language(labels: dict, language: str) -> str:
    """The label of `language` in a {language: label} mapping; the bokmål one where that language has none."""
    return labels.get(language) or labels["nb"]


def render(text: str, gettext, language: str = "nb") -> str:
    """`text` in the language of `gettext` (`language` its code): a Text by its id, with its values (a value that is
    a Text or a Term too, rendered the same way); a Term by its label; any other string is a message id."""
    if isinstance(text, Term):
        return in_language(text.labels, language)
    if isinstance(text, Text):
        return gettext(text.message_id).format(**{
            name: render(value, gettext, language) if isinstance(value, Text | Term) else value
            for name, value in text.values.items()})
    return gettext(text)
