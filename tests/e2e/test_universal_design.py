"""Universal design (issue #16), in Chromium against the whole system: every page each role may open passes axe-core
with zero violations at every impact level, and the checks axe cannot make hold on each of them (the menu, the
title, and tests/e2e/beyond_axe.py: tables, reflow at 320 px, 200 % zoom, text spacing, a keyboard-only pass).

The pages come from the access-matrix policy (tests/security/policy.py): every GET page rule a role is allowed is
visited, a rule with ids in its path at the first link to it found on the role's pages, so a new page is checked
without anyone listing it (a link answered by a redirect counts the page it lands on). Forms with errors and pages
after a success are added by hand below, as a person reaches them by the pages' buttons: among them the closure form
(a step sent with errors, the check-answers page, the receipt after sending) and a person's erasure with its receipt.
A page of the policy the walk does not reach fails the test unless REACHED_ONLY_AFTER names why. The suite prints
how many page states it checked.

In bokmål by default; `UI_LANGUAGES=nn,en` (scripts/languages.sh) walks the same pages with the language cookie set
to each, and a page state also fails where `<html lang>` is not that language or a bokmål text is still on the page:
a message id of the catalogue, or a label kept as data in each language (the vocabularies, the registry's codebook
and table titles, the consent templates' titles, the success criteria), whose nynorsk and English differ from it.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import date

import pytest
from babel.messages.pofile import read_po

from services.intake.store import load_success_criteria
from services.intake.testing import fake_national_id
from services.registry.domain.codebook import codebook
from services.registry.domain.reports import DISTRIBUTIONS, title
from shared.config import REPO_ROOT
from shared.vocab import VOCABULARIES
from shared.web import CSRF_COOKIE
from shared.web.i18n import LANGUAGE_COOKIE, TRANSLATIONS
from tests.e2e import beyond_axe
from tests.e2e.test_never_lose_work import _idle_timeout_passes, _through_sign_in
from tests.fixtures.system import sign_in
from tests.integration.test_consent_helpers import PNG
from tests.security.policy import POLICY

AXE_SOURCE = (REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")
ROLE_OF_USER = {
    "kari-veileder": "counsellor",
    "lise-kontakt": "local_contact",
    "tone-fylke": "county_contact",
    "rune-forsker": "researcher",
    "admin": "admin",
}
MOST_PAGES_PER_ROLE = 60
FOCUS_CONTRAST_MIN = 3.0
NATIONAL_ID = re.compile(r"\b\d{11}\b")
UI_LANGUAGES = os.environ.get("UI_LANGUAGES", "nb").split(",")
# A page of the policy the walk leaves out, and why; any other page it does not reach fails the test.
REACHED_ONLY_AFTER: dict[str, str] = {}
MIN_WORDS_OF_A_TELLING_TEXT = 3  # shorter ids ("Sak", "Mentor") are also names, codes or the same in nynorsk


def _bokmal_only_texts() -> list[re.Pattern]:
    """The bokmål texts that nynorsk and English both say differently, each as a whole-word pattern: on a page in
    nynorsk or English, one of them is a text left in bokmål. From the catalogue the texts of three words or more
    (shorter ids like "Sak" are also names and codes); every label kept as data in each language, whatever its
    length ("Ukentlig", "Rettelse")."""
    catalogs = {}
    for language in ("nn", "en"):
        with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as file:
            catalogs[language] = {m.id: m.string for m in read_po(file) if isinstance(m.id, str) and m.id}
    texts = {text for text in catalogs["nn"]
             if "{" not in text and "%(" not in text and len(text.split()) >= MIN_WORDS_OF_A_TELLING_TEXT
             and _differs({"nb": text, "nn": catalogs["nn"][text], "en": catalogs["en"].get(text)})}
    texts |= {labels["nb"] for labels in _labels_as_data() if _differs(labels)}
    return [re.compile(r"(?<!\w)" + re.escape(text) + r"(?!\w)") for text in sorted(texts)]


def bokmal_text(pattern: re.Pattern) -> str:
    """The text a pattern of _bokmal_only_texts looks for, for a failure message."""
    return re.sub(r"\\(.)", r"\1", pattern.pattern.removeprefix(r"(?<!\w)").removesuffix(r"(?!\w)"))


def _differs(labels: dict) -> bool:
    return bool(labels.get("nn") and labels.get("en") and labels["nn"] != labels["nb"] != labels["en"])


def _labels_as_data() -> list[dict]:
    """Every label the pages show from data kept in each language: the vocabularies' codes, the codebook's
    descriptions and codes, the registry tables' titles, the consent templates' titles, the success criteria."""
    book = codebook()
    labels = [labels for codes in VOCABULARIES.values() for labels in codes.values()]
    labels += [column["description"] for column in book["columns"]]
    labels += [code for column in book["columns"] for code in column.get("codes", [])]
    labels += book["change_feed"]["codes"] + [title(table_id) for table_id in DISTRIBUTIONS]
    with (REPO_ROOT / "deploy" / "data" / "consent_templates.json").open(encoding="utf-8") as file:
        labels += [{"nb": t["title_nb"], "nn": t.get("title_nn"), "en": t.get("title_en")}
                   for t in json.load(file)["templates"]]
    criteria = load_success_criteria()["criteria"]
    return labels + criteria


@dataclass
class Checked:
    language: str = "nb"
    bokmal_only: list[re.Pattern] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _page_rules(role: str) -> list[tuple[str, re.Pattern]]:
    """(public path pattern, regex) of every GET page the role may open, from the access-matrix policy."""
    rules = []
    for service, entries in POLICY.items():
        for (method, path), rule in entries.items():
            if method != "GET" or path.startswith("/api/") or "static" in path or rule.service_scope:
                continue
            if role not in rule.roles:
                continue
            public = f"/{service}{path}"
            pattern = re.escape(public)
            pattern = re.sub(r"<[^>]+>", "[^/?#]+", pattern.replace(r"\<", "<").replace(r"\>", ">"))
            rules.append((public, re.compile(pattern + r"$")))
    return rules


def _axe_violations(page) -> list[str]:
    page.evaluate(AXE_SOURCE)
    result = page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']})).violations
        .map(v => `${v.impact} ${v.id}: ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')}`)""")
    return result


