"""Bokmål (the default), nynorsk and English on every service's pages and API errors, with Flask-Babel.

The message ids are the bokmål texts themselves; one catalogue for the whole project lives in
shared/translations (extracted and compiled by scripts/translations.sh; the setup compiles it).

Which language: a page follows the language chosen with the header's switch, kept in the cookie `hybrid_sprak` on
the shared origin (path /), so the choice made on one service's page holds on every service's pages; without it,
bokmål. An API answer follows the request's Accept-Language (bokmål when it names none of the three).

marshmallow's English default messages are replaced by bokmål message ids (`Message`), translated when the error
is made, or at the latest when the error leaves in a response (`translate_messages`).
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, g, has_request_context, redirect, request
from flask_babel import Babel, get_locale, get_translations
from marshmallow import Schema, fields, validate

from shared import dates
from shared.text import N_, in_language, render
from shared.vocab import VOCABULARIES

LANGUAGES = {"nb": "Bokmål", "nn": "Nynorsk", "en": "English"}
DEFAULT_LANGUAGE = "nb"
LANGUAGE_COOKIE = "hybrid_sprak"
ONE_YEAR = 365 * 24 * 3600
TRANSLATIONS = Path(__file__).resolve().parents[1] / "translations"

language_blueprint = Blueprint("language", __name__)


def select_language() -> str:
    if request.path.startswith("/api/"):
        return request.accept_languages.best_match(LANGUAGES, default=DEFAULT_LANGUAGE)
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def current_language() -> str:
    return _request_language()[1] if has_request_context() else DEFAULT_LANGUAGE


def catalogue():
    """The request's catalogue (flask_babel's, loaded once per language and process): looked up once per request and
    kept in `g`, as a page asks for a hundred-odd texts and flask_babel resolves its context, domain and locale again
    at each (about 14 us each). The language is the request's (cookie or Accept-Language), fixed for its length."""
    return _request_language()[0] if has_request_context() else get_translations()


def _request_language() -> tuple:
    """(catalogue, language code) of the current request, found at its first text."""
    found = g.get("_hybrid_language")
    if found is None:
        locale = get_locale()
        found = g._hybrid_language = (get_translations(), str(locale) if locale is not None else DEFAULT_LANGUAGE)
    return found


def translate(text: str) -> str:
    """The current language's text for a message id (the text itself outside a request or without a translation);
    a Text (a domain's message with values) is translated by its id, then filled in; a Term (a label given in each
    language) is its label in the current language."""
    if not has_request_context():
        return text
    translations, language = _request_language()
    return render(text, translations.gettext, language)


def localized(labels: dict) -> str:
    """The reader's label from a {"nb", "nn", "en"} mapping (a vocabulary's code, a codebook text, a consent
    template's title): every page shows such labels through this, bokmål where a language's is missing."""
    return in_language(labels, current_language() if has_request_context() else DEFAULT_LANGUAGE)


def vocabulary_label(vocabulary: str, code) -> str:
    """A code of shared.vocab in the reader's language; a code the vocabulary does not have is shown as it is."""
    labels = VOCABULARIES[vocabulary].get(code)
    return localized(labels) if labels else code


def translate_messages(messages):
    """Every text in an error structure (a field's messages, nested per field or per index) in the current
    language: messages made outside the request (a schema's own, a module's constant) are translated here."""
    if isinstance(messages, str):
        # A schema defined before the defaults were replaced still holds marshmallow's English text.
        return translate(MARSHMALLOW_MESSAGES.get(messages, messages))
    if isinstance(messages, dict):
        return {key: translate_messages(value) for key, value in messages.items()}
    if isinstance(messages, list | tuple):
        return [translate_messages(item) for item in messages]
    return messages


@language_blueprint.post("/sprak")
def choose_language():
    """The header's language switch: keeps the choice in a cookie the whole origin sends, then back to the page."""
    chosen = request.form.get("sprak", "")
    target = request.form.get("neste", "")
    if not target.startswith("/") or target.startswith("//"):
        target = current_app.config["PUBLIC_URL"] + "/"
    response = redirect(target, code=303)
    if chosen in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, chosen, max_age=ONE_YEAR, path="/", httponly=True, samesite="Lax",
                            secure=current_app.extensions["platform"].settings.secure_cookies)
    return response


class Message(str):
    """A bokmål message id with placeholders, as marshmallow keeps it: formatting it in a request translates it
    first; formatted outside one (a validator's message made when its schema is defined), it stays a message id."""

    def format(self, *args, **kwargs):
        if has_request_context():
            return translate(str(self)).format(*args, **kwargs)
        return Message(str(self).format(*args, **kwargs))