def _check_without_axe(page, user_name: str) -> list[str]:
    """What axe cannot see on one page state: the menu marks the page, the title carries no personal data, the data
    tables have captions and row headers, the page reflows at 320 px and at 200 % zoom, text spacing clips no
    text, and the keyboard alone reaches every link, button and field with a visible focus (3:1) at each."""
    problems = []
    title = page.title()
    if user_name in title or NATIONAL_ID.search(title):
        problems.append(f"personal data in the title {title!r}")
    # A page in a menu entry's section (its path starts with the entry's) is marked; a role may also open pages
    # outside its menu (a researcher's notifications), which mark nothing.
    in_menu = page.evaluate("""() => Array.from(document.querySelectorAll('header nav a'))
        .some(a => location.pathname.startsWith(new URL(a.href).pathname))""")
    if in_menu and page.locator("header nav a[aria-current]").count() != 1:
        problems.append("the menu does not mark the current page (aria-current)")
    return problems + beyond_axe.check(page)


def _check_language(page, checked: Checked) -> list[str]:
    """The page is in the chosen language: <html lang> says so, and no bokmål text of the catalogue is left."""
    if checked.language == "nb":
        return []
    problems = []
    lang = page.evaluate("() => document.documentElement.lang")
    if lang != checked.language:
        problems.append(f"<html lang={lang!r}>, not {checked.language!r}")
    # A part marked as another language (a consent text kept only in bokmål, lang="nb": WCAG 3.1.2) is that
    # language's text, not one left untranslated; the rest must be in the page's language.
    text = " ".join(page.evaluate("""() => Array.from(document.querySelectorAll('body [lang]'))
        .filter(part => part.lang !== document.documentElement.lang)
        .reduce((text, part) => text.replace(part.innerText, ' '), document.body.innerText)""").split())
    left = [bokmal_text(bokmal) for bokmal in checked.bokmal_only if bokmal.search(text)]
    if left:
        problems.append(f"bokmål left: {left[:5]}")
    return problems


def _check_state(page, label: str, user_name: str, checked: Checked) -> None:
    violations = _axe_violations(page)
    problems = violations + _check_without_axe(page, user_name) + _check_language(page, checked)
    checked.states.append(label)
    checked.problems += [f"{label}: {problem}" for problem in problems]


@pytest.fixture(scope="module")
def demo_stack(stack):
    """The whole system with the demo data the local run loads (cases, consents, closures, notifications)."""
    stack.supervisor.seed_demo()
    return stack


@pytest.fixture
def a11y_page(chromium):
    # axe is injected into the page: the pages' Content-Security-Policy (script-src 'self') would refuse it.
    context = chromium.new_context(locale="nb-NO", bypass_csp=True, viewport=beyond_axe.DESKTOP)
    page = context.new_page()
    yield page
    context.close()


def _choose_language(page, base_url: str, language: str) -> None:
    """The header switch's cookie, as a person's earlier choice left it (bokmål: no cookie)."""
    if language != "nb":
        page.context.add_cookies([{"name": LANGUAGE_COOKIE, "value": language, "url": base_url + "/"}])


def _path(url: str, base_url: str) -> str:
    return url.removeprefix(base_url).split("?")[0].split("#")[0]


def _rule_of(rules, path: str) -> str | None:
    """The most specific rule a path matches: a literal segment wins over a placeholder (…/sluttskjema/kvittering is
    the receipt's rule, not the step's …/sluttskjema/<step>)."""
    matching = [public for public, pattern in rules if pattern.match(path)]
    return min(matching, key=lambda public: public.count("<"), default=None)


def _walk_role(page, base_url: str, user_id: str, checked: Checked) -> list[str]:
    """Every page of the role's policy: the plain ones directly, those with ids at the first link to them."""
    role = ROLE_OF_USER[user_id]
    rules = _page_rules(role)
    sign_in(page, base_url, user_id)
    user_name = page.locator("header .who").inner_text()
    pending = {public for public, _ in rules}
    queue = [base_url + public for public, _ in rules if "<" not in public]
    seen = set()
    while queue and len(seen) < MOST_PAGES_PER_ROLE:
        url = queue.pop(0)
        path = _path(url, base_url)
        matched = _rule_of(rules, path)
        if matched is None or matched not in pending or path in seen:
            continue
        seen.add(path)
        answer = page.goto(url)
        if answer is None or "text/html" not in answer.headers.get("content-type", ""):
            continue
        # A link may answer with a redirect (the closure form's start lands on its first open step): the page
        # checked is the one it landed on, so that page's rule is reached too.
        landed = _path(page.url, base_url)
        pending.discard(matched)
        pending.discard(_rule_of(rules, landed))
        _check_state(page, f"{user_id} {landed}", user_name, checked)
        links = page.evaluate("() => Array.from(document.querySelectorAll('main a[href]')).map(a => a.href)")
        queue += [link for link in links if link.startswith(base_url)]
    return sorted(pending)


@pytest.mark.parametrize("language", UI_LANGUAGES)
def test_every_page_of_every_role_passes_axe_and_the_checks_axe_cannot_make(demo_stack, a11y_page, capsys,
                                                                             language):
    page, base_url = a11y_page, demo_stack.base_url
    # Our origin, and the identity provider's for signing in (its login page is not ours to check).
    ours = (base_url, demo_stack.oidc_issuer, "data:")
    outside = []
    page.on("request", lambda request: outside.append(request.url) if not request.url.startswith(ours) else None)
    checked = Checked(language=language, bokmal_only=_bokmal_only_texts() if language != "nb" else [])
    beyond_axe.SPENT["seconds"] = 0.0
    _choose_language(page, base_url, language)

    page.goto(base_url + "/logg-inn")
    if page.url.startswith(base_url):  # the demo sign-in page; the identity provider's login page is not ours
        _check_state(page, "anonymous /logg-inn", "-", checked)
    page.goto(base_url + "/tilgjengelighet")
    _check_state(page, "anonymous /tilgjengelighet", "-", checked)

    unreached = {}
    for user_id in ROLE_OF_USER:
        page.context.clear_cookies()
        _choose_language(page, base_url, language)
        missing = set(_walk_role(page, base_url, user_id, checked))
        if "/intake/saker/<uid:case_id>/sluttskjema/kvittering" in missing:  # the counsellor and the local contact
            missing -= _closure_journey(page, base_url, user_id, checked)
        if user_id == "lise-kontakt":
            missing -= _erasure_journey(page, demo_stack, user_id, checked, UI_LANGUAGES.index(language))
        if missing:
            unreached[user_id] = sorted(missing)
        if user_id == "kari-veileder":
            _forms_with_errors_and_successes(page, base_url, user_id, checked)
            _forms_refused_and_kept(page, demo_stack, user_id, checked)

    unexplained = {user: [p for p in paths if p not in REACHED_ONLY_AFTER] for user, paths in unreached.items()}
    with capsys.disabled():
        print(f"\nuniversal design ({language}): {len(checked.states)} page states checked with axe and by hand; "
              f"not reached: {unreached} {REACHED_ONLY_AFTER or ''}; "
              f"the checks beyond axe took {beyond_axe.SPENT['seconds']:.0f} s")
    assert outside == [], f"requests leaving our origin: {outside[:10]}"
    assert checked.problems == [], "\n".join(checked.problems)
    assert not any(unexplained.values()), f"pages of the policy the walk did not reach: {unexplained}"