# marshmallow's English defaults, by the English text, with the bokmål message id that replaces each.
MARSHMALLOW_MESSAGES = {
    "Missing data for required field.": N_("Feltet må fylles ut."),
    "Field may not be null.": N_("Feltet kan ikke være tomt (null)."),
    "Invalid value.": N_("Ugyldig verdi."),
    "Invalid input type.": N_("Ugyldig type."),
    "Invalid type.": N_("Ugyldig type."),
    "Unknown field.": N_("Ukjent felt."),
    "Not a valid boolean.": N_("Må være sann eller usann."),
    "Not a valid date.": N_("Ikke en gyldig dato."),
    '"{input}" cannot be formatted as a date.': N_("«{input}» kan ikke skrives som en dato."),
    "Not a valid {obj_type}.": N_("Ugyldig verdi for {obj_type}."),
    "Not a valid {awareness} {obj_type}.": N_("Ugyldig verdi for {obj_type} ({awareness})."),
    '"{input}" cannot be formatted as a {obj_type}.': N_("«{input}» kan ikke skrives som {obj_type}."),
    "Special numeric values (nan or infinity) are not permitted.": N_("NaN og uendelig er ikke tillatt."),
    "Not a valid email address.": N_("Ikke en gyldig e-postadresse."),
    "Must be one of: {choices}.": N_("Må være en av: {choices}."),
    "Not a valid IP address.": N_("Ikke en gyldig IP-adresse."),
    "Not a valid IP interface.": N_("Ikke et gyldig IP-grensesnitt."),
    "Not a valid IPv4 address.": N_("Ikke en gyldig IPv4-adresse."),
    "Not a valid IPv4 interface.": N_("Ikke et gyldig IPv4-grensesnitt."),
    "Not a valid IPv6 address.": N_("Ikke en gyldig IPv6-adresse."),
    "Not a valid IPv6 interface.": N_("Ikke et gyldig IPv6-grensesnitt."),
    "Not a valid integer.": N_("Ikke et gyldig heltall."),
    "Not a valid list.": N_("Må være en liste."),
    "Not a valid mapping type.": N_("Må være et objekt."),
    "Not a valid number.": N_("Ikke et gyldig tall."),
    "Number too large.": N_("Tallet er for stort."),
    "Not a valid string.": N_("Må være tekst."),
    "Not a valid utf-8 string.": N_("Teksten er ikke gyldig UTF-8."),
    "Not a valid period of time.": N_("Ikke en gyldig tidsperiode."),
    "{input!r} cannot be formatted as a timedelta.": N_("{input!r} kan ikke skrives som en tidsperiode."),
    "Not a valid tuple.": N_("Må være en liste med fast lengde."),
    "Not a valid URL.": N_("Ikke en gyldig URL."),
    "Not a valid UUID.": N_("Ikke en gyldig UUID."),
    "One or more of the choices you made was in: {values}.": N_("Ett eller flere av valgene er blant: {values}."),
    "One or more of the choices you made was not in: {choices}.": N_("Ett eller flere av valgene er ikke blant: "
                                                                      "{choices}."),
    "Must be equal to {other}.": N_("Må være lik {other}."),
    "Shorter than minimum length {min}.": N_("Kortere enn minste lengde {min}."),
    "Longer than maximum length {max}.": N_("Lengre enn største lengde {max}."),
    "Length must be between {min} and {max}.": N_("Lengden må være mellom {min} og {max}."),
    "Length must be {equal}.": N_("Lengden må være {equal}."),
    "Invalid input.": N_("Ugyldig verdi."),
    "String does not match expected pattern.": N_("Teksten har ikke riktig form."),
}
# Range builds its three messages from the comparison words when a schema is defined: the eight outcomes.
RANGE_WORDS = {"message_gte": "minst", "message_gt": "over", "message_lte": "høyst", "message_lt": "under"}
RANGE_MESSAGES = {"message_min": "Må være {min_op} {{min}}.", "message_max": "Må være {max_op} {{max}}.",
                  "message_all": "Må være {min_op} {{min}} og {max_op} {{max}}."}
RANGE_OUTCOMES = (
    N_("Må være minst {min}."), N_("Må være over {min}."), N_("Må være høyst {max}."), N_("Må være under {max}."),
    N_("Må være minst {min} og høyst {max}."), N_("Må være minst {min} og under {max}."),
    N_("Må være over {min} og høyst {max}."), N_("Må være over {min} og under {max}."),
)


def replace_marshmallow_messages() -> None:
    """Every field's and validator's default message and the schema's own two, as bokmål message ids. Once per
    process, before any schema is defined (shared.web imports this module first)."""
    for field_class in _subclasses(fields.Field):
        own = field_class.__dict__.get("default_error_messages")
        if own:
            field_class.default_error_messages = {key: Message(MARSHMALLOW_MESSAGES.get(text, text))
                                                  for key, text in own.items()}
    for validator_class in _subclasses(validate.Validator):
        for name, text in list(vars(validator_class).items()):
            if isinstance(text, str) and text in MARSHMALLOW_MESSAGES:
                setattr(validator_class, name, Message(MARSHMALLOW_MESSAGES[text]))
    for name, word in RANGE_WORDS.items():
        setattr(validate.Range, name, word)
    for name, text in RANGE_MESSAGES.items():
        setattr(validate.Range, name, Message(text))
    Schema._default_error_messages = {key: Message(MARSHMALLOW_MESSAGES[text])
                                      for key, text in Schema._default_error_messages.items()}


def _subclasses(cls):
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_subclasses(sub))
    return found


def register(app) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    Babel(app, locale_selector=select_language)
    # Templates' _() and {% trans %} through the request's catalogue, looked up once (flask_babel's own callables
    # look it up at every text).
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: catalogue().ugettext(s), ngettext=lambda s, p, n: catalogue().ungettext(s, p, n),
        newstyle=True, pgettext=lambda c, s: catalogue().upgettext(c, s),
        npgettext=lambda c, s, p, n: catalogue().unpgettext(c, s, p, n))
    app.register_blueprint(language_blueprint)
    app.jinja_env.policies["ext.i18n.trimmed"] = True  # a {% trans %} block's line breaks are not part of its id
    app.jinja_env.globals.update(languages=LANGUAGES, current_language=current_language, localized=localized,
                                 vocabulary_label=vocabulary_label)
    app.jinja_env.filters["translated"] = translate
    app.jinja_env.filters["date_field"] = dates.shown  # a date field's value as dd.mm.åååå, or as it was typed


replace_marshmallow_messages()