def _closure_journey(page, base_url: str, user_id: str, checked: Checked) -> set[str]:
    """The counsellor's central journey, as a person goes it: from an open case's «Fyll ut sluttskjemaet» the first
    step, sent empty (its error summary); from a closed case's «Rett sluttskjemaet» the check-answers page, sent
    (a correction, so each language's walk can send one on the same demo data), and the receipt after sending;
    then the retired one-page form's address (…/avslutning, no link in the product): a visit lands on the steps,
    and answers kept from it wait there on a page of their own until saved as the draft. Returns the policy's pages
    reached."""
    user_name = page.locator("header .who").inner_text()
    page.goto(base_url + "/intake/")
    cases = sorted(set(page.evaluate("""() => Array.from(document.querySelectorAll('main a[href*="/saker/"]'))
        .map(a => a.href.split(/[?#]/)[0])""")))
    open_case = next(url for url in cases if page.goto(url) and page.locator("#til-avslutning").count())
    page.click("#til-avslutning")
    page.wait_for_load_state()
    page.goto(open_case + "/sluttskjema/avslutning")
    page.fill("#closed_on", "")
    page.click("#fortsett")
    page.wait_for_load_state()
    assert page.locator("#error-summary").count() == 1, page.url
    _check_state(page, f"{user_id} closure step sent with errors", user_name, checked)

    closed_case = next(url for url in cases if page.goto(url) and page.locator("#rett-sluttskjema").count())
    page.click("#rett-sluttskjema")
    page.wait_for_load_state()
    assert page.url.split("?")[0].endswith("/sluttskjema/oppsummering"), page.url
    _check_state(page, f"{user_id} closure check-answers page", user_name, checked)
    page.click("#send")
    page.wait_for_load_state()
    assert "/sluttskjema/kvittering" in page.url and page.locator("#til-saker").count() == 1, page.url
    _check_state(page, f"{user_id} closure receipt after sending", user_name, checked)

    # The one-page form is retired (services/intake/README.md): its address lands on the steps. Answers sent from a
    # tab left open on it after the session ended (here: without the CSRF cookie) wait at that address until saved.
    old_page = closed_case + "/avslutning"
    page.goto(old_page)
    assert "/sluttskjema/" in page.url, page.url
    refused = page.request.post(old_page, form={"feedback_counsellor": "satisfied", "action": "submit"},
                                headers={"Referer": old_page})
    assert refused.status == 403, refused.status
    page.goto(old_page)
    assert page.locator("#lagre-svarene").count() == 1, page.url
    _check_state(page, f"{user_id} answers kept from the retired one-page closure form", user_name, checked)
    page.click("#lagre-svarene")
    page.wait_for_load_state()
    assert "/sluttskjema/" in page.url and page.locator("#melding").count() == 1, page.url
    _check_state(page, f"{user_id} closure form after the one-page form's answers were saved", user_name, checked)
    return {"/intake/saker/<uid:case_id>/sluttskjema/kvittering", "/intake/saker/<uid:case_id>/avslutning",
            "/intake/saker/<uid:case_id>/sluttskjema/<step>", "/intake/saker/<uid:case_id>/sluttskjema"}


def _erasure_journey(page, stack, user_id: str, checked: Checked, run: int) -> set[str]:
    """The local contact's erasure of a person, by the privacy page's buttons: the confirmation sent unconfirmed (its
    error), then confirmed, and the receipt. The person is one opened for it (through the API, as
    tests/e2e/test_privacy_browser.py does), a new one in each language's walk: the demo data stays as it was."""
    base_url = stack.base_url
    user_name = page.locator("header .who").inner_text()
    national_id = fake_national_id(93400 + run)
    counsellor = stack.sign_in("kari-veileder")
    opened = counsellor.post(stack.url("/intake/api/v1/cases"), timeout=10,
                             headers={"X-CSRF-Token": counsellor.cookies[CSRF_COOKIE]}, json={
        "national_id": national_id, "candidate_name": "Slett Universell", "in_target_group": "yes",
        "in_follow_up_measure": "no", "entry_point": "course_start", "industry": "retail",
        "initiator": "counsellor", "attachment_before": "none", "counsellor_knew_company": "no",
        "reasons": ["extra_follow_up"], "opened_on": date.today().isoformat(), "mentor_relation": "none"})
    assert opened.status_code == 201, opened.text
    page.goto(base_url + "/intake/personvern")
    page.fill("#national_id", national_id)
    page.click("#access-form button[type=submit]")
    page.wait_for_load_state()
    _check_state(page, f"{user_id} privacy access shown", user_name, checked)
    page.click("#erase-start-form button[type=submit]")
    page.wait_for_load_state()
    page.click("#erase-form button[type=submit]")  # not confirmed
    page.wait_for_load_state()
    assert page.locator("#confirm-error").count() == 1, page.url
    _check_state(page, f"{user_id} erasure not confirmed", user_name, checked)
    page.check("#confirm")
    page.click("#erase-form button[type=submit]")
    page.wait_for_load_state()
    assert "/personvern/sletting/" in page.url, page.url
    _check_state(page, f"{user_id} erasure receipt", user_name, checked)
    return {"/intake/personvern/sletting/<uid:request_id>"}


def _forms_with_errors_and_successes(page, base_url: str, user_id: str, checked: Checked) -> None:
    user_name = page.locator("header .who").inner_text()
    page.goto(base_url + "/intake/saker/ny")
    page.locator("main form button[type=submit]").last.click()
    page.wait_for_load_state()
    assert page.locator("#error-summary").count() == 1
    _check_state(page, f"{user_id} new case with errors", user_name, checked)

    page.goto(base_url + "/notify/")
    page.locator("main form[action$='/innstillinger'] button[type=submit]").click()
    page.wait_for_load_state()
    _check_state(page, f"{user_id} notification preferences saved", user_name, checked)


def _forms_refused_and_kept(page, stack, user_id: str, checked: Checked) -> None:
    """The pages of a form sent when the session could not carry it out (shared.web.keeping), as
    tests/e2e/test_never_lose_work.py reaches them: the refusal of a form that came without its CSRF cookie (a
    browser restart), the page after sign-in that fills the kept answers in again with its notice, and the same notice
    with a file to choose again on consent's case page, reached through an idle timeout. Each kept form is discarded
    by its own button afterwards, so the walk leaves nothing kept."""
    base_url = stack.base_url
    user_name = page.locator("header .who").inner_text()
    form_page = base_url + "/intake/saker/ny"
    page.goto(form_page)
    page.fill("#candidate_name", "Tatt Vare-Universell")
    page.check("input[name=reasons][value=extra_follow_up]")
    page.context.clear_cookies(name=CSRF_COOKIE)
    page.locator("main form button[type=submit]").last.click()
    page.wait_for_load_state()
    assert page.locator("#logg-inn-igjen").count() == 1, page.url
    _check_state(page, f"{user_id} form refused without its CSRF cookie", user_name, checked)
    page.click("#logg-inn-igjen")
    _through_sign_in(page, form_page, user_id)
    assert page.locator("#candidate_name").input_value() == "Tatt Vare-Universell"
    _check_state(page, f"{user_id} kept form filled in again after sign-in", user_name, checked)
    _discard_kept_form(page)

    page.goto(base_url + "/consent/")
    cases = page.evaluate("""() => Array.from(document.querySelectorAll('main a[href*="/saker/"]'))
        .map(a => a.href)""")
    case_page = next(url for url in cases if page.goto(url) and page.locator("#record-form #document").count())
    page.fill("#signer_name", "Ada Universell")
    page.set_input_files("#document", files=[{"name": "skann.png", "mimeType": "image/png", "buffer": PNG}])
    _idle_timeout_passes(page, (stack.data_dir / "session-key").read_text().strip())
    page.click("#record-form button[type=submit]")
    _through_sign_in(page, case_page.split("?")[0], user_id)
    assert page.locator("#tatt-vare-filer").count() == 1 and page.locator(".kept-file-hint").count() == 1
    _check_state(page, f"{user_id} kept consent form with a file to choose again", user_name, checked)
    _discard_kept_form(page)


def _discard_kept_form(page) -> None:
    with page.expect_navigation():
        page.locator("#tatt-vare form button[type=submit]").click()
    assert page.locator("#tatt-vare").count() == 0
